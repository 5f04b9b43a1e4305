"""The access policy: grants, role ceilings, disclosure flags, masks, validity dates."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Role
from ledgers.access.models import BreakGlassAccess
from ledgers.access.policy import ROLE_CEILING, policy_for
from ledgers.access.services import (
    break_glass_review,
    grants_replace,
    policy_view_as,
    record_break_glass,
)
from ledgers.audit.models import AuditEvent
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import field_add, field_remove, field_update, ledger_create
from ledgers.exceptions import AccessDenied, DefinitionInvalid, LedgerError, RecordNotFound
from ledgers.records.models import Record
from ledgers.records.services import (
    record_bulk_update,
    record_create,
    record_delete,
    record_update,
)
from tenants.exceptions import TenantRequired
from tests.conftest import City
from tests.ledgers.conftest import staff

ADDRESS = "東京都三鷹市下連雀九丁目8番7号"
DV_FIELDS = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal"},
    {"key": "address", "label": "現住所", "type": "address", "sensitivity": "special_care"},
    {"key": "category", "label": "区分", "type": "text", "sensitivity": "internal"},
    {"key": "disclosure", "label": "照会可否", "type": "department_flags",
     "options": {"departments": ["shimin", "shiminzei", "kodomo"]}},
    {"key": "related", "label": "関係者", "type": "group", "fields": [
        {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
        {"key": "address", "label": "住所", "type": "address", "sensitivity": "special_care"},
    ]},
]  # fmt: skip


@pytest.fixture
def departments(in_mitaka: City) -> dict[str, Department]:
    return {
        code: Department.objects.create(code=code, name=name)
        for code, name in [
            ("shimin", "市民課"),
            ("shiminzei", "市民税課"),
            ("kodomo", "子ども支援課"),
            ("soumu", "総務課"),
        ]
    }


@pytest.fixture
def dv(departments: dict[str, Department]) -> dict[str, Any]:
    """The DV ledger: 市民課 可, 市民税課 不可; one victim's record."""
    designer = staff("designer", departments["soumu"], Role.LEDGER_ADMIN)
    ledger = ledger_create(actor=designer, code="dv", name="DV等支援措置台帳", fields=DV_FIELDS)
    grants_replace(
        actor=designer, ledger=ledger,
        grants=[
            {"department": "soumu", "capabilities": ["view", "search", "create", "update", "delete", "design", "audit"], "clearance": "special_care"},
            {"department": "shimin", "capabilities": ["view", "search", "create", "update"], "clearance": "special_care"},
            {"department": "shiminzei", "capabilities": ["view", "search"], "clearance": "special_care"},
            {"department": "kodomo", "capabilities": ["view", "search"], "clearance": "personal"},
            {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
        ],
    )  # fmt: skip
    record = record_create(
        actor=designer, ledger=ledger,
        values={
            "name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, "address": {"text": ADDRESS},
            "category": "DV", "disclosure": {"shimin": "可", "shiminzei": "不可", "kodomo": "○"},
            "related": [{"name": "山田 太郎", "address": {"text": ADDRESS}}],
        },
    )  # fmt: skip
    return {
        "ledger": ledger,
        "record": record,
        "designer": designer,
        "shimin": staff("shimin_clerk", departments["shimin"], Role.EDITOR),
        "shiminzei": staff("zei_clerk", departments["shiminzei"], Role.EDITOR),
        "kodomo": staff("kodomo_clerk", departments["kodomo"], Role.VIEWER),
        "auditor": staff("auditor", departments["soumu"], Role.AUDITOR),
    }


def test_a_department_flagged_ka_sees_the_record(dv: dict[str, Any]) -> None:
    policy = policy_for(dv["shimin"], dv["ledger"])
    assert policy.get_record(dv["record"].pk).pk == dv["record"].pk
    assert policy.mask(dv["record"].data)["address"] == {"text": ADDRESS}


def test_a_department_flagged_fuka_gets_not_found_everywhere(dv: dict[str, Any]) -> None:
    policy = policy_for(dv["shiminzei"], dv["ledger"])
    assert policy.can("view")
    assert not policy.records(Record.objects.all()).exists()
    with pytest.raises(RecordNotFound) as hidden:
        policy.get_record(dv["record"].pk)
    with pytest.raises(RecordNotFound) as missing:
        policy.get_record("00000000-0000-4000-8000-000000000000")
    # Existence does not leak: the same error, code and message as a record that never was.
    assert (hidden.value.code, hidden.value.message) == (missing.value.code, missing.value.message)
    with pytest.raises(RecordNotFound):
        policy.get_record("not-a-uuid")


def test_fields_above_the_clearance_are_masked_also_inside_groups(dv: dict[str, Any]) -> None:
    policy = policy_for(dv["kodomo"], dv["ledger"])
    shown = policy.mask(policy.get_record(dv["record"].pk).data)
    assert shown["address"] == {"masked": True}
    assert shown["related"][0]["address"] == {"masked": True}
    assert shown["related"][0]["name"]["kanji"] == "山田 太郎"
    raw = json.dumps(shown, ensure_ascii=False)
    assert "下連雀" not in raw
    assert "九丁目" not in raw


def test_the_role_caps_what_a_grant_gives(
    dv: dict[str, Any], departments: dict[str, Department]
) -> None:
    viewer = staff("shimin_viewer", departments["shimin"], Role.VIEWER)
    policy = policy_for(viewer, dv["ledger"])
    assert policy.can("view")
    assert not policy.can("update")
    with pytest.raises(AccessDenied):
        record_update(
            actor=viewer, record=dv["record"], values={"category": "x"}, expected_generation=1
        )


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize(
    "capability",
    [
        "view",
        "search",
        "create",
        "update",
        "delete",
        "export",
        "import",
        "print",
        "design",
        "audit",
    ],
)
def test_permission_matrix_role_by_capability(
    dv: dict[str, Any], departments: dict[str, Department], role: str, capability: str
) -> None:
    """With a grant of every capability, a member can do exactly what their role allows."""
    grants_replace(
        actor=dv["designer"], ledger=dv["ledger"],
        grants=[{"department": "soumu", "capabilities": ["design"], "clearance": "internal"},
                {"department": "kodomo", "capabilities": sorted(ROLE_CEILING[Role.CITY_ADMIN]), "clearance": "special_care"}],
    )  # fmt: skip
    member = staff(f"m_{role}", departments["kodomo"], role)
    expected = capability in ROLE_CEILING[role] or (role == Role.CITY_ADMIN)
    assert policy_for(member, dv["ledger"]).can(capability) is expected


SERVICE_PATHS = {
    "create": lambda actor, dv: record_create(
        actor=actor, ledger=dv["ledger"], values={"name": "佐藤 一郎"}
    ),
    "update": lambda actor, dv: record_update(
        actor=actor, record=dv["record"], values={"category": "更新"}, expected_generation=1
    ),
    "delete": lambda actor, dv: record_delete(
        actor=actor, record=dv["record"], reason="誤登録のため"
    ),
    "design": lambda actor, dv: field_add(
        actor=actor, ledger=dv["ledger"], field={"key": "memo", "label": "メモ", "type": "text"}
    ),
}


OK, DENIED, HIDDEN = "ok", AccessDenied, RecordNotFound
# Who may do what through the services. 総務課 designs the ledger but is not among the
# departments its records are disclosed to: for it the record does not exist.
EXPECTED = {
    "shimin": {"create": OK, "update": OK, "delete": DENIED, "design": DENIED},
    "shiminzei": {"create": DENIED, "update": DENIED, "delete": DENIED, "design": DENIED},
    "kodomo": {"create": DENIED, "update": DENIED, "delete": DENIED, "design": DENIED},
    "auditor": {"create": DENIED, "update": DENIED, "delete": DENIED, "design": DENIED},
    "designer": {"create": OK, "update": HIDDEN, "delete": HIDDEN, "design": OK},
}


@pytest.mark.parametrize(
    ("who", "path"), [(who, path) for who, paths in EXPECTED.items() for path in paths]
)
def test_service_paths_allow_or_refuse_as_designed(dv: dict[str, Any], who: str, path: str) -> None:
    expected = EXPECTED[who][path]
    if expected == OK:
        SERVICE_PATHS[path](dv[who], dv)
        return
    before = (Record.objects.count(), AuditEvent.objects.count())
    with pytest.raises(expected):
        SERVICE_PATHS[path](dv[who], dv)
    assert (Record.objects.count(), AuditEvent.objects.count()) == before


def test_membership_validity_dates_open_and_close_access(
    dv: dict[str, Any], departments: dict[str, Department]
) -> None:
    newcomer = staff(
        "newcomer",
        departments["shimin"],
        Role.EDITOR,
        valid_from=date(2027, 4, 1),
        valid_to=date(2028, 3, 31),
    )
    ledger = dv["ledger"]
    assert not policy_for(newcomer, ledger, on=date(2027, 3, 31)).can("view")
    assert policy_for(newcomer, ledger, on=date(2027, 4, 1)).can("view")
    assert policy_for(newcomer, ledger, on=date(2028, 3, 31)).can("view")
    assert not policy_for(newcomer, ledger, on=date(2028, 4, 1)).can("view")
    assert not policy_for(newcomer, ledger).can("view")  # today is before the start


def test_view_as_is_read_only_and_audited(dv: dict[str, Any]) -> None:
    preview = policy_view_as(actor=dv["designer"], ledger=dv["ledger"], colleague=dv["kodomo"])
    assert preview.read_only
    assert preview.mask(dv["record"].data)["address"] == {"masked": True}
    event = AuditEvent.objects.get(action="access.view_as")
    assert (event.actor_id, event.details) == (dv["designer"].pk, {"as_user": dv["kodomo"].pk})
    with pytest.raises(AccessDenied):
        policy_view_as(actor=dv["shimin"], ledger=dv["ledger"], colleague=dv["kodomo"])
    designer_as_shimin = policy_view_as(
        actor=dv["designer"], ledger=dv["ledger"], colleague=dv["shimin"]
    )
    assert not designer_as_shimin.can("update")


def test_break_glass_opens_the_record_flags_it_and_waits_for_review(dv: dict[str, Any]) -> None:
    with pytest.raises(LedgerError, match="10文字"):
        record_break_glass(
            actor=dv["shiminzei"], ledger=dv["ledger"], record_id=dv["record"].pk, reason="急ぎ"
        )
    record, policy = record_break_glass(
        actor=dv["shiminzei"], ledger=dv["ledger"], record_id=dv["record"].pk,
        reason="課税調査で本人の安全確認が必要なため（課長了承済み）",
    )  # fmt: skip
    assert record.pk == dv["record"].pk
    assert policy.mask(record.data)["address"] == {"text": ADDRESS}
    access = BreakGlassAccess.objects.get()
    assert access.review == "pending"
    event = AuditEvent.objects.get(action="record.break_glass")
    assert event.details["break_glass"] is True
    with pytest.raises(AccessDenied):
        break_glass_review(actor=dv["shimin"], access=access, approve=True)
    reviewed = break_glass_review(actor=dv["auditor"], access=access, approve=True, note="妥当")
    assert (reviewed.review, reviewed.reviewed_by_id) == ("approved", dv["auditor"].pk)


@pytest.mark.parametrize(
    "reason",
    [
        "\u200b" * 10,  # ten zero-width spaces made the ten letters
        "課税調査で本人の安全確認が\u202e要必ためるあが",  # reads otherwise than it is
    ],
)
def test_a_break_glass_reason_is_held_to_the_stored_text_rule(
    dv: dict[str, Any], reason: str
) -> None:
    """The auditor reviews an emergency read of a DV record by its reason: one of invisible
    characters passed the 10-letter minimum, one with a right-to-left override read
    otherwise than it was (the record services' reasons were held to the rule, this one
    not). Refused; nothing opened, flagged or audited. No route opens such a read yet: the
    service is the only way in."""
    with pytest.raises(LedgerError, match="理由に") as refused:
        record_break_glass(
            actor=dv["shiminzei"], ledger=dv["ledger"], record_id=dv["record"].pk, reason=reason
        )
    assert refused.value.detail == {"reason": "invalid_character"}
    assert not BreakGlassAccess.objects.exists()
    assert not AuditEvent.objects.filter(action="record.break_glass").exists()
    access = BreakGlassAccess.objects.create(
        actor=dv["shiminzei"], ledger=dv["ledger"], record_id=dv["record"].pk, reason="x" * 10
    )
    with pytest.raises(LedgerError, match="確認メモに"):
        break_glass_review(actor=dv["auditor"], access=access, approve=True, note=reason)
    access.refresh_from_db()
    assert (access.review, access.review_note) == ("pending", "")


def test_grants_are_validated_and_their_change_audited(dv: dict[str, Any]) -> None:
    with pytest.raises(DefinitionInvalid) as info:
        grants_replace(
            actor=dv["designer"],
            ledger=dv["ledger"],
            grants=[{"department": "nope", "capabilities": ["fly"]}],
        )
    assert "grants[1]" in info.value.errors
    with pytest.raises(AccessDenied):
        grants_replace(actor=dv["shimin"], ledger=dv["ledger"], grants=[])
    grants_replace(
        actor=dv["designer"],
        ledger=dv["ledger"],
        grants=[{"department": "soumu", "capabilities": ["design"]}],
    )
    event = AuditEvent.objects.filter(action="grant.change").latest("seq")
    assert event.details["after"] == [
        {
            "department": "soumu", "role": None, "capabilities": ["design"],
            "clearance": "internal", "search_screens": None,
        }
    ]  # fmt: skip
    assert not policy_for(dv["shimin"], dv["ledger"]).can("view")


def test_another_city_and_the_operators_see_nothing(dv: dict[str, Any], musashino: City) -> None:
    record_id = dv["record"].pk
    with schema_context(musashino.slug):
        assert not Ledger.objects.filter(code="dv").exists()
        assert not Record.objects.filter(pk=record_id).exists()
    with schema_context("public"):
        assert connection.schema_name == "public"
        with pytest.raises(TenantRequired):
            record_create(actor=None, ledger=dv["ledger"], values={"name": "x"})


def test_nobody_without_a_grant_and_no_anonymous_writer(dv: dict[str, Any]) -> None:
    with pytest.raises(AccessDenied):
        record_create(actor=None, ledger=dv["ledger"], values={"name": "匿名"})
    assert Record.objects.count() == 1


@pytest.mark.parametrize("who", ["designer", "shimin", "shiminzei", "kodomo", "auditor"])
def test_the_record_filter_in_python_agrees_with_the_database(dv: dict[str, Any], who: str) -> None:
    """``shows`` (used on values already read) is ``record_filter`` (used in queries)."""
    policy = policy_for(dv[who], dv["ledger"])
    in_database = policy.records(Record.objects.filter(pk=dv["record"].pk)).exists()
    record = dv["record"]
    assert policy.shows(record.data, written_under=record.definition_version) is in_database
    assert policy.shows({"disclosure": {"shiminzei": True}}, written_under=1) is (
        who == "shiminzei"
    )


def _disclosure_keys(ledger: Ledger, record_id: Any) -> dict[str, bool]:
    from ledgers.search.keys import disclosure_key

    keys = set(Record.objects.get(pk=record_id).search_keys)
    return {
        code: disclosure_key(ledger.pk, "disclosure", code) in keys
        for code in ("shimin", "shiminzei", "kodomo")
    }


def test_a_record_carries_a_disclosure_key_for_each_department_flagged_ka(
    dv: dict[str, Any],
) -> None:
    """The access filter finds a department's records through the search keys' GIN index:
    the keys follow the flags through every write."""
    ledger, record = dv["ledger"], dv["record"]
    assert _disclosure_keys(ledger, record.pk) == {
        "shimin": True,
        "shiminzei": False,
        "kodomo": True,
    }
    record_update(
        actor=dv["shimin"], record=record, expected_generation=1,
        values={"disclosure": {"shimin": "不可", "shiminzei": "可", "kodomo": "○"}},
    )  # fmt: skip
    assert _disclosure_keys(ledger, record.pk) == {
        "shimin": False,
        "shiminzei": True,
        "kodomo": True,
    }
    assert not policy_for(dv["shimin"], ledger).records(Record.objects.all()).exists()
    assert policy_for(dv["shiminzei"], ledger).get_record(record.pk).pk == record.pk


def test_a_disclosure_key_without_its_flag_discloses_nothing(dv: dict[str, Any]) -> None:
    """A key is a 32-bit hash: a record holding 市民税課's key by chance (a collision) must
    still be refused, because the filter rechecks the flag itself."""
    from ledgers.search.keys import disclosure_key

    ledger, record = dv["ledger"], dv["record"]
    forged = disclosure_key(ledger.pk, "disclosure", "shiminzei")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledgers_record SET search_keys = search_keys || ARRAY[%s] WHERE id = %s",
            [forged, record.pk],
        )
    policy = policy_for(dv["shiminzei"], ledger)
    assert not policy.records(Record.objects.all()).exists()
    with pytest.raises(RecordNotFound):
        policy.get_record(record.pk)


