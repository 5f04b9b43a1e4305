"""The records API: list, create, bulk, read, change, delete, generations, diff, restore."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Func, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgers.access.policy import LedgerPolicy
from ledgers.api.common import (
    iso_date,
    plus_restored,
    query_flag,
    refuse_control_characters,
    request_token,
    utc_moment,
)
from ledgers.api.errors import (
    IF_MATCH,
    ErrorShape,
    etag,
    etag_header,
    parse_if_match,
)
from ledgers.api.idempotency.http import IDEMPOTENCY_PARAMETERS, idempotent_create
from ledgers.api.numbers import ascii_whole_number
from ledgers.api.output import ledger_for
from ledgers.api.pagination import NumberCursorPagination, TimeCursorPagination
from ledgers.api.records import serializers as s
from ledgers.api.tokens.services import token_has_scope
from ledgers.audit.services import audit_record
from ledgers.exceptions import AccessDenied, RecordInvalid, RecordNotFound
from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldError, WarekiError
from ledgers.fields.normalize import text_problem
from ledgers.records.models import Record
from ledgers.records.output import (
    record_output,
    record_outputs,
    version_diff,
    version_output,
    version_summary,
)
from ledgers.records.references import references_seen
from ledgers.records.selectors import (
    record_as_of,
    record_get_version,
    record_values_between,
    record_versions,
    records_first,
    version_definition,
)
from ledgers.records.services import (
    record_bulk_create,
    record_create,
    record_delete,
    record_restore,
    record_update,
)
from ledgers.search.index import GROUP_TYPES, equality_stored_keys
from ledgers.search.normalize import parse_date_query
from ledgers.search.query import contains_filter, group_contains_filter
from ledgers.search.services import as_searched

#: A create's errors (409 and 422: its Idempotency-Key; 413: a body over the limit).
_CREATE_ERRORS = dict.fromkeys((400, 403, 404, 409, 413, 422), ErrorShape)
RESERVED = {"state", "updated_since", "page_size", "cursor", "count", "deleted", "format"}
NUMERIC = {"integer", "decimal"}
ORDERED = {"integer", "decimal", "date", "datetime"}


class RecordPagination(TimeCursorPagination):
    # The id breaks ties: a bulk request's records share their update time, and DRF's
    # cursor counts an offset among equal times, which holds only if every query (the
    # first page's, ``records_first``, and the later ones', DRF's) orders them alike.
    ordering = ("-updated_at", "-id")
    page_size = 25
    max_page_size = 100

    def paginate_first(
        self, queryset: QuerySet[Record], request: Request, view: Any = None, *, count: bool
    ) -> tuple[list[Record], int | None]:
        """The first page, and with ``count`` the number of all matches, by one statement
        (``records_first``); DRF's own paging then sets the next link."""
        ordering = self.get_ordering(request, queryset, view)
        rows, total = records_first(
            queryset.order_by(*ordering), self.get_page_size(request) + 1, count=count
        )
        return self.paginate_queryset(_Fetched(rows), request, view) or [], total


class _Fetched:
    """Rows already fetched, in order, as DRF's cursor paging reads a query set on a first
    page: ordered (they are) and sliced once."""

    def __init__(self, rows: list[Record]) -> None:
        self.rows = rows

    def order_by(self, *ordering: str) -> _Fetched:
        return self

    def __getitem__(self, index: slice) -> list[Record]:
        return self.rows[index]


