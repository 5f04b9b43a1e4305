"""Reads of the audit trail, for auditors (監査担当). Output paths apply the access policy."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from daicho.tenancy.guard import require_tenant
from ledgers.audit.models import AuditEvent

#: The actions whose events name the records they showed in their details.
SHOWING_ACTIONS = ("search.run", "record.list")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(
    *,
    actor: Any = None,
    ledger_code: str | None = None,
    record_id: uuid.UUID | str | None = None,
    action: str | None = None,
    at_from: date | datetime | None = None,
    at_to: date | datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The city's audit events that match every given filter, in ``seq`` order.

    ``actor`` is the person who acted (a user or a user id). The period is ``at_from``
    (inclusive) to ``at_to``: a date means that whole day in Japan time (both ends
    inclusive, as auditors write periods), a datetime is an exclusive upper bound.
    ``action`` ending in ``.`` matches every action with that prefix (``record.``).
    """
    require_tenant()
    events = AuditEvent.objects.all()
    if actor is not None:
        events = events.filter(actor_id=getattr(actor, "pk", actor))
    if ledger_code is not None:
        events = events.filter(ledger_code=ledger_code)
    if record_id is not None:
        # One spelling (lower case, hyphens) for the ids the details hold as text.
        record_id = str(uuid.UUID(str(record_id)))
        # A record's own events, and the searches and lists that showed it: they name the
        # records shown in their details (a page of ids), not in ``record_id``. Without
        # them "who looked this person up" missed every search. Index: audit_shown_records
        # (migration 0013), for exactly these two actions.
        shown = RawSQL(
            "coalesce(ledgers_auditevent.details -> 'results',"
            " ledgers_auditevent.details -> 'records') @> %s::jsonb",
            [json.dumps([str(record_id)])],
            output_field=BooleanField(),
        )
        events = events.filter(Q(record_id=record_id) | (Q(action__in=SHOWING_ACTIONS) & shown))
    if action is not None:
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    if at_from is not None:
        start = at_from if isinstance(at_from, datetime) else _start_of(at_from)
        events = events.filter(at__gte=start)
    # The last day Python knows (9999-12-31, "until further notice") has no day after it
    # to end on: the period is open at that end.
    if at_to is not None and (isinstance(at_to, datetime) or at_to < date.max):
        end = at_to if isinstance(at_to, datetime) else _start_of(at_to + timedelta(days=1))
        events = events.filter(at__lt=end)
    return events.order_by("seq")