def test_the_migration_gives_existing_records_their_disclosure_keys(dv: dict[str, Any]) -> None:
    """Records written before the keys existed get them from migration 0007's backfill."""
    import importlib

    from django.apps import apps

    ledger, record = dv["ledger"], dv["record"]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledgers_record SET search_keys = '{}' WHERE id = %s", [record.pk])
    assert not policy_for(dv["shimin"], ledger).records(Record.objects.all()).exists()
    migration = importlib.import_module("ledgers.migrations.0007_disclosure_keys")
    with connection.schema_editor() as editor:
        migration.add_disclosure_keys(apps, editor)
        migration.add_disclosure_keys(apps, editor)  # run twice: no key twice
    assert _disclosure_keys(ledger, record.pk) == {
        "shimin": True,
        "shiminzei": False,
        "kodomo": True,
    }
    assert len(Record.objects.get(pk=record.pk).search_keys) == 2
    assert policy_for(dv["shimin"], ledger).get_record(record.pk).pk == record.pk


def test_a_record_read_is_the_record_the_orm_loads_its_index_deferred(dv: dict[str, Any]) -> None:
    """get_record and view_record build the model from the row themselves (no raw query
    set); every loaded field must be what the ORM gives, values converted (the JSON data a
    dict, not its text), the index columns deferred, the instance a saved one."""
    from django.db.models.query_utils import DeferredAttribute

    record = dv["record"]
    expected = Record.objects.get(pk=record.pk)
    policy = policy_for(dv["shimin"], dv["ledger"])
    for read in (policy.get_record(record.pk), policy.view_record(record.pk, actor=dv["shimin"])):
        assert read.get_deferred_fields() == {"search_keys", "search_text"}
        assert isinstance(Record.__dict__["search_keys"], DeferredAttribute)
        for field in Record._meta.concrete_fields:
            if field.attname not in {"search_keys", "search_text"}:
                assert getattr(read, field.attname) == getattr(expected, field.attname), field
        assert isinstance(read.data, dict)
        assert read._state.adding is False
        assert read._state.db == "default"
        assert read.ledger is dv["ledger"]
        assert read.search_keys == expected.search_keys  # loaded when asked, as deferred


