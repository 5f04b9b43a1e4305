"""API fixtures: staff of Mitaka with tokens, and the DV ledger, through the real routing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.services import grants_replace
from ledgers.api.tokens.services import token_issue
from ledgers.definitions.services import ledger_create
from ledgers.records.services import record_create
from tests.conftest import City

HOST = "mitaka.localhost"
ADDRESS = "東京都三鷹市下連雀九丁目8番7号"
DV_DOCUMENT: dict[str, Any] = {
    "code": "dv",
    "name": "DV等支援措置台帳",
    "category": "住民記録",
    "retention_years": 5,
    "fields": [
        {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal"},
        {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
        {"key": "address", "label": "現住所", "type": "address", "sensitivity": "special_care"},
        {"key": "amount", "label": "支援額", "type": "integer", "sensitivity": "internal"},
        {"key": "disclosure", "label": "照会可否", "type": "department_flags",
         "options": {"departments": ["shimin", "shiminzei"]}},
        {"key": "offenders", "label": "加害者", "type": "group", "fields": [
            {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
            {"key": "relation", "label": "続柄", "type": "choice", "options": {"choices": ["配偶者", "元配偶者", "その他"]}},
        ]},
    ],
    "search_screens": [
        {"code": "latest", "name": "本人検索（最新）", "generations": "current", "reason_required": True,
         "criteria": [{"field": "name", "match": "contains"}, {"field": "birth_date", "match": "range"},
                      {"field": "address", "match": "contains"}],
         "result_fields": ["name", "birth_date", "address"]},
        {"code": "past", "name": "本人検索（過去）", "generations": "all", "reason_required": True,
         "criteria": [{"field": "name", "match": "contains"}, {"field": "birth_date", "match": "range"}],
         "result_fields": ["name", "birth_date"]},
        {"code": "offender", "name": "加害者検索", "generations": "current", "reason_required": True,
         "criteria": [{"field": "offenders.name", "match": "contains"}],
         "result_fields": ["name"], "excluded_fields": ["address", "birth_date"], "max_results": 50},
    ],
}  # fmt: skip


class Api:
    """A client on Mitaka's host acting with one staff member's token."""

    def __init__(self, user: Any, scopes: list[str] | None = None) -> None:
        with schema_context("mitaka"):
            self.token = token_issue(actor=user, user=user, scopes=scopes or ["*"]).token
        self.user = user
        self.client = APIClient(HTTP_HOST=HOST)
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.client, method)

        def send(path: str, data: Any = None, **extra: Any) -> Any:
            if method in {"post", "put", "patch", "delete"}:
                return call(path, data, format="json", **extra)
            return call(path, data, **extra)

        return send


@pytest.fixture
def city(mitaka: City) -> Iterator[dict[str, Any]]:
    """Departments, staff with memberships, the DV ledger with grants, one record."""
    with schema_context("mitaka"):
        departments = {
            code: Department.objects.create(code=code, name=name)
            for code, name in [("shimin", "市民課"), ("shiminzei", "市民税課"), ("soumu", "総務課")]
        }
        user_model = get_user_model()

        def member(username: str, department: str, role: str) -> Any:
            user = user_model.objects.create_user(
                username=username, password="S3cret!pass-api", display_name=username
            )
            Membership.objects.create(
                user=user,
                department=departments[department],
                role=role,
                valid_from=date(2026, 4, 1),
            )
            return user

        people = {
            "admin": user_model.objects.get(username="admin"),
            "designer": member("designer", "soumu", Role.LEDGER_ADMIN),
            "clerk": member("clerk", "shimin", Role.EDITOR),
            "zei": member("zei", "shiminzei", Role.EDITOR),
            "auditor": member("auditor", "soumu", Role.AUDITOR),
        }
        ledger = ledger_create(actor=people["designer"], **DV_DOCUMENT)
        grants_replace(
            actor=people["designer"], ledger=ledger,
            grants=[
                {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
                {"department": "shimin", "capabilities": ["view", "search", "create", "update", "delete", "export"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search", "create", "update"], "clearance": "personal"},
                {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
            ],
        )  # fmt: skip
        record = record_create(
            actor=people["clerk"], ledger=ledger,
            values={
                "name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, "birth_date": "昭和60年3月3日",
                "address": {"postal_code": "181-0013", "text": ADDRESS}, "amount": 1000,
                "disclosure": {"shimin": True, "shiminzei": False},
                "offenders": [{"name": {"kanji": "山田 太郎", "kana": "ヤマダ タロウ"}, "relation": "配偶者"}],
            },
        )  # fmt: skip
        yield {"people": people, "ledger": ledger, "record": record, "departments": departments}


@pytest.fixture
def api(city: dict[str, Any]) -> Any:
    """``api("clerk")`` → a client with that person's token (all scopes unless told)."""

    def make(who: str, scopes: list[str] | None = None) -> Api:
        return Api(city["people"][who], scopes)

    return make


