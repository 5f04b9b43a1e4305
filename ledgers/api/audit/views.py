"""GET /api/v1/audit/events/ and POST /api/v1/audit/verify/ (auditors)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from daicho.accounts.models import Role
from ledgers.access.policy import (
    MASKED,
    LedgerPolicy,
    active_memberships,
    is_city_admin,
    ledgers_with,
    policy_for,
    strictest_sensitivities,
)
from ledgers.api.common import (
    iso_date,
    plus_restored,
    refuse_control_characters,
    refuse_unknown_parameters,
    refuse_unseen_characters,
    utc_moment,
)
from ledgers.api.errors import ErrorShape, retry_after_header
from ledgers.api.pagination import NumberCursorPagination
from ledgers.api.records.views import RESERVED
from ledgers.audit.models import NO_SUCH_LEDGER, AuditEvent
from ledgers.audit.selectors import audit_events
from ledgers.audit.services import audit_record, audit_verify
from ledgers.definitions.models import Ledger
from ledgers.exceptions import AccessDenied
from ledgers.records.models import Record


def audit_scope(user: Any) -> Q | None:
    """Which events ``user`` may read: every one for a city administrator (``None``);
    otherwise those of the ledgers whose grants give them 監査 (``audit``), and, for a
    監査担当, the events of no ledger (sign-ins, staff, tokens). Before, the role alone
    decided: an auditor with no grant on the DV ledger read its searches' terms and
    reasons, and a ledger administrator with 監査 on it read nothing."""
    memberships = active_memberships(user)
    if is_city_admin(user, memberships):
        return None
    codes = ledgers_with(user, "audit", memberships)
    auditor = any(m.role == Role.AUDITOR for m in memberships)
    if not codes and not auditor:
        raise AccessDenied(
            "監査ログを見られるのは、台帳の「監査」の権限がある職員、監査担当、自治体管理者です。"
        )
    scope = Q(ledger_code__in=sorted(codes))
    return scope | Q(ledger_code="") if auditor else scope


def require_auditor(user: Any) -> None:
    """Verification of the city's chain (it shows no event): anyone who may read part of
    the trail (``audit_scope``)."""
    audit_scope(user)


class EventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True)
    action = serializers.CharField()
    ledger = serializers.CharField(allow_blank=True)
    record_id = serializers.UUIDField(allow_null=True)
    generation = serializers.IntegerField(allow_null=True)
    details = serializers.DictField()


class EventListSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class EventPagination(NumberCursorPagination):
    ordering = "seq"
    page_size = 100
    max_page_size = 1000


def _moment(name: str, raw: str | None) -> Any:
    """A date (that whole day in Japan time, as the selector reads it) or a moment (one
    without an offset is Japan time). Django's ``parse_datetime`` reads "2026-11-30" as
    midnight, which made ``to=<date>`` leave that day out: a date is read as a date first,
    in every form a date alone takes (``20261130`` too, which it read as midnight still
    until session 12)."""
    if raw is None:
        return None
    raw = plus_restored(raw)  # an offset's + typed unencoded arrives as a space
    value: Any = iso_date(raw)
    if value is None:
        try:
            value = parse_datetime(raw)
        except ValueError:  # well formed, impossible: 2026-02-30T00:00
            value = None
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)  # Japan time, the project's TIME_ZONE
    if value is None:
        raise exceptions.ValidationError(
            {name: ["日付（YYYY-MM-DD）か ISO 8601 日時で指定してください。"]}
        )
    if isinstance(value, datetime):
        value = utc_moment(value)  # an offset PostgreSQL reads (-18:24 is not one)
    return value


_FILTERS = ("actor", "ledger", "record", "action", "from", "to", "cursor", "page_size")


class AuditEventListView(APIView):
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        operation_id="v1_audit_events_list",
        parameters=[
            OpenApiParameter("actor", str, description="操作者のユーザー名"), OpenApiParameter("ledger", str),
            OpenApiParameter("record", OpenApiTypes.UUID), OpenApiParameter("action", str, description="末尾が . なら前方一致"),
            OpenApiParameter("from", str), OpenApiParameter("to", str),
            EventPagination.cursor_parameter(), EventPagination.page_size_parameter(),
        ],
        responses={200: EventListSerializer, 403: ErrorShape},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        scope = audit_scope(request.user)
        params = request.query_params
        refuse_control_characters(params)
        # Its ``audit.read`` keeps the filters as read: none holds a character that hides
        # or reorders the rest (they were kept as typed).
        refuse_unseen_characters(params)
        refuse_unknown_parameters(params, _FILTERS)
        if "record" in params:
            try:
                uuid.UUID(params["record"])
            except ValueError:
                raise exceptions.ValidationError(
                    {"record": ["記録の ID（UUID）で指定してください。"]}
                ) from None
        actor = None
        if "actor" in params:
            from django.contrib.auth import get_user_model

            actor = (
                get_user_model()
                .objects.filter(username=params["actor"])
                .values_list("pk", flat=True)
                .first()
                or -1
            )
        events = audit_events(
            actor=actor, ledger_code=params.get("ledger"), record_id=params.get("record"),
            action=params.get("action"), at_from=_moment("from", params.get("from")), at_to=_moment("to", params.get("to")),
        ).select_related("actor")  # fmt: skip
        if scope is not None:
            events = events.filter(scope)
        paginator = EventPagination()
        page = paginator.paginate_queryset(events, request, view=self) or []
        # The events the page showed (what staff typed, whom they found): a later page's
        # cursor does not say which; and the record a query was about, which ``?record=``
        # finds as it finds the record's other reads ("who looked into this person").
        audit_record(
            actor=request.user,
            action="audit.read",
            ledger_code=_ledger_asked(params),
            record_id=uuid.UUID(params["record"]) if params.get("record") else None,
            details={
                "filters": dict(params.items()),
                "count": len(page),
                "events": [event.seq for event in page],
            },
        )
        typed = _TypedValues(request.user, _seqs_in_scope(page, scope))
        return Response(
            {"results": [_event(e, typed) for e in page], "next": paginator.get_next_link()}
        )


def _ledger_asked(params: Any) -> str:
    """The ledger an audit-trail query was about (its ``record``'s ledger, or its ``ledger``
    filter), for its own ``audit.read`` event: an event of a ledger is shown only to those
    who audit that ledger. Without it, every auditor read which DV records another auditor
    had looked into (the filters name them). "" for a query about no ledger. A record's
    ledger comes first: the filters name the record whatever ``ledger`` says, and a query
    naming a DV record with a made-up or another ledger's code was filed where every
    監査担当, or that ledger's auditors, read which DV record was being looked into.

    A query about a record or a ledger that does not exist is filed under
    ``NO_SUCH_LEDGER``, never where the asker reads: filed under no ledger (or the ledger
    it named) it showed among the asker's own events, where a query about a DV record (or
    the DV ledger) it may not audit did not, and the asker learnt that the id (or code)
    exists."""
    if params.get("record"):
        found = Record.objects.filter(pk=params["record"]).values_list("ledger__code", flat=True)
        return found.first() or NO_SUCH_LEDGER
    code = params.get("ledger")
    if code:
        return code if Ledger.objects.filter(code=code).exists() else NO_SUCH_LEDGER
    return ""


def _readable(policy: LedgerPolicy, levels: dict[str, str | None], path: str) -> bool:
    """Whether ``policy``'s reader may read the field at ``path`` (``key`` or
    ``group.sub``): the field, and the sub-field in its group, within the clearance, at the
    strictest sensitivity each ever had (``levels``: ``strictest_sensitivities``). A term
    was typed when the field may have been stricter than now, and the ids it found tell
    part of a value their generations of then show masked. A path the definition does not
    hold (a typo searched) is not."""
    key, _, sub = path.partition(".")
    if key not in levels or not policy.can_read_field(levels[key]):
        return False
    if not sub:
        # A group's own key (``offenders__contains``) searched every sub-field it reads.
        return all(
            policy.can_read_field(level)
            for name, level in levels.items()
            if name.startswith(f"{key}.")
        )
    return path in levels and policy.can_read_field(levels[path])


def _seqs_in_scope(page: list[AuditEvent], scope: Q | None) -> set[int] | None:
    """Of the events the page's ``audit.read`` events name, those ``scope`` reads (one
    query); None for a reader of every event."""
    if scope is None:
        return None
    named = {
        seq
        for event in page
        if event.action == "audit.read" and isinstance(event.details, dict)
        for seq in event.details.get("events") or ()
        if isinstance(seq, int)
    }
    if not named:
        return set()
    return set(AuditEvent.objects.filter(scope, seq__in=named).values_list("seq", flat=True))


class _TypedValues:
    """What staff typed into a ledger's fields, as the audit trail keeps it (a search's
    ``terms``, a list's ``filters``), masked where the reader may not read the field: an
    auditor cleared to personal data read a colleague's address search (``下連雀``) with
    the ids it found, and so part of an address the records show it masked. Judged by the
    reader's policy on each event's ledger, computed once a page."""

    def __init__(self, user: Any, in_scope: set[int] | None = None) -> None:
        self.user = user
        self.in_scope = in_scope
        self._policies: dict[str, tuple[LedgerPolicy, dict[str, str | None]] | None] = {}

    def _policy(self, code: str) -> tuple[LedgerPolicy, dict[str, str | None]] | None:
        """The reader's policy on the ledger ``code`` and its fields' strictest levels."""
        if code not in self._policies:
            ledger = Ledger.objects.filter(code=code).first()
            self._policies[code] = (
                (policy_for(self.user, ledger), strictest_sensitivities(ledger)) if ledger else None
            )
        return self._policies[code]

    def details(self, event: AuditEvent) -> dict[str, Any]:
        details = event.details
        if event.action == "audit.read":
            return self._read_shown(details)
        part, name_of = {
            "search.run": ("terms", lambda name: name),
            "record.list": ("filters", lambda name: name.partition("__")[0]),
        }.get(event.action, (None, None))
        typed = details.get(part) if part and isinstance(details, dict) else None
        if not isinstance(typed, dict) or not typed:
            return details
        judged = self._policy(event.ledger_code)
        shown = {
            name: value
            if (part == "filters" and name in RESERVED)
            or (judged is not None and _readable(*judged, name_of(name)))
            else dict(MASKED)
            for name, value in typed.items()
        }
        return {**details, part: shown}

    def _read_shown(self, details: Any) -> Any:
        """An ``audit.read``'s ``events`` (and ``count``) as the reader may know of them:
        only those it reads itself. A read asking about no ledger (a city administrator's
        look at a clerk's trail) is an event of no ledger, which every 監査担当 reads, and
        named the DV events it showed to auditors who may not know of them."""
        if self.in_scope is None or not isinstance(details, dict):
            return details
        named = details.get("events")
        if not isinstance(named, list):
            return details
        shown = [seq for seq in named if seq in self.in_scope]
        return {**details, "events": shown, "count": len(shown)}


def _event(event: AuditEvent, typed: _TypedValues) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor.username if event.actor_id and event.actor else None,
        "action": event.action,
        "ledger": event.ledger_code,
        "record_id": str(event.record_id) if event.record_id else None,
        "generation": event.generation,
        "details": typed.details(event),
    }


class VerifyResultSerializer(serializers.Serializer):
    schema = serializers.CharField()
    ok = serializers.BooleanField()
    events = serializers.IntegerField()
    sealed_now = serializers.IntegerField()
    anchors_checked = serializers.IntegerField()
    head_hash = serializers.CharField(allow_blank=True)
    position = serializers.IntegerField(allow_null=True)
    seq = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class AuditVerifyView(APIView):
    required_scopes = {"POST": "audit:read"}

    @extend_schema(
        request=None,
        parameters=[retry_after_header(409)],
        responses={200: VerifyResultSerializer, 403: ErrorShape, 409: ErrorShape},
    )
    def post(self, request: Request) -> Response:
        require_auditor(request.user)
        # Never waits for a verification of the city already running (409): a waiting
        # request would hold a thread that serves every city.
        result = audit_verify(actor=request.user, wait=False)
        return Response(asdict(result))