def test_a_complete_mask_names_every_hidden_field_filled_or_not(dv: dict[str, Any]) -> None:
    """A marker only where a value is would tell which hidden fields are filled in."""
    empty = record_create(
        actor=dv["designer"], ledger=dv["ledger"],
        values={
            "name": {"kanji": "川田 一子", "kana": "カワダ イチコ"},
            "disclosure": {"kodomo": "可"}, "related": [{"name": "川田 次郎"}],
        },
    )  # fmt: skip
    policy = policy_for(dv["kodomo"], dv["ledger"])
    filled = policy.mask(dv["record"].data, complete=True)
    unfilled = policy.mask(empty.data, complete=True)
    assert filled["address"] == unfilled["address"] == {"masked": True}
    assert unfilled["related"][0]["address"] == {"masked": True}
    assert unfilled["related"][0]["name"]["kanji"] == "川田 次郎"
    # A search's result fields: only those it shows, the hidden ones among them masked.
    assert "address" not in policy.mask({"name": empty.data["name"]})
    # A field the clearance reads is not invented where it is empty.
    assert "category" not in unfilled
    # One cleared for the address sees the empty one as empty.
    assert "address" not in policy_for(dv["shimin"], dv["ledger"]).mask(empty.data, complete=True)


def test_a_complete_mask_leaves_removed_fields_out(dv: dict[str, Any]) -> None:
    """A removed field is no part of the record any more: not named where it is empty, nor,
    for a reader it is masked for, where an old value stays in the data (named masked there
    only, it told which records held one); a reader cleared for it reads that value."""
    empty = record_create(
        actor=dv["designer"], ledger=dv["ledger"],
        values={"name": {"kanji": "川田 一子", "kana": "カワダ イチコ"}, "related": [{"name": "川田 次郎"}]},
    )  # fmt: skip
    field_remove(actor=dv["designer"], ledger=dv["ledger"], key="address")
    policy = policy_for(dv["kodomo"], Ledger.objects.get(pk=dv["ledger"].pk))
    shown = policy.mask(empty.data, complete=True)
    assert "address" not in shown
    assert shown["related"][0]["address"] == {"masked": True}
    assert "address" not in policy.mask(dv["record"].data, complete=True)
    cleared = policy_for(dv["shimin"], Ledger.objects.get(pk=dv["ledger"].pk))
    assert cleared.mask(dv["record"].data, complete=True)["address"] == dv["record"].data["address"]