def _filter_on_field(
    queryset: QuerySet[Record], policy: LedgerPolicy, name: str, raw: str
) -> QuerySet[Record]:
    """Apply one ``<key>``, ``<key>__contains``, ``__gte`` or ``__lte`` query-string filter."""
    key, _, op = name.partition("__")
    field = next((f for f in policy.ledger.fields() if f["key"] == key), None)
    if field is None:
        raise exceptions.ValidationError({name: ["この台帳にない項目です。"]})
    if not policy.can_read_field(field.get("sensitivity")):
        # Filtering on a masked field would reveal its values one question at a time.
        raise exceptions.ValidationError({name: ["この項目では絞り込めません。"]})
    # Nor may it match a record that shows the field masked to this reader: one disclosed
    # only to departments that may not read it (``readable_filter``).
    if readable := policy.readable_filter(field.get("sensitivity")):  # Q(): all may read it
        queryset = queryset.filter(readable)
    if op == "contains":
        if field["type"] == "reference":
            # Its text is the target's ``ledger:id``: a contains filter spelled out, one
            # character at a time, the target of a link the reader sees masked.
            raise exceptions.ValidationError({name: ["参照項目は部分一致では絞り込めません。"]})
        if field["type"] in GROUP_TYPES:
            # Its rows' values the reader may read, as it may read them in the record.
            sub_fields = [
                sub
                for sub in (field.get("options") or {}).get("fields") or []
                if sub["type"] != "reference" and policy.can_read_field(sub.get("sensitivity"))
            ]
            if not sub_fields:
                raise exceptions.ValidationError({name: ["この項目では絞り込めません。"]})
            if readable := policy.readable_filter(*(sub.get("sensitivity") for sub in sub_fields)):
                queryset = queryset.filter(readable)
            return queryset.filter(group_contains_filter(policy.ledger, key, sub_fields, raw))
        if field["type"] == "date" and (span := _date_span(name, raw)) is not None:
            # 昭和60 or S60.3 compared with the stored ISO text matched nothing: a value the
            # search screens read as dates (parse_date_query) is those dates here too.
            alias = f"_t_{key}"
            start, end = (day.isoformat() for day in span)
            return queryset.alias(**{alias: KT(f"data__{key}")}).filter(
                **{f"{alias}__gte": start, f"{alias}__lte": end}
            )
        return queryset.filter(contains_filter(policy.ledger, key, raw))
    if op not in {"", "gte", "lte"} or (op and field["type"] not in ORDERED):
        raise exceptions.ValidationError(
            {name: ["使えない条件です（__gte / __lte は数値・日付の項目だけ）。"]}
        )
    try:
        value = field_type_registry.get(field["type"]).clean(raw, field.get("options") or {})
    except FieldError as exc:
        raise exceptions.ValidationError({name: [exc.message]}) from None
    if op and value is None:
        # A blank bound (n__gte=) is no bound: it reached the comparison as NULL, a server
        # error. (A blank equality filter asks for the records without a value.)
        raise exceptions.ValidationError({name: ["範囲の値を指定してください。"]})
    if (
        op == ""
        and field["type"] == "reference"
        and value is not None  # a blank filter, as for any type (it was a server error)
        and not references_seen(policy=policy, refs=[value])
    ):
        # Links to a record out of the reader's sight match nothing, as links to no record
        # do: else a count confirmed a guessed target of a link it sees masked.
        return queryset.none()
    if op == "":
        # The value's exact search keys first: the same GIN index as every other filter,
        # whose estimates hold even before the new rows have planner statistics.
        keys = equality_stored_keys(policy.ledger.pk, field, value)
        if keys:
            queryset = queryset.filter(search_keys__contains=keys)
        if isinstance(value, dict):
            # A name typed into a query string has no reading (kana): its blank parts are
            # not asked for, else they had to equal the stored reading and nothing matched.
            value = {part: v for part, v in value.items() if v not in ("", None)}
        return queryset.filter(data__contains={key: value})
    if field["type"] in NUMERIC:
        alias = f"_n_{key}"
        # Unbounded numeric: the decimal type stores up to 40 digits, and one stored value
        # wider than a bounded cast made every range filter on the ledger a server error.
        number = Func(
            KT(f"data__{key}"), template="(%(expressions)s)::numeric", output_field=DecimalField()
        )
        return queryset.alias(**{alias: number}).filter(**{f"{alias}__{op}": Decimal(str(value))})
    # ISO dates and +09:00 datetimes order as text.
    alias = f"_t_{key}"
    return queryset.alias(**{alias: KT(f"data__{key}")}).filter(**{f"{alias}__{op}": value})


def _date_span(name: str, raw: str) -> tuple[date, date] | None:
    """The dates a ``__contains`` value names as a date search reads it (昭和60, S60.3,
    1985-03), or None for a value that is no date (03-03: a part of the ISO text). A value
    read but wrong (平成31年5月: after 平成) is a 400 that says why."""
    try:
        return parse_date_query(raw)
    except WarekiError as error:
        if error.code in ("unreadable_date", "unreadable_decade", "required"):
            return None
        raise exceptions.ValidationError({name: [error.message]}) from None


