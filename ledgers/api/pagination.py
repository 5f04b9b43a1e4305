"""Cursor paging with what the client sends checked: the cursor's position and ``page_size``.

DRF's ``CursorPagination`` decodes the cursor (base64 of ``o=…&r=…&p=…``) leniently (what
is no base64 skipped, the rest read, often as the first page) and puts its position into
the query as written: a made-up position that is no time, or a time at an
offset PostgreSQL cannot read, was a server error that logged the statement (the records'
and the audit trail's lists were checked one by one; the webhook delivery log was not). And
it reads a ``page_size`` that is no whole number of at least 1 (``-1``, ``0``, ``abc``) as
no ``page_size`` at all, answering the default size without a word. Every list pages with one
of the two classes here.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any
from urllib import parse

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from ledgers.api.common import utc_moment
from ledgers.api.numbers import ascii_whole_number
from ledgers.exceptions import LedgerError


class CursorInvalid(LedgerError):
    """A ``cursor`` that no ``next`` link of ours holds: 404 as DRF answers one (the code
    and status clients know), with ``detail.cursor`` telling it from a missing ledger."""

    code = "ERROR_NOT_FOUND"
    status = 404

    def __init__(self) -> None:
        message = (
            "続きの位置（cursor）を読み取れません。前の応答の next のアドレスを"
            "そのまま使ってください。"
        )
        super().__init__(message, detail={"cursor": [message]})


class CheckedCursorPagination(CursorPagination):
    """A cursor that is not one of our ``next`` links, or whose position ``read_position``
    refuses, is 404 (as DRF answers a cursor it cannot decode); a ``page_size`` that is not
    a whole number of at least 1 is 400, one above ``max_page_size`` is ``max_page_size``
    (as documented)."""

    page_size_query_param = "page_size"

    def read_position(self, position: str) -> str | None:
        """The position as the query is to read it, or None for one that is no position."""
        raise NotImplementedError

    def decode_cursor(self, request: Request) -> Any:
        """The cursor as our ``next`` links write it (base64 of ``p=<position>`` and/or
        ``o=<offset>`` among equal positions), or ``CursorInvalid``.

        DRF's own decoding skipped what is no base64 (``%%%``, a run of ``A``) and read
        what was left, often nothing: the first page, answered 200, so a robot whose
        cursor was mangled on the way started over (or looped) without a word; a made-up
        ``r=1`` (backwards, which no link of ours asks) answered an empty page whose next
        link was the first page. An empty ``cursor=`` is no cursor, as before (a robot's
        first request with its cursor variable still empty)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True)
            tokens = parse.parse_qs(text.decode("ascii"), strict_parsing=True)
        except (binascii.Error, ValueError):  # UnicodeError is a ValueError
            raise CursorInvalid() from None
        offset = tokens.get("o", ["0"])
        position = tokens.get("p", [None])
        if (
            not tokens
            or not tokens.keys() <= {"o", "p"}
            or len(offset) != 1
            or len(position) != 1
            or not (offset[0].isascii() and offset[0].isdigit())
            or len(offset[0]) > 4
            or int(offset[0]) > self.offset_cutoff
        ):
            raise CursorInvalid()
        # A first page of equal positions leaves none to start from: ``o=<page_size>`` alone.
        read = None if position[0] is None else self.read_position(position[0])
        if position[0] is not None and read is None:
            raise CursorInvalid()
        return Cursor(offset=int(offset[0]), reverse=False, position=read)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit()) or not digits:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"1以上の整数で指定してください（{self.max_page_size}を超える値は"
                        f"{self.max_page_size}）。"
                    ]
                }
            )
        return self.max_page_size if len(digits) > 9 else min(int(digits), self.max_page_size)

    @classmethod
    def page_size_parameter(cls) -> OpenApiParameter:
        """``page_size`` as the schema declares it."""
        return OpenApiParameter(
            cls.page_size_query_param,
            {"type": "integer", "minimum": 1},
            description=f"1ページの件数（既定 {cls.page_size}、{cls.max_page_size}を超える値は"
            f"{cls.max_page_size}）",
        )

    @staticmethod
    def cursor_parameter() -> OpenApiParameter:
        return OpenApiParameter("cursor", OpenApiTypes.STR, description="前の応答の next から")


class TimeCursorPagination(CheckedCursorPagination):
    """Ordered by a time: the position is an ISO 8601 moment, compared in UTC (an offset
    beyond PostgreSQL's ±15:59 went into the query as written); one without an offset is
    Japan time."""

    def read_position(self, position: str) -> str | None:
        try:
            moment = parse_datetime(position)
        except ValueError:  # well formed, impossible: 2024-02-30T00:00
            return None
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return utc_moment(moment).isoformat()


class NumberCursorPagination(CheckedCursorPagination):
    """Ordered by a number (the audit trail's ``seq``): the position is its digits."""

    def read_position(self, position: str) -> str | None:
        return None if ascii_whole_number(position) is None else position
