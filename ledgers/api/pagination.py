"""Cursor paging with what the client sends checked: the cursor's position and ``page_size``.

DRF's ``CursorPagination`` decodes the cursor (base64 of ``o=…&r=…&p=…``) and puts its
position into the query as written: a made-up position that is no time, or a time at an
offset PostgreSQL cannot read, was a server error that logged the statement (the records'
and the audit trail's lists were checked one by one; the webhook delivery log was not). And
it reads a ``page_size`` that is no whole number of at least 1 (``-1``, ``0``, ``abc``) as
no ``page_size`` at all, answering the default size without a word. Every list pages with one
of the two classes here.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from ledgers.api.common import utc_moment


class CheckedCursorPagination(CursorPagination):
    """A cursor whose position ``read_position`` refuses is 404 (as DRF answers a cursor it
    cannot decode); a ``page_size`` that is not a whole number of at least 1 is 400, one
    above ``max_page_size`` is ``max_page_size`` (as documented)."""

    page_size_query_param = "page_size"

    def read_position(self, position: str) -> str | None:
        """The position as the query is to read it, or None for one that is no position."""
        raise NotImplementedError

    def decode_cursor(self, request: Request) -> Any:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            position = self.read_position(cursor.position)
            if position is None:
                raise exceptions.NotFound(self.invalid_cursor_message)
            cursor = cursor._replace(position=position)
        return cursor

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
        if not position.isascii() or not position.isdigit() or len(position) > 18:
            return None
        return position