def assert_documented(response: Any, path: str, method: str) -> None:
    """The answer matches what ``/api/schema/`` says ``method path`` answers with its status
    (a client generated from the schema reads the keys the schema names)."""
    document = (
        APIClient(HTTP_HOST=HOST)
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )
    answer = document["paths"][path][method]["responses"][str(response.status_code)]
    schema = answer["content"]["application/json"]["schema"]
    validator = OAS30Validator({**schema, "components": document["components"]})
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, errors


def records_url(record_id: Any = None, suffix: str = "") -> str:
    base = "/api/v1/ledgers/dv/records/"
    return f"{base}{record_id}/{suffix}" if record_id else base


def subsidy_ledger(city: dict[str, Any], grants: list[dict[str, Any]]) -> Any:
    """補助金交付台帳 (``subsidy``, one text field) made by the designer, with ``grants``:
    a second ledger of Mitaka, beside the DV ledger."""
    with schema_context("mitaka"):
        ledger = ledger_create(
            actor=city["people"]["designer"], code="subsidy", name="補助金交付台帳",
            fields=[{"key": "note", "label": "備考", "type": "text"}],
        )  # fmt: skip
        grants_replace(actor=city["people"]["designer"], ledger=ledger, grants=grants)
    return ledger


#: A ledger of links (``links``) whose records name others: a reference field and a group
#: with a reference sub-field (tests/api/test_references.py, test_reference_probes.py).
LINK_FIELDS: list[dict[str, Any]] = [
    {"key": "title", "label": "件名", "type": "text"},
    {"key": "case", "label": "関連記録", "type": "reference"},
    {"key": "parties", "label": "関係者", "type": "group", "fields": [
        {"key": "name", "label": "氏名", "type": "text"},
        {"key": "record", "label": "記録", "type": "reference"},
    ]},
]  # fmt: skip
LINKS_URL = "/api/v1/ledgers/links/records/"


def links_ledger(designer: Any) -> Any:
    """The ledger ``links`` (``LINK_FIELDS``), which 市民課 and 市民税課 view, search, create
    and update up to personal data; in the current schema."""
    from ledgers.access.services import grants_replace
    from ledgers.definitions.services import ledger_create

    ledger = ledger_create(actor=designer, code="links", name="関連", fields=LINK_FIELDS)
    grants_replace(
        actor=designer, ledger=ledger,
        grants=[{"department": d, "capabilities": ["view", "search", "create", "update"],
                 "clearance": "personal"} for d in ("shimin", "shiminzei")],
    )  # fmt: skip
    return ledger


def audit_last_seq() -> int:
    """The number of Mitaka's last audit event (0 for none)."""
    from ledgers.audit.models import AuditEvent

    with schema_context("mitaka"):
        return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def audit_events_since(seq: int) -> list[Any]:
    """Mitaka's audit events after ``seq``, in order."""
    from ledgers.audit.models import AuditEvent

    with schema_context("mitaka"):
        return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))