def _aware_datetime(name: str, text: str, *, dates: bool = False) -> datetime:
    """An ISO 8601 moment with its offset, or a 400 naming the parameter (Django's
    ``parse_datetime`` raises for a well-formed impossible one: 2023-02-30, +99:00).
    ``dates``: a date alone is the start of that day in Japan time (``updated_since``)."""
    text = plus_restored(text)
    if dates and (day := iso_date(text)) is not None:
        return timezone.make_aware(datetime.combine(day, time.min))
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError(
            {name: ["タイムゾーン付きの ISO 8601 日時で指定してください。"]}
        )
    return utc_moment(moment)  # an offset PostgreSQL reads (-18:24 is not one)


def _filtered(policy: LedgerPolicy, request: Request) -> QuerySet[Record]:
    # The index columns are most of a row, and no output shows them. Only the records the
    # caller views through a department they are disclosed to (``LedgerPolicy.viewing``):
    # one in a department that may only search a record (and another that may view the
    # ledger) listed it, counted it and matched filters on any field it may read against
    # it, so learnt by a filter what no search screen lets it ask.
    queryset = policy.viewing().records(Record.objects.defer("search_keys", "search_text"))
    params = request.query_params
    refuse_control_characters(params)
    if not query_flag(params, "deleted"):
        queryset = queryset.filter(deleted_at__isnull=True)
    if "state" in params:
        # An exact filter, refused as an exact filter on a field is when it holds what a
        # stored state may not (read as typed it matched nothing while the record.list event
        # kept it cleaned, as another state).
        problem = text_problem(params["state"], allow_newlines=False)
        if problem is not None:
            raise exceptions.ValidationError({"state": [f"{problem}。"]})
        queryset = queryset.filter(state=params["state"])
    if "updated_since" in params:
        since = _aware_datetime("updated_since", params["updated_since"], dates=True)
        queryset = queryset.filter(updated_at__gte=since)
    for name, raw in params.items():
        if name not in RESERVED:
            queryset = _filter_on_field(queryset, policy, name, raw)
    return queryset


