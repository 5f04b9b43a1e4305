"""The ``Idempotency-Key`` header at the API edge: a create retried with the same key
answers what the first one did instead of creating again (a robot whose bulk request
timed out cannot tell whether its 1,000 records were written)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, cast

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from ledgers.api.errors import retry_after_header
from ledgers.api.idempotency.exceptions import IdempotencyKeyInvalid
from ledgers.api.idempotency.services import idempotency_claim, idempotency_complete

HEADER = "Idempotency-Key"
#: Printable ASCII without spaces: UUIDs, ULIDs, a robot's job and row numbers.
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")

REPLAYED_HEADER = "Idempotent-Replayed"
#: The request header and the answer's, for ``extend_schema(parameters=...)``.
IDEMPOTENCY_PARAMETERS = [
    OpenApiParameter(
        HEADER, str, location=OpenApiParameter.HEADER, required=False,
        pattern=r"^[!-~]{1,255}$",
        description="再送防止キー（任意、職員アカウントごと、既定で 24 時間有効）。同じキーで"
        "同じ内容を送り直すと、登録し直さずに最初の要求が登録した記録を返します（一括登録は"
        "最初の応答のまま。1件の登録は、今その記録を閲覧できるときは今の内容、できないときは"
        "最初の応答から値を除いたもの）。処理中なら 409、別の内容なら 422。",
    ),
    OpenApiParameter(
        REPLAYED_HEADER, str, location=OpenApiParameter.HEADER, response=[201], enum=["true"],
        description="再送防止キーによる再送への応答であること（新たには登録していません）。",
    ),
    # 409 ERROR_IDEMPOTENCY_KEY_IN_PROGRESS says when to send it again.
    retry_after_header(409),
]  # fmt: skip


def request_idempotency_key(request: Request) -> str | None:
    """The request's key, ``None`` without the header; ``IdempotencyKeyInvalid`` if malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _KEY_RE.fullmatch(raw):
        raise IdempotencyKeyInvalid()
    return raw


def idempotent_create(
    request: Request,
    *,
    write: Callable[[], tuple[Response, Any]],
    replay: Callable[[int, Any], Response],
) -> Response:
    """Run ``write`` (which answers its response and what to keep of it: ids and
    generations) once per key: with ``Idempotency-Key``, in one transaction with the key's
    claim; a retry with the key gets ``replay(status, kept)`` instead. Without the header,
    ``write`` alone."""
    key = request_idempotency_key(request)
    if key is None:
        return write()[0]
    # The raw body, read before the parsers take the stream: a retry sends the same bytes.
    digest = hashlib.sha256(request._request.body).hexdigest()
    with transaction.atomic():
        claim = idempotency_claim(
            actor=request.user, key=key, target=f"{request.method} {request.path}"[:300],
            body_sha256=digest,
        )  # fmt: skip
        if claim.replay:  # a replayed claim always holds the status its request answered
            response = replay(cast(int, claim.status), claim.result)
            response[REPLAYED_HEADER] = "true"
            return response
        response, kept = write()
        idempotency_complete(claim=claim, status=response.status_code, result=kept)
    return response
