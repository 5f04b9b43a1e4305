"""Domain errors of the ledger engine, each with a stable code for the API edge.

Messages are Japanese: staff read them. ``detail`` carries what a client needs to show
the problem next to the right input (field keys, row numbers, generations).
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ERROR_LEDGER"
    status = 400

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class DefinitionInvalid(LedgerError):
    """A ledger definition (fields, layout, search screens) is not valid; nothing changed."""

    code = "ERROR_DEFINITION_INVALID"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        lines = [f"{where}: {msg}" for where, msgs in errors.items() for msg in msgs]
        super().__init__(
            "台帳の定義に誤りがあります。\n" + "\n".join(lines), detail={"errors": errors}
        )
        self.errors = errors


class LedgerNotFound(LedgerError):
    code = "ERROR_LEDGER_DOES_NOT_EXIST"
    status = 404


class RecordInvalid(LedgerError):
    """Values do not fit the ledger's fields; nothing was written.

    ``errors`` maps field keys to messages; for bulk writes ``item_errors`` maps the item's
    index to such a mapping. ``refused_references``: the references refused for naming a
    record missing or out of the writer's sight (``ledgers.records.references.
    ReferencesRefused``), which the API's edge audits as ``record.refused`` once the write
    has rolled back; no part of the answer (a hidden record answers as a missing one).
    """

    code = "ERROR_RECORD_INVALID"

    def __init__(
        self,
        errors: dict[str, list[str]] | None = None,
        *,
        item_errors: dict[int, dict[str, list[str]]] | None = None,
        refused_references: Any = None,
    ) -> None:
        self.errors = errors or {}
        self.item_errors = item_errors or {}
        self.refused_references = refused_references
        if self.item_errors:
            message = f"{len(self.item_errors)}件の記録に誤りがあるため、1件も登録していません。"
            detail: dict[str, Any] = {"items": {str(i): e for i, e in self.item_errors.items()}}
        else:
            lines = [f"{key}: {msg}" for key, msgs in self.errors.items() for msg in msgs]
            message = "入力内容に誤りがあります。\n" + "\n".join(lines)
            detail = {"errors": self.errors}
        super().__init__(message, detail=detail)


class RecordNotFound(LedgerError):
    code = "ERROR_RECORD_DOES_NOT_EXIST"
    status = 404

    def __init__(self) -> None:
        super().__init__("記録が見つかりません。")


class VersionNotFound(LedgerError):
    code = "ERROR_VERSION_DOES_NOT_EXIST"
    status = 404

    def __init__(self, generation: int) -> None:
        super().__init__(f"第{generation}世代はありません。", detail={"generation": generation})


class DefinitionChanged(LedgerError):
    """The ledger's definition changed while a write validated against the previous one."""

    code = "ERROR_DEFINITION_CHANGED"
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "台帳の定義が変更されました。最新の定義を読み込み直してから入力してください。"
        )


class GenerationConflict(LedgerError):
    """The record changed since the caller read it (optimistic concurrency); nothing written."""

    code = "ERROR_GENERATION_CONFLICT"
    status = 412

    def __init__(self, *, expected: int, actual: int) -> None:
        super().__init__(
            f"この記録は他の操作で更新されています（読み込んだ世代: {expected}、現在の世代: {actual}）。"
            "最新の内容を読み込み直してください。",
            detail={"expected_generation": expected, "current_generation": actual},
        )


class VersionConflict(LedgerError):
    """An administrative document (a ledger's definition, its grants, a department, a staff
    member) changed since the caller read it: its ``If-Match`` names another version
    (``ledgers.tags``); nothing written."""

    code = "ERROR_VERSION_CONFLICT"
    status = 412
    DOCUMENTS = {
        "ledger": "この台帳の定義",
        "grants": "この台帳の権限",
        "department": "この課",
        "staff": "この職員",
    }

    def __init__(self, document: str, *, current: str) -> None:
        super().__init__(
            f"{self.DOCUMENTS[document]}は他の操作で変更されています。"
            "最新の内容を読み込み直してから、もう一度変更してください。",
            detail={"document": document, "current_etag": f'"{current}"'},
        )


class RecordStateError(LedgerError):
    """The operation does not fit the record's state (e.g. updating a deleted record)."""

    code = "ERROR_RECORD_STATE"
    status = 409


class AccessDenied(LedgerError):
    """The actor may not do this (the ledger is visible to them, the action is not)."""

    code = "ERROR_PERMISSION_DENIED"
    status = 403

    def __init__(
        self, message: str = "この操作を行う権限がありません。", *, capability: str = ""
    ) -> None:
        super().__init__(message, detail={"capability": capability} if capability else {})