class RecordListView(APIView):
    required_scopes = {"GET": "records:read", "POST": "records:write"}

    @extend_schema(
        operation_id="v1_ledgers_records_list",
        parameters=[
            OpenApiParameter("state", str), OpenApiParameter("updated_since", datetime),
            RecordPagination.page_size_parameter(), RecordPagination.cursor_parameter(),
            OpenApiParameter("count", bool, description="true: 条件に合う全件数 count を加える"),
            OpenApiParameter("deleted", bool, description="true: 削除済みの記録も含める"),
        ],
        responses={200: s.RecordListSerializer, 404: ErrorShape},
        description="項目での絞り込み: `<key>=<value>`（一致）、`<key>__contains=`（検索と同じ正規化で部分一致）、"
        "`<key>__gte=` / `<key>__lte=`（数値・日付）。",
    )  # fmt: skip
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("view")
        queryset = _filtered(policy, request)
        paginator = RecordPagination()
        wants_count = query_flag(request.query_params, "count")
        count: int | None = None
        if request.query_params.get(paginator.cursor_query_param) is None:
            page, count = paginator.paginate_first(queryset, request, view=self, count=wants_count)
        else:
            page = paginator.paginate_queryset(queryset, request, view=self)
        results = record_outputs(list(page or []), policy)
        body: dict[str, Any] = {"results": results, "next": paginator.get_next_link()}
        if count is not None:
            body["count"] = count
        elif wants_count:
            body["count"] = queryset.count()  # a later page: the matches before it too
        # Written once the answer is whole: a count that failed (a statement timeout) after
        # it named a page of records that never left.
        audit_record(
            actor=request.user, action="record.list", ledger_code=ledger.code,
            details={"records": [r["id"] for r in results], "filters": _safe_filters(request)},
        )  # fmt: skip
        return Response(body)

    @extend_schema(
        parameters=[*IDEMPOTENCY_PARAMETERS, etag_header(201)],
        request=s.RecordCreateSerializer,
        responses={201: s.RecordSerializer, **_CREATE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)

        def write() -> tuple[Response, Any]:
            data = s.plainly_valid(s.RecordCreateSerializer, request.data)
            if data is None:
                body = s.RecordCreateSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                data = body.validated_data
            record = record_create(
                actor=request.user, ledger=ledger, values=data["values"],
                state=data.get("state", ""), reason=data.get("reason", ""), policy=policy,
            )  # fmt: skip
            answer = _write_answer(request, record, policy)
            response = Response(answer, status=status.HTTP_201_CREATED, headers={"ETag": etag(1)})
            # Kept for a retry: the answer without its values (ids, state and times).
            return response, {key: value for key, value in answer.items() if key != "values"}

        def replay(status_code: int, kept: Any) -> Response:
            return _replayed_create(request, policy, status_code, kept)

        return idempotent_create(request, write=write, replay=replay)


def _may_read(request: Request, policy: LedgerPolicy) -> bool:
    """Whether the caller may read the ledger's records: ``view`` and, for a token,
    ``records:read``."""
    return policy.can("view") and token_has_scope(request_token(request), "records:read")


def _may_read_record(request: Request, policy: LedgerPolicy, record: Record) -> bool:
    """``_may_read`` of ``record``: through the departments it is disclosed to
    (``LedgerPolicy.for_record``), as it was read and as it is now (a restore refused has
    rolled back; the flags may have changed since it was read). A member of a department
    that views the ledger and of one that may only search and update the record (the one
    it is disclosed to) is refused its versions, and its restore's errors quoted them."""
    if not _may_read(request, policy):
        return False
    now = policy.records(Record.objects.filter(pk=record.pk)).first()
    if now is None:
        return False
    return all(
        policy.for_record(seen.data, written_under=seen.definition_version).can("view")
        for seen in (record, now)
    )


def _write_answer(request: Request, record: Record, policy: LedgerPolicy) -> dict[str, Any]:
    """A write's answer: the record as the caller sees it, its values only for a caller
    that may read records (a token with ``records:write`` alone, refused a GET, is no way to
    read them: a PATCH answers every field, not only those written)."""
    answer = record_output(record, policy)
    if answer["values"] and not _may_read(request, policy):
        answer["values"] = {}
    return answer


def _replayed_create(
    request: Request, policy: LedgerPolicy, status_code: int, kept: dict[str, Any]
) -> Response:
    """A retried single create's answer. A caller who may read the record now (``view``,
    the record within its disclosure, a token with ``records:read``) gets it as it is now,
    read and audited as a GET; anyone else the first answer as kept, without values:
    nothing about the record since (its changes, state, deletion) that a GET would not
    show them."""
    if _may_read(request, policy):
        try:
            record = policy.view_record(kept["id"], actor=request.user)
        except RecordNotFound:
            pass
        else:
            return Response(
                record_output(record, policy), status=status_code,
                headers={"ETag": etag(record.generation)},
            )  # fmt: skip
    return Response(
        {**kept, "values": {}}, status=status_code, headers={"ETag": etag(kept["generation"])}
    )


def _safe_filters(request: Request) -> dict[str, str]:
    """The filters as given: the audit trail keeps what was asked (not what was found), as
    the search read it (``as_searched``: no character that reorders or hides the rest)."""
    return as_searched({k: v for k, v in request.query_params.items() if k not in {"cursor"}})


class RecordBulkView(APIView):
    required_scopes = {"POST": "records:write"}

    @extend_schema(
        parameters=IDEMPOTENCY_PARAMETERS,
        request=s.BulkCreateSerializer,
        responses={201: s.BulkResultSerializer, **_CREATE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)

        def write() -> tuple[Response, Any]:
            values_list = s.bulk_values(request.data)
            if values_list is None:
                body = s.BulkCreateSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                values_list = [item["values"] for item in body.validated_data["records"]]
            created = record_bulk_create(
                actor=request.user, ledger=ledger, policy=policy, values_list=values_list
            )
            answer = {
                "results": [
                    {"id": str(record_id), "generation": generation}
                    for record_id, generation in created
                ]
            }
            return Response(answer, status=status.HTTP_201_CREATED), answer

        # The ids and first generations, as answered then: no values to read anew.
        return idempotent_create(
            request,
            write=write,
            replay=lambda status_code, kept: Response(kept, status=status_code),
        )


class RecordDetailView(APIView):
    required_scopes = {"GET": "records:read", "PATCH": "records:write", "DELETE": "records:write"}

    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", datetime, description="この時点の内容（世代）"),
            etag_header(200),
        ],
        responses={200: s.RecordSerializer, 404: ErrorShape},
    )
    def get(self, request: Request, code: str, record_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        _require_on_route(request, policy, "view", record_id, refused_as="record.view")
        as_of = request.query_params.get("as_of")
        if as_of is None:  # the record and its audit event in one statement
            record = policy.view_record(record_id, actor=request.user, refused_as="record.view")
            return Response(
                record_output(record, policy), headers={"ETag": etag(record.generation)}
            )
        record = policy.get_record(record_id, refused_as="record.view")
        policy = _history_policy(request, policy, record, refused_as="record.view")
        moment = _aware_datetime("as_of", as_of)
        version = record_as_of(record=record, at=moment)
        if version is None:
            raise RecordNotFound()
        body = version_output(version, policy, version_definition(version=version))
        body.update({"id": str(record.pk), "state": version.state,
                     "created_at": record.created_at.isoformat(), "updated_at": version.at.isoformat()})  # fmt: skip
        audit_record(
            actor=request.user, action="record.view", ledger_code=ledger.code, record_id=record.pk,
            generation=version.generation, details={"as_of": moment.isoformat()},
        )  # fmt: skip
        # The generation shown, not the record's: with the current one, a client that sent
        # back what it read (read, modify, write) wrote an old generation's values over
        # every change since with a 200, where If-Match is there to answer 412.
        return Response(body, headers={"ETag": etag(version.generation)})

    @extend_schema(
        parameters=[IF_MATCH, etag_header(200)],
        request=s.RecordPatchSerializer,
        # 409: the record is deleted (ERROR_RECORD_STATE) or its ledger's definition changed
        # while the values were checked (ERROR_DEFINITION_CHANGED).
        responses={200: s.RecordSerializer, 409: ErrorShape, 412: ErrorShape, 428: ErrorShape},
    )
    def patch(self, request: Request, code: str, record_id: str) -> Response:
        _ledger, policy = ledger_for(request, code)
        expected = parse_if_match(request, required=True)
        data = s.plainly_valid(s.RecordPatchSerializer, request.data)
        if data is None:
            body = s.RecordPatchSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = body.validated_data
        _require_on_route(request, policy, "update", record_id, refused_as="record.update")
        record = record_update(
            actor=request.user, record=policy.get_record(record_id, refused_as="record.update"), values=data["values"],
            expected_generation=expected, reason=data.get("reason", ""),
            state=data.get("state"), policy=policy,
            write_unchanged=not _may_read(request, policy),
        )  # fmt: skip
        answer = _write_answer(request, record, policy)
        if record.generation == expected and answer["values"]:
            # Nothing changed, so no record.update names the record: the answer is a read
            # of its values (a PATCH of nothing read a record unaudited), audited as one.
            audit_record(
                actor=request.user, action="record.view", ledger_code=policy.ledger.code,
                record_id=record.pk, generation=record.generation, details={"via": "patch"},
            )  # fmt: skip
        return Response(answer, headers={"ETag": etag(record.generation)})

    @extend_schema(
        parameters=[OpenApiParameter("reason", str), IF_MATCH, etag_header(200)],
        request=s.RecordDeleteSerializer,
        # 409: the record is deleted already (ERROR_RECORD_STATE).
        responses={200: s.RecordSerializer, 409: ErrorShape, 412: ErrorShape, 428: ErrorShape},
    )
    def delete(self, request: Request, code: str, record_id: str) -> Response:
        _ledger, policy = ledger_for(request, code)
        expected = parse_if_match(request, required=True)
        _require_on_route(request, policy, "delete", record_id, refused_as="record.delete")
        given = (
            request.data.get("reason") if isinstance(request.data, dict) else None
        ) or request.query_params.get("reason", "")
        if not isinstance(given, str):
            raise exceptions.ValidationError({"reason": ["理由は文字列で指定してください。"]})
        body = s.RecordDeleteSerializer(data={"reason": given})
        body.is_valid(raise_exception=True)  # a string of at most 500 characters, no NUL
        reason = body.validated_data["reason"]
        record = policy.get_record(record_id, refused_as="record.delete")
        record = record_delete(
            actor=request.user,
            record=record,
            reason=reason,
            expected_generation=expected,
            policy=policy,
        )
        return Response(
            _write_answer(request, record, policy), headers={"ETag": etag(record.generation)}
        )


def _require_on_route(
    request: Request, policy: LedgerPolicy, capability: str, record_id: str, *, refused_as: str
) -> None:
    """``policy.require(capability)`` on a route that names one record by its id. A refusal
    is a ``record.refused`` naming the id, as a refusal by the record's disclosure (404) or
    of its history (403, ``_history_policy``) is: a desk that may search the ledger but not
    view it, trying the ids of records, left nothing in the audit trail."""
    try:
        policy.require(capability)
    except AccessDenied:
        policy.refuse_by_capability(record_id, asker=request.user, refused_as=refused_as)
        raise


def _history_policy(
    request: Request, policy: LedgerPolicy, record: Record, *, refused_as: str
) -> LedgerPolicy:
    """The policy a record's generations are shown with: as the record itself is, through
    the departments it is disclosed to now (``for_record``), which must give ``view``
    (403 otherwise). A refusal is ``record.refused`` naming ``refused_as``, as a read by
    its id of a record out of sight is: one who may only search the record (its history,
    the reasons and old addresses of a person it may not read) left no trace."""
    try:
        return policy.require_on("view", record.data, written_under=record.definition_version)
    except AccessDenied:
        audit_record(
            actor=request.user, action="record.refused", ledger_code=policy.ledger.code,
            record_id=record.pk, details={"attempted": refused_as, "exists": True},
        )  # fmt: skip
        raise


class VersionPagination(NumberCursorPagination):
    """A record's generations, oldest first, a page at a time: a record a robot changes
    every day holds thousands, and the whole list was one answer and one audit event
    naming every generation."""

    ordering = "generation"
    page_size = 100
    max_page_size = 1000


class RecordVersionListView(APIView):
    required_scopes = {"GET": "records:read"}

    @extend_schema(
        operation_id="v1_ledgers_records_versions_list",
        parameters=[VersionPagination.page_size_parameter(), VersionPagination.cursor_parameter()],
        responses={200: s.VersionListSerializer, 404: ErrorShape},
    )
    def get(self, request: Request, code: str, record_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        _require_on_route(request, policy, "view", record_id, refused_as="record.versions")
        record = policy.get_record(record_id, refused_as="record.versions")
        # As the generations themselves: their reasons are free text about the person
        # (「井口二丁目へ転居」), which one who may only search the record read.
        _history_policy(request, policy, record, refused_as="record.versions")
        paginator = VersionPagination()
        # The summary only: each generation's values (and change) stay in the database.
        versions = record_versions(record=record).select_related("actor").defer("data", "diff")
        page = paginator.paginate_queryset(versions, request, view=self) or []
        # Who handled the record and why (reasons are free text about the person): a read
        # of personal data like any other; the event names the generations answered.
        audit_record(
            actor=request.user, action="record.versions", ledger_code=ledger.code,
            record_id=record.pk, details={"generations": [v.generation for v in page]},
        )  # fmt: skip
        return Response(
            {"results": [version_summary(v) for v in page], "next": paginator.get_next_link()}
        )


class RecordVersionView(APIView):
    required_scopes = {"GET": "records:read"}

    @extend_schema(responses={200: s.VersionSerializer, 404: ErrorShape})
    def get(self, request: Request, code: str, record_id: str, generation: int) -> Response:
        ledger, policy = ledger_for(request, code)
        _require_on_route(request, policy, "view", record_id, refused_as="record.version_view")
        record = policy.get_record(record_id, refused_as="record.version_view")
        policy = _history_policy(request, policy, record, refused_as="record.version_view")
        version = record_get_version(record=record, generation=generation)
        body = version_output(version, policy, version_definition(version=version))
        audit_record(
            actor=request.user, action="record.version_view", ledger_code=ledger.code,
            record_id=record.pk, generation=generation,
        )  # fmt: skip
        return Response(body)


def _generation(params: Any, name: str) -> int:
    """A generation named in the query string: a whole number of at least 1 in ASCII digits
    (at most 18, as ``If-Match``'s).
    ``int()`` read ``1_0`` as 10, `` 1`` and ``１`` as 1, ``+1`` as 1; a bad ``to`` was
    blamed on ``from``."""
    raw = params.get(name)
    value = None if raw is None else ascii_whole_number(raw)
    if value is None or value < 1:
        raise exceptions.ValidationError(
            {name: [f"{name} に世代の数字（例: 1）を指定してください。"]}
        )
    return value


class RecordDiffView(APIView):
    required_scopes = {"GET": "records:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("from", {"type": "integer", "minimum": 1}, required=True),
            OpenApiParameter("to", {"type": "integer", "minimum": 1}, required=True),
        ],
        responses={200: s.DiffSerializer, 404: ErrorShape},
    )
    def get(self, request: Request, code: str, record_id: str) -> Response:
        ledger, policy = ledger_for(request, code)
        _require_on_route(request, policy, "view", record_id, refused_as="record.diff")
        record = policy.get_record(record_id, refused_as="record.diff")
        policy = _history_policy(request, policy, record, refused_as="record.diff")
        first, second = (_generation(request.query_params, name) for name in ("from", "to"))
        older = record_get_version(record=record, generation=first)
        newer = record_get_version(record=record, generation=second)
        changes = version_diff(
            older, newer, policy,
            (version_definition(version=older), version_definition(version=newer)),
            record_values_between(record=record, first=first, last=second),
        )  # fmt: skip
        audit_record(
            actor=request.user, action="record.diff", ledger_code=ledger.code, record_id=record.pk,
            details={"from": first, "to": second},
        )  # fmt: skip
        return Response({"from": first, "to": second, "changes": changes})


class RecordRestoreView(APIView):
    required_scopes = {"POST": "records:write"}

    @extend_schema(
        parameters=[IF_MATCH, etag_header(200)],
        request=s.RestoreSerializer,
        responses={
            200: s.RecordSerializer,
            400: ErrorShape,
            403: ErrorShape,
            404: ErrorShape,
            409: ErrorShape,
            412: ErrorShape,
            428: ErrorShape,
        },
    )
    def post(self, request: Request, code: str, record_id: str) -> Response:
        _ledger, policy = ledger_for(request, code)
        body = s.RestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Required as for PATCH and DELETE: a restore names the generation it was decided on,
        # or it would undo a change (or a deletion) made since without a word.
        expected = parse_if_match(request, required=True)
        generation = body.validated_data.get("generation")
        needed = "update" if generation is not None else "delete"
        _require_on_route(request, policy, needed, record_id, refused_as="record.restore")
        record = policy.get_record(record_id, refused_as="record.restore")
        try:
            record = record_restore(
                actor=request.user, record=record, generation=generation,
                reason=body.validated_data.get("reason", ""), expected_generation=expected,
                policy=policy,
            )  # fmt: skip
        except RecordInvalid as exc:
            if _may_read_record(request, policy, record):
                # The messages judge (and quote) that generation's values: a read of them,
                # audited as ``versions/{n}/`` is (the restore itself rolled back).
                audit_record(
                    actor=request.user, action="record.version_view",
                    ledger_code=policy.ledger.code, record_id=record.pk, generation=generation,
                    details={"via": "restore", "fields": sorted(exc.errors)},
                )  # fmt: skip
                raise
            # The messages quote the old values ("「…」は選択肢にありません"), which one
            # refused a read of the versions may not learn: the fields only.
            raise RecordInvalid(
                {key: ["この世代の値は、今の項目の定義では復元できません。"] for key in exc.errors}
            ) from None
        return Response(
            _write_answer(request, record, policy), headers={"ETag": etag(record.generation)}
        )
