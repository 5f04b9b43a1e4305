"""Domain errors of webhooks, mapped at the API edge like every ``LedgerError``."""

from __future__ import annotations

from ledgers.exceptions import LedgerError


class WebhookNotFound(LedgerError):
    code = "ERROR_WEBHOOK_DOES_NOT_EXIST"
    status = 404

    def __init__(self) -> None:
        super().__init__("Webhook が見つかりません。")


class WebhookInvalid(LedgerError):
    """The subscription's settings are not valid; nothing changed."""

    code = "ERROR_WEBHOOK_INVALID"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        lines = [f"{key}: {msg}" for key, msgs in errors.items() for msg in msgs]
        super().__init__(
            "Webhook の設定に誤りがあります。\n" + "\n".join(lines), detail={"errors": errors}
        )
        self.errors = errors


class WebhookUrlRefused(LedgerError):
    """The URL may not receive deliveries: not https (or http where allowed), another port,
    or a private/internal address.

    ``reason`` is stable for programs: ``scheme``, ``port``, ``host``, ``credentials``,
    ``private_address`` (an IP address or ``localhost``: what was typed), and at delivery
    only ``no_public_address`` (the name does not resolve, or not to public addresses
    only: one reason for both, so that the log tells nothing of internal names).
    """

    code = "ERROR_WEBHOOK_URL_REFUSED"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, detail={"reason": reason})
        self.reason = reason
