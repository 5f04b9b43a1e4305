"""The API's error shape, If-Match and ETag: ``{"code", "message", "detail"}`` everywhere."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledgers.api.numbers import ascii_whole_number
from ledgers.exceptions import LedgerError, RecordInvalid
from ledgers.records.references import references_refused_audit
from tenants.exceptions import TenantError

_DRF_CODES: list[tuple[type[Exception], str, str]] = [
    (exceptions.NotAuthenticated, "ERROR_NOT_AUTHENTICATED", "認証が必要です。"),
    (exceptions.AuthenticationFailed, "ERROR_NOT_AUTHENTICATED", "認証に失敗しました。"),
    (exceptions.PermissionDenied, "ERROR_PERMISSION_DENIED", "この操作を行う権限がありません。"),
    (exceptions.NotFound, "ERROR_NOT_FOUND", "見つかりません。"),
    (exceptions.MethodNotAllowed, "ERROR_METHOD_NOT_ALLOWED", "このメソッドは使えません。"),
    (
        exceptions.NotAcceptable,
        "ERROR_NOT_ACCEPTABLE",
        "この形式では応答できません。応答は JSON です（Accept: application/json）。",
    ),
    (
        exceptions.UnsupportedMediaType,
        "ERROR_UNSUPPORTED_MEDIA_TYPE",
        "この形式の本文は受け付けられません。本文は JSON で送ってください"
        "（Content-Type: application/json）。",
    ),
    (
        exceptions.Throttled,
        "ERROR_RATE_LIMITED",
        "要求が多すぎます。しばらく待ってから再度お試しください。",
    ),
    (
        exceptions.ParseError,
        "ERROR_REQUEST_MALFORMED",
        "本文を読み取れません。JSON を確認してください。",
    ),
    (exceptions.ValidationError, "ERROR_REQUEST_INVALID", "入力内容に誤りがあります。"),
]


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = "If-Match ヘッダーで読み込んだ世代（ETag）を指定してください。"
    default_code = "ERROR_PRECONDITION_REQUIRED"


class ErrorShape(serializers.Serializer):
    """Every error: a stable machine code, a Japanese message, and details."""

    code = serializers.RegexField(r"^ERROR_[A-Z0-9_]+$")
    message = serializers.CharField()
    detail = serializers.DictField()


def error_response(
    code: str, message: str, status_code: int, detail: Any = None, headers: dict | None = None
) -> Response:
    return Response(
        {"code": code, "message": message, "detail": detail or {}},
        status=status_code,
        headers=headers,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as ``{"code": "ERROR_…", "message": "…", "detail": {…}}``.

    A write refused for references to records missing or out of the writer's sight leaves
    ``record.refused`` for each (``references_refused_audit``) here, once the write and any
    transaction around it (an ``Idempotency-Key``'s) have rolled back: committed before the
    400 leaves, whatever the write's fate, and the answer is the same either way."""
    if isinstance(exc, RecursionError) and _nested_deeper_than(
        getattr(context.get("request"), "_full_data", None), BODY_DEPTH_LIMIT
    ):
        # A body the parsers read (orjson to 1,024 levels) but that code walking it
        # recursively cannot (a search's criteria, a definition's options, ~600 levels):
        # malformed for us, as the parser says of deeper ones, not a server error.
        exc = exceptions.ParseError("JSON の入れ子が深すぎます。")
    refusals = getattr(exc, "refused_references", None)
    if isinstance(exc, RecordInvalid) and refusals is not None:
        request = context.get("request")
        references_refused_audit(actor=getattr(request, "user", None), refusals=refusals)
    if isinstance(exc, LedgerError):
        wait = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(wait)} if wait else None
        return error_response(exc.code, exc.message, exc.status, exc.detail, headers)
    if isinstance(exc, TenantError):
        return error_response(exc.code, str(exc), status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PreconditionRequired):
        return error_response(exc.default_code, str(exc.detail), 428)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = context.get("request")
        # The advice to split fits a bulk request only (a search or one record was told it).
        bulk = getattr(request, "path_info", "").endswith("/records/bulk/")
        return error_response(
            "ERROR_REQUEST_TOO_LARGE",
            f"要求が大きすぎます（上限 {limit:,} バイト）。"
            + ("一括登録は分けて送ってください。" if bulk else ""),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            {"max_bytes": limit},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    for cls, code, message in _DRF_CODES:
        if isinstance(exc, cls):
            detail: Any = (
                _body_named(exc.detail, context)
                if isinstance(exc, exceptions.ValidationError)
                else {}
            )
            if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
                detail = {"retry_after": int(exc.wait) + 1}
            if isinstance(exc, exceptions.ParseError) and not str(exc.detail).isascii():
                message = str(exc.detail)  # ours, in Japanese (DRF's own are English)
            if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
                message = (
                    str(exc.detail)
                    if str(exc.detail) and not str(exc.detail).isascii()
                    else message
                )
            # A failed authentication with a code of its own (common.AuthenticationRefused).
            code = getattr(exc, "error_code", code)
            response.data = {"code": code, "message": message, "detail": detail}
            return response
    response.data = {"code": "ERROR_API", "message": str(getattr(exc, "detail", "")), "detail": {}}
    return response


#: Levels of nesting no request body of the API needs (a definition's group fields, a
#: search's range criteria: under ten); only asked of a body whose handling ran out of stack.
BODY_DEPTH_LIMIT = 64


def _nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether the parsed body ``data`` nests objects and arrays more than ``limit`` deep
    (iteratively: it is asked when recursion has already failed)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _body_named(detail: Any, context: dict[str, Any]) -> Any:
    """A serializer's refusal of a body that is no JSON object, under ``body`` with the
    message ``common.object_body`` answers on the other writes: DRF said it under
    ``non_field_errors``, and for a ``null`` body in English ("No data provided", a
    message its catalogue cannot translate)."""
    request = context.get("request")
    if (
        isinstance(detail, dict)
        and set(detail) == {"non_field_errors"}
        and request is not None
        and not isinstance(request.data, dict)
    ):
        return {"body": ["本文は JSON のオブジェクトで指定してください。"]}
    return detail


def parse_if_match(request: Request, *, required: bool) -> int | None:
    """The generation named by ``If-Match: "3"``; 428 when required and missing."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        if required:
            raise PreconditionRequired()
        return None
    value = ascii_whole_number(header.removeprefix("W/").strip().strip('"'))
    if value is None:
        raise exceptions.ValidationError(
            {"If-Match": ['ETag は世代の数字（例: "3"）で指定してください。']}
        )
    return value


def etag(generation: int) -> str:
    return f'"{generation}"'


def parse_tags_if_match(request: Request) -> tuple[str, ...] | None:
    """The version tags named by ``If-Match`` on an administrative document (a ledger's
    definition and its fields, its grants, a department, a staff member): None without the
    header, or with ``*`` (any version), so the write has no precondition.

    Optional there, unlike a record's (428): clients written before it keep working. A
    weak ``W/"…"`` counts as the tag it names, as for records (a proxy that compresses the
    answer may weaken its ETag); a header naming no tag matches none (412), never all, an
    empty one too (``If-Match: $ETAG`` sent with the variable unset went through as a
    write without a precondition, over whatever had changed)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tags = (part.strip().removeprefix("W/").strip().strip('"') for part in header.split(","))
    return tuple(tag for tag in tags if tag)


def document_etag(tag: str) -> str:
    return f'"{tag}"'


#: ``If-Match`` as the schema declares it on PATCH, DELETE and restore (428 without it).
IF_MATCH = OpenApiParameter(
    "If-Match", str, location=OpenApiParameter.HEADER, required=True,
    pattern=r'^(W/)?"?[0-9]{1,18}"?$',
    description='読み込んだ世代（ETag、例: "3"）。なければ 428、古ければ 412。',
)  # fmt: skip


#: ``If-Match`` on the writes of an administrative document (optional: 412 when stale).
DOCUMENT_IF_MATCH = OpenApiParameter(
    "If-Match", str, location=OpenApiParameter.HEADER, required=False,
    pattern=r'^(\*|(W/)?"[0-9a-f]{32}")$',
    description=(
        '読み込んだときの ETag（例: "3f2a…"）。他の人がその後に変更していれば 412 '
        "ERROR_VERSION_CONFLICT で、何も変更しません。省略できますが、付けてください"
        "（付けないと、読み込んだ後の他の人の変更を上書きします）。"
    ),
)  # fmt: skip


def document_etag_header(*status_codes: int) -> OpenApiParameter:
    """``ETag`` as the schema declares it on an answer carrying a document's version tag."""
    return OpenApiParameter(
        "ETag", str, location=OpenApiParameter.HEADER, response=list(status_codes),
        required=True, pattern=r'^"[0-9a-f]{32}"$',
        description="読み込んだ内容の版。変更・削除の If-Match に送り返します。",
    )  # fmt: skip


def retry_after_header(status_code: int) -> OpenApiParameter:
    """``Retry-After`` (seconds) as the schema declares it on an answer that says how long
    to wait (``LedgerError.retry_after``; 429 has it everywhere: ``schema.DaichoAutoSchema``)."""
    return OpenApiParameter(
        "Retry-After", int, location=OpenApiParameter.HEADER, response=[status_code],
        description="この秒数だけ待ってから送り直してください。",
    )  # fmt: skip


def etag_header(status_code: int) -> OpenApiParameter:
    """``ETag`` as the schema declares it on an answer carrying a record's generation."""
    return OpenApiParameter(
        "ETag", str, location=OpenApiParameter.HEADER, response=[status_code],
        required=True, pattern=r'^"[0-9]{1,18}"$',
        description='この記録の世代（例: "3"）。変更・削除・復元の If-Match に送り返します。',
    )  # fmt: skip