def _relist(dv: dict[str, Any], departments: list[str]) -> Ledger:
    return field_update(
        actor=dv["designer"], ledger=Ledger.objects.get(pk=dv["ledger"].pk), key="disclosure",
        changes={"options": {"departments": departments}},
    )  # fmt: skip


def test_a_department_added_back_starts_from_fuka_in_every_path(
    dv: dict[str, Any], departments: dict[str, Department]
) -> None:
    """市民課 taken off the 照会可否 list and added back: the 可 the record stored before is
    no decision about it (the filter, ``shows`` and a bulk change of other values agree),
    and the point it was added back is the version that added it, kept by later changes."""
    record = dv["record"]
    _relist(dv, ["shiminzei", "kodomo"])
    ledger = _relist(dv, ["shimin", "shiminzei", "kodomo"])
    assert ledger.definition["disclosure"] == {
        "field": "disclosure", "listed_since": {"shimin": ledger.definition_version},
    }  # fmt: skip
    ledger = field_update(
        actor=dv["designer"], ledger=ledger, key="disclosure", changes={"label": "照会の可否"}
    )
    assert ledger.definition["disclosure"]["listed_since"] == {
        "shimin": ledger.definition_version - 1
    }
    shimin, kodomo = policy_for(dv["shimin"], ledger), policy_for(dv["kodomo"], ledger)
    assert not shimin.records(Record.objects.filter(pk=record.pk)).exists()
    assert not shimin.shows(record.data, written_under=record.definition_version)
    # 子ども支援課, listed all along, still sees it and changes nothing about 市民課.
    assert kodomo.shows(record.data, written_under=record.definition_version)
    grants_replace(
        actor=dv["designer"], ledger=ledger,
        grants=[
            {"department": "soumu", "capabilities": ["design"], "clearance": "internal"},
            {"department": "shimin", "capabilities": ["view"], "clearance": "special_care"},
            {"department": "kodomo", "capabilities": ["view", "update"], "clearance": "special_care"},
        ],
    )  # fmt: skip
    editor = staff("kodomo_editor", departments["kodomo"], Role.EDITOR)
    (changed,) = record_bulk_update(
        actor=editor, ledger=ledger, changes=[(record.pk, 1, {"category": "DV・ストーカー"})]
    )
    assert changed == (record.pk, 2)
    stored = Record.objects.get(pk=record.pk)
    assert stored.data["disclosure"] == {"shimin": False, "shiminzei": False, "kodomo": True}
    assert not shimin.records(Record.objects.filter(pk=record.pk)).exists()
    # Taken off again, the point goes with it.
    ledger = _relist(dv, ["shiminzei", "kodomo"])
    assert "listed_since" not in ledger.definition["disclosure"]
