"""Writes to ledger definitions. Every change makes a new definition version.

The services validate the whole resulting document with the field-type registry before
writing anything, lock the ledger row so that two changes cannot take the same version
number, and leave an audit event in the same transaction.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from django.db import IntegrityError, connection, transaction

from daicho.tenancy.guard import require_tenant
from ledgers.audit.services import audit_record
from ledgers.definitions.models import (
    FIELD_KEY_RE,
    LEDGER_CODE_RE,
    Ledger,
    LedgerVersion,
    Sensitivity,
)
from ledgers.exceptions import AccessDenied, DefinitionInvalid
from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldError
from ledgers.fields.normalize import text_problem, texts_in
from ledgers.search.screens import screens_validate
from ledgers.tags import content_tag, tag_require

FIELD_ATTRIBUTES = {
    "key", "label", "type", "required", "help_text", "options", "sensitivity", "section",
    "fields", "removed",
}  # fmt: skip
# Types whose options cannot change meaning for stored values once records exist.
_SENSITIVITIES = {s.value for s in Sensitivity}


def _normalise_field(
    spec: Mapping[str, Any], where: str, errors: dict[str, list[str]]
) -> dict[str, Any]:
    def add(message: str) -> None:
        errors.setdefault(where, []).append(message)

    if not isinstance(spec, Mapping):
        add("項目はオブジェクトで指定してください。")
        return {}
    unknown = sorted(set(spec) - FIELD_ATTRIBUTES)
    if unknown:
        add(f"不明な属性です: {'、'.join(unknown)}")
    key = spec.get("key")
    if not isinstance(key, str) or not re.fullmatch(FIELD_KEY_RE, key):
        add("キーは英小文字で始まる英小文字・数字・_（64文字まで）にしてください。")
    label = spec.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 200:
        add("項目名（label）を200文字以内で入力してください。")
    sensitivity = spec.get("sensitivity", Sensitivity.INTERNAL.value)
    if not isinstance(sensitivity, str) or sensitivity not in _SENSITIVITIES:
        add(f"機密区分は {', '.join(sorted(_SENSITIVITIES))} のいずれかにしてください。")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        add("required は true か false にしてください。")
    for name, limit in (("help_text", 2000), ("section", 200)):
        text = spec.get(name)
        if text is not None and (not isinstance(text, str) or len(text) > limit):
            # Stored as the text of whatever it was ("{'a': 1}") before.
            add(f"{name} は{limit}文字以内の文字列で指定してください。")
    options: Any = copy.deepcopy(spec.get("options") or {})
    type_id = spec.get("type")
    if "fields" in spec:
        # The API document puts a group's sub-fields beside its type; options hold them.
        if not isinstance(options, dict):
            options = {}
        if "fields" in options and options["fields"] != spec["fields"]:
            # Two lists of sub-fields: keeping either would drop the other's edit unsaid.
            add("グループの列は fields に指定してください（options.fields と食い違っています）。")
        options["fields"] = copy.deepcopy(spec["fields"])
    try:
        field_type = field_type_registry.get(type_id)
    except FieldError:
        add(f"不明な型です: {type_id!r}")
        options = {}
    else:
        type_id = field_type.type
        try:
            options = field_type.validate_options(options)
        except FieldError as exc:
            add(f"オプション: {exc.message}")
            # Options of the wrong kinds are refused; the checks after this one (sub-field
            # types, screens' paths) read normalised options only.
            options = {}
    normalised = {
        "key": key,
        "label": label.strip() if isinstance(label, str) else label,
        "type": type_id,
        "required": required,
        "help_text": str(spec.get("help_text") or ""),
        "options": options,
        "sensitivity": sensitivity,
        "section": str(spec.get("section") or ""),
    }
    if spec.get("removed"):
        normalised["removed"] = True
    return normalised


def _validate_layout(
    layout: Any, fields: list[dict[str, Any]], errors: dict[str, list[str]]
) -> dict[str, Any]:
    """A layout is sections of rows of field keys; each live field at most once."""
    if layout in (None, {}):
        return {"sections": []}
    live = {f["key"] for f in fields if not f.get("removed") and isinstance(f.get("key"), str)}
    seen: set[str] = set()

    def add(message: str) -> None:
        errors.setdefault("layout", []).append(message)

    if not isinstance(layout, Mapping) or not isinstance(layout.get("sections"), list):
        add('レイアウトは {"sections": [...]} の形で指定してください。')
        return {"sections": []}
    sections = []
    for s_index, section in enumerate(layout["sections"], start=1):
        if not isinstance(section, Mapping) or not isinstance(section.get("rows", []), list):
            add(f"{s_index}番目の区画の形が正しくありません。")
            continue
        rows = []
        for r_index, row in enumerate(section.get("rows", []), start=1):
            if not isinstance(row, list) or not row:
                add(f"{s_index}番目の区画の{r_index}行目が空か、配列ではありません。")
                continue
            for key in row:
                if not isinstance(key, str) or key not in live:
                    add(f"{s_index}番目の区画の{r_index}行目: 項目「{key}」はありません。")
                    continue
                if key in seen:
                    add(f"項目「{key}」がレイアウトに2回以上あります。")
                seen.add(key)
            rows.append(list(row))
        sections.append({"title": str(section.get("title") or ""), "rows": rows})
    return {"sections": sections}


#: Names the records list takes as its own parameters (``?state=``, ``?cursor=``, …) and
#: the record read's ``as_of``: a field of that name could not be filtered on. ``__``
#: separates a key from its filter (``amount__gte``). New fields only: a ledger that has
#: one already keeps it.
RESERVED_FIELD_KEYS = frozenset(
    {"state", "updated_since", "page_size", "cursor", "count", "deleted", "format", "as_of"}
)


def _unstorable_text_errors(
    definition: Mapping[str, Any], previous: Mapping[str, Any] | None, errors: dict[str, list[str]]
) -> None:
    """Add an error for each part of ``definition`` (a field's attribute, the layout, a
    search screen's attribute) holding a text no stored text may be (``text_problem``: a
    control character, a lone surrogate, an invisible or bidirectional character).

    A NUL or a lone surrogate in a label, a choice or a title failed the write: a server
    error that logged the statement with the whole definition; an invisible character made
    two labels or choices look the same. A text the previous version held already passes:
    written before the rule, it must not block every later change of the ledger (a removed
    field, kept as it was, cannot even be edited)."""
    held = frozenset(texts_in(previous)) if previous else frozenset()
    parts: list[tuple[str, Any]] = [("layout", definition["layout"])]
    for name, items in (
        ("fields", definition["fields"]),
        ("search_screens", definition["search_screens"]),
    ):
        for index, item in enumerate(items, start=1):
            label = item.get("key") if name == "fields" else item.get("code")
            parts += [
                (f"{name}[{index}]（{label}）.{attribute}", value)
                for attribute, value in item.items()
            ]
    for where, part in parts:
        for text in texts_in(part):
            problem = None if text in held else text_problem(text)
            if problem is not None:
                errors.setdefault(where, []).append(f"{problem}。")
                break


def definition_validate(
    document: Mapping[str, Any],
    *,
    previous: Mapping[str, Any] | None = None,
    past_sub_types: Callable[[], Mapping[tuple[str, str], set[str]]] | None = None,
) -> dict[str, Any]:
    """Validate a whole definition document and return it normalised.

    With ``previous`` (the ledger's current definition), keys and types of existing fields
    must not change, and fields missing from the new document are kept as removed: old
    values are never orphaned. ``past_sub_types`` gives the types each group's sub-fields
    had in any version (``_past_sub_types``), asked only when a group gains a sub-field
    key its previous version did not hold.
    """
    errors: dict[str, list[str]] = {}
    raw_fields = document.get("fields", [])
    if not isinstance(raw_fields, list):
        raise DefinitionInvalid({"fields": ["fields は配列で指定してください。"]})
    fields: list[dict[str, Any]] = []
    keys: set[str] = set()
    for index, spec in enumerate(raw_fields, start=1):
        where = f"fields[{index}]" + (
            f"（{spec.get('key')}）" if isinstance(spec, Mapping) and spec.get("key") else ""
        )
        field = _normalise_field(spec, where, errors)
        key = field.get("key")
        if isinstance(key, str):
            if key in keys:
                errors.setdefault(where, []).append(f"キー「{key}」が重複しています。")
            keys.add(key)
        fields.append(field)
    before = {f["key"]: f for f in (previous or {}).get("fields", [])}
    for field in fields:
        key = field.get("key")
        if (
            isinstance(key, str)
            and key not in before
            and (key in RESERVED_FIELD_KEYS or "__" in key)
        ):
            errors.setdefault(f"fields（{key}）", []).append(
                "このキーは使えません（一覧の条件の名前、または「__」を含む）。"
            )
    if previous:
        for field in fields:
            old = before.get(field["key"]) if isinstance(field.get("key"), str) else None
            if old is not None and old["type"] != field.get("type"):
                errors.setdefault(f"fields（{field['key']}）", []).append(
                    f"既存の項目の型は変更できません（{old['type']} → {field.get('type')}）。新しいキーで項目を追加してください。"
                )
            elif old is not None:
                _sub_types_kept(old, field, errors, past_sub_types)
        for key, old in before.items():
            if key not in keys:
                fields.append({**old, "removed": True})
        # The 照会可否 field hides each record from the departments it says 不可 for:
        # without it every department with view would see every record.
        live = {f["key"] for f in fields if not f.get("removed") and isinstance(f.get("key"), str)}
        for key, old in before.items():
            if old["type"] == "department_flags" and not old.get("removed") and key not in live:
                errors.setdefault(f"fields（{key}）", []).append(
                    "照会可否の項目は削除できません。削除すると「不可」の課にもすべての記録が"
                    "見えるようになります。"
                )
    layout = _validate_layout(document.get("layout"), fields, errors)
    search_screens = screens_validate(document.get("search_screens") or [], fields, errors)
    definition = {"fields": fields, "layout": layout, "search_screens": search_screens}
    if not errors:
        _unstorable_text_errors(definition, previous, errors)
    if errors:
        raise DefinitionInvalid(errors)
    return definition


def _sub_types_kept(
    old: Mapping[str, Any],
    field: Mapping[str, Any],
    errors: dict[str, list[str]],
    past_sub_types: Callable[[], Mapping[tuple[str, str], set[str]]] | None = None,
) -> None:
    """A group's sub-fields keep their types too, a sub-field dropped and added again
    included: its values stay in the rows already stored (a group's date read as a name
    made every write of those records a server error)."""
    old_subs = {s["key"]: s for s in (old.get("options") or {}).get("fields") or []}
    past: Mapping[tuple[str, str], set[str]] | None = None
    for sub in (field.get("options") or {}).get("fields") or []:
        before = old_subs.get(sub.get("key")) if isinstance(sub, Mapping) else None
        if before is not None:
            had = {before.get("type")}
        elif past_sub_types is not None:
            past = past_sub_types() if past is None else past
            had = past.get((field["key"], sub["key"]), set())
        else:
            continue
        if had and sub.get("type") not in had:
            errors.setdefault(f"fields（{field['key']}.{sub['key']}）", []).append(
                f"既存の項目の型は変更できません（{'・'.join(sorted(map(str, had)))} → "
                f"{sub.get('type')}）。新しいキーで項目を追加してください。"
            )


_PAST_SUB_TYPES_SQL = """
SELECT DISTINCT f->>'key', s->>'key', s->>'type'
FROM {table} AS v,
     jsonb_array_elements(CASE WHEN jsonb_typeof(v.definition->'fields') = 'array'
                               THEN v.definition->'fields' ELSE '[]' END) AS f,
     jsonb_array_elements(CASE WHEN jsonb_typeof(f->'options'->'fields') = 'array'
                               THEN f->'options'->'fields' ELSE '[]' END) AS s
WHERE v.ledger_id = %s AND jsonb_typeof(s) = 'object'
"""


def _past_sub_types(ledger: Ledger) -> Callable[[], dict[tuple[str, str], set[str]]]:
    """Every type each (group, sub-field) key had in any version of ``ledger``'s
    definition, read by one query when first asked (a sub-field dropped from its group
    leaves no trace in the versions after)."""

    def read() -> dict[tuple[str, str], set[str]]:
        found: dict[tuple[str, str], set[str]] = {}
        sql = _PAST_SUB_TYPES_SQL.format(table=LedgerVersion._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(sql, [ledger.pk])
            for group, sub, type_id in cursor.fetchall():
                found.setdefault((group, sub), set()).add(type_id)
        return found

    return read


def _ledger_meta_errors(
    *,
    code: str | None,
    name: str,
    retention_years: Any,
    sensitivity: str,
    texts: Mapping[str, str | None] | None = None,
    stored: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """What is wrong with a ledger's own attributes. A text equal to the one ``stored``
    holds under its name passes ``text_problem`` (written before the rule: a change of the
    retention must not fail on the name)."""
    errors: dict[str, list[str]] = {}
    for key, text in {"name": name, **(texts or {})}.items():
        if not isinstance(text, str) or text == (stored or {}).get(key):
            continue
        if (problem := text_problem(text)) is not None:
            errors[key] = [f"{problem}。"]
    if code is not None and not re.match(LEDGER_CODE_RE, code or ""):
        errors["code"] = [
            "台帳コードは英小文字で始まる英小文字・数字・_（64文字まで）にしてください。"
        ]
    if not (name or "").strip() or len(name) > 200:
        errors["name"] = ["台帳名を200文字以内で入力してください。"]
    if retention_years is not None and (
        not isinstance(retention_years, int)
        or isinstance(retention_years, bool)
        or not 1 <= retention_years <= 100
    ):
        errors["retention_years"] = ["保存年限は1〜100の年数か、永年（null）にしてください。"]
    if sensitivity not in _SENSITIVITIES:
        errors["sensitivity"] = [
            f"機密区分は {', '.join(sorted(_SENSITIVITIES))} のいずれかにしてください。"
        ]
    return errors


def _with_disclosure(
    previous: Mapping[str, Any] | None, definition: dict[str, Any], version: int
) -> dict[str, Any]:
    """``definition`` (to be version ``version``) with its ``disclosure`` section, which the
    server keeps (a document sent is never read for it):

    - ``field``, the key of the ledger's 照会可否 field, whose flags decide which
      departments see a record (``ledgers.access.policy``). It is the field that decided
      before this change: the one ``previous`` names or, in a definition written before it
      named one, its first live ``department_flags`` field. Without it the first such field
      in the fields' order decided, so that reordering two (or adding one at the top)
      switched every record's disclosure to another field's flags. A ledger gaining its
      first such field takes the first of them.
    - ``listed_since``: per department added to that field's list after the field was
      made, the version from which it has been listed without a break: ``version`` for one
      added now, kept while it stays, dropped when it leaves. Its flags count only in values
      written under that version or later (``ledgers.access.policy.flags_in_force``): a
      department taken off the list and added back does not regain, through the 可 stored
      in records before, records nobody disclosed to it since. Nothing is rewritten: the
      records' ``definition_version`` already says under which version their values were
      written."""
    live = [f["key"] for f in definition["fields"] if _is_flags(f)]
    if not live:
        return definition
    before = previous or {}
    before_section = before.get("disclosure") or {}
    field = before_section.get("field")
    if field is None:
        field = next((f["key"] for f in before.get("fields", []) if _is_flags(f)), None)
    if field not in live:
        field = live[0]
    section: dict[str, Any] = {"field": field}
    was = next((f for f in before.get("fields", []) if f.get("key") == field), None)
    if was is not None:
        listed_before = set(_departments(was)) if not was.get("removed") else set()
        kept = before_section.get("listed_since") or {}
        if before_section.get("field") not in (None, field):
            kept = {}
        since = {}
        for code in _departments(next(f for f in definition["fields"] if f["key"] == field)):
            if code not in listed_before:
                since[code] = version
            elif code in kept:
                since[code] = kept[code]
        if since:
            section["listed_since"] = since
    return {**definition, "disclosure": section}


def _departments(spec: Mapping[str, Any]) -> list[str]:
    return list((spec.get("options") or {}).get("departments") or [])


def _is_flags(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "department_flags" and not spec.get("removed")


def _grant_screens_kept(ledger: Ledger, definition: Mapping[str, Any]) -> None:
    """Refuse (``DefinitionInvalid``, nothing written) a definition that takes away or
    renames a search screen a grant of ``ledger`` names (``Grant.search_screens``): the
    grant would silently run fewer screens (a 窓口 allowed 加害者検索 only, none), and a
    screen added back under the code would be allowed again unseen. The grant is changed
    first (``PUT …/grants/``), then the screen; both under the ledger's lock."""
    from daicho.accounts.models import Role
    from ledgers.access.models import Grant

    codes = {screen["code"] for screen in definition.get("search_screens", [])}
    problems: list[str] = []
    grants = Grant.objects.filter(ledger=ledger, search_screens__isnull=False)
    for grant in grants.select_related("department").order_by("id"):
        missing = [code for code in grant.search_screens or [] if code not in codes]
        if not missing:
            continue
        subject = "・".join(
            part
            for part in (
                grant.department.name if grant.department else "",
                Role(grant.role).label if grant.role in Role.values else grant.role,
            )
            if part
        )
        problems.append(
            f"検索画面 {'、'.join(missing)} は{subject}の権限（search_screens）が使っています。"
            "先に権限から外してください。"
        )
    if problems:
        raise DefinitionInvalid({"search_screens": problems})


def _write_version(
    *, actor: Any, ledger: Ledger, definition: dict[str, Any], change: str
) -> Ledger:
    _grant_screens_kept(ledger, definition)
    previous = ledger.definition
    definition = _with_disclosure(previous, definition, ledger.definition_version + 1)
    ledger.definition_version += 1
    ledger.definition = definition
    ledger.save()
    LedgerVersion.objects.create(
        ledger=ledger, version=ledger.definition_version, definition=definition,
        change=change[:200], actor=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    audit_record(
        actor=actor, action="ledger.change", ledger_code=ledger.code,
        details={"version": ledger.definition_version, "change": change[:200],
                 **definition_changes(previous, definition)},
    )  # fmt: skip
    return ledger


def definition_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What a definition change changed, for its ``ledger.change`` event: ``{"before": …,
    "after": …}`` holding, per part that changed, its state on each side (a field by key
    and a search screen by code, ``None`` where it was not or is no longer; the layout and
    the ``disclosure`` section whole). A definition holds no record values. Without it the
    trail said 「項目「address」を変更」: an auditor could not see that a designer had
    lowered the address to 庁内 (and then read every record's address), added its own
    department to the 照会可否 list or widened a search screen's result fields."""
    was: dict[str, Any] = {}
    now: dict[str, Any] = {}
    for part, name in (("fields", "key"), ("search_screens", "code")):
        old = {item.get(name): item for item in before.get(part) or []}
        new = {item.get(name): item for item in after.get(part) or []}
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key) != new.get(key):
                was.setdefault(part, {})[key] = old.get(key)
                now.setdefault(part, {})[key] = new.get(key)
    for part in ("layout", "disclosure"):
        if before.get(part) != after.get(part):
            was[part], now[part] = before.get(part), after.get(part)
    return {"before": was, "after": now}


def ledger_tag(
    ledger: Ledger, capabilities: Collection[str], runnable: list[str] | None = None
) -> str:
    """The version tag (ETag) of ``ledger`` as the holder of ``capabilities`` reads it
    (``GET …/ledgers/{code}/``, its fields): a digest of all the answer is made of. The
    name, description, retention and sensitivity change no ``definition_version``, and the
    capabilities answered change with the grants; so do the search screens a grant
    restricts its holder to (``runnable``; ``None``, every screen, is no part of it)."""
    parts: list[Any] = [
        ledger.code, ledger.name, ledger.description, ledger.category,
        ledger.retention_years, ledger.sensitivity, ledger.definition_version,
        ledger.definition, sorted(capabilities),
    ]  # fmt: skip
    if runnable is not None:
        parts.append(runnable)
    return content_tag(parts)


def _locked(ledger: Ledger, actor: Any, expected_tags: Collection[str] | None = None) -> Ledger:
    """Lock the ledger row, then check that the actor may design it and, with
    ``expected_tags`` (the caller's ``If-Match``), that it is the version the actor read.
    Checked before the lock, a designer whose ``design`` another designer was taking away
    (``grants_replace`` holds this lock) passed on the grants as they were, waited, and
    changed the definition after the grant was gone; so two designers sent with one tag
    would both pass, the second writing over the first's change unseen."""
    from ledgers.access.policy import policy_for

    locked = Ledger.objects.select_for_update().get(pk=ledger.pk)
    policy = policy_for(actor, locked)
    policy.require("design")
    tag_require(
        expected_tags,
        ledger_tag(locked, policy.capabilities, policy.runnable_screens()),
        document="ledger",
    )
    return locked


def _may_create_ledgers(actor: Any) -> list[Any]:
    """Refuse unless the actor administers the city or ledgers; return their ledger-admin
    memberships (their departments receive full grants on the new ledger)."""
    from daicho.accounts.models import Role
    from ledgers.access.policy import active_memberships, is_city_admin

    memberships = active_memberships(actor)
    admin_of = [m for m in memberships if m.role == Role.LEDGER_ADMIN]
    if not admin_of and not is_city_admin(actor, memberships):
        raise AccessDenied(
            "台帳を作成できるのは自治体管理者と台帳管理者です。", capability="design"
        )
    return admin_of


def ledger_create(
    *,
    actor: Any,
    code: str,
    name: str,
    description: str = "",
    category: str = "",
    retention_years: int | None = None,
    sensitivity: str = Sensitivity.PERSONAL.value,
    fields: Iterable[Mapping[str, Any]] = (),
    layout: Mapping[str, Any] | None = None,
    search_screens: Iterable[Mapping[str, Any]] = (),
) -> Ledger:
    """Create a ledger with its first definition version (版1)."""
    require_tenant()
    admin_of = _may_create_ledgers(actor)
    errors = _ledger_meta_errors(
        code=code, name=name, retention_years=retention_years, sensitivity=sensitivity,
        texts={"description": description, "category": category},
    )  # fmt: skip
    if not errors and Ledger.objects.filter(code=code).exists():
        errors["code"] = [f"台帳コード「{code}」は既に使われています。"]
    try:
        definition = definition_validate(
            {"fields": list(fields), "layout": layout, "search_screens": list(search_screens)}
        )
    except DefinitionInvalid as exc:
        errors.update(exc.errors)
    if errors:
        raise DefinitionInvalid(errors)
    definition = _with_disclosure(None, definition, 1)
    try:
        with transaction.atomic():
            ledger = Ledger.objects.create(
                code=code, name=name.strip(), description=description, category=category,
                retention_years=retention_years, sensitivity=sensitivity, definition=definition,
                definition_version=1, created_by=actor if getattr(actor, "pk", None) else None,
            )  # fmt: skip
            LedgerVersion.objects.create(
                ledger=ledger, version=1, definition=definition, change="台帳を作成",
                actor=actor if getattr(actor, "pk", None) else None,
            )  # fmt: skip
            _grant_creators(ledger, admin_of, actor=actor)
            # As a change from nothing: the fields with their sensitivities, the search
            # screens and 照会可否 it was made with, and its own attributes.
            made = definition_changes({}, definition)
            made["after"].update(
                {attribute: getattr(ledger, attribute) for attribute in _LEDGER_ATTRIBUTES}
            )
            audit_record(
                actor=actor, action="ledger.create", ledger_code=code,
                details={"version": 1, **made},
            )  # fmt: skip
    except IntegrityError:
        # Another create of the same code committed between the check above and this insert.
        if not Ledger.objects.filter(code=code).exists():
            raise
        raise DefinitionInvalid({"code": [f"台帳コード「{code}」は既に使われています。"]}) from None
    return ledger


def _grant_creators(ledger: Ledger, memberships: list[Any], *, actor: Any) -> None:
    """The creating ledger administrators' departments get every capability on it, and the
    audit trail says so (a ``grant.change`` from nothing), as for any grant."""
    from ledgers.access.models import Capability, Grant
    from ledgers.access.services import grant_describe

    departments = {m.department_id for m in memberships}
    rows = Grant.objects.bulk_create(
        Grant(
            ledger=ledger, department_id=department_id, role="",
            capabilities=[c.value for c in Capability], clearance=Sensitivity.SPECIAL_CARE.value,
        )
        for department_id in sorted(departments)
    )  # fmt: skip
    if rows:
        audit_record(
            actor=actor, action="grant.change", ledger_code=ledger.code,
            details={"before": [], "after": [grant_describe(g) for g in Grant.objects.filter(
                pk__in=[g.pk for g in rows]).select_related("department")]},
        )  # fmt: skip


#: A ledger's own attributes ``ledger_update`` changes; its ``ledger.update`` event names
#: each one it changed, before and after (it said nothing: ``{}``).
_LEDGER_ATTRIBUTES = ("name", "description", "category", "retention_years", "sensitivity")


def ledger_update(
    *,
    actor: Any,
    ledger: Ledger,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    retention_years: int | type[Ellipsis] | None = ...,
    sensitivity: str | None = None,
    expected_tags: Collection[str] | None = None,
) -> Ledger:
    """Change a ledger's name, description, category, retention or sensitivity; with
    ``expected_tags``, only the version the caller read (``ledger_tag``)."""
    require_tenant()
    with transaction.atomic():
        ledger = _locked(ledger, actor, expected_tags)
        new_retention = ledger.retention_years if retention_years is ... else retention_years
        errors = _ledger_meta_errors(
            code=None, name=ledger.name if name is None else name,
            retention_years=new_retention, sensitivity=sensitivity or ledger.sensitivity,
            texts={"description": description, "category": category},
            stored={"name": ledger.name, "description": ledger.description,
                    "category": ledger.category},
        )  # fmt: skip
        if errors:
            raise DefinitionInvalid(errors)
        before = {attribute: getattr(ledger, attribute) for attribute in _LEDGER_ATTRIBUTES}
        ledger.name = ledger.name if name is None else name.strip()
        ledger.description = ledger.description if description is None else description
        ledger.category = ledger.category if category is None else category
        ledger.retention_years = new_retention  # type: ignore[assignment]
        ledger.sensitivity = sensitivity or ledger.sensitivity
        ledger.save()
        changed = [a for a in _LEDGER_ATTRIBUTES if getattr(ledger, a) != before[a]]
        audit_record(
            actor=actor, action="ledger.update", ledger_code=ledger.code,
            details={"before": {a: before[a] for a in changed},
                     "after": {a: getattr(ledger, a) for a in changed}},
        )  # fmt: skip
    return ledger


def ledger_definition_replace(
    *,
    actor: Any,
    ledger: Ledger,
    document: Mapping[str, Any],
    expected_tags: Collection[str] | None = None,
) -> Ledger:
    """Replace fields, layout and search screens with one document (the API's PUT); with
    ``expected_tags``, only the version the caller read.

    Fields left out of the document are kept as removed, never erased.
    """
    require_tenant()
    with transaction.atomic():
        ledger = _locked(ledger, actor, expected_tags)
        definition = definition_validate(
            document, previous=ledger.definition, past_sub_types=_past_sub_types(ledger)
        )
        return _write_version(
            actor=actor, ledger=ledger, definition=definition, change="定義を置き換え"
        )


def field_add(
    *,
    actor: Any,
    ledger: Ledger,
    field: Mapping[str, Any],
    position: int | None = None,
    expected_tags: Collection[str] | None = None,
) -> Ledger:
    """Add a field (at ``position`` among the fields, or last). A new field is live: one
    added as removed would only burn its key. With ``expected_tags``, only to the version
    of the definition the caller read."""
    require_tenant()
    if "removed" in field:
        raise DefinitionInvalid(
            {f"fields（{field.get('key')}）": ["変更できない属性です: removed"]}
        )
    with transaction.atomic():
        ledger = _locked(ledger, actor, expected_tags)
        fields = copy.deepcopy(ledger.definition.get("fields", []))
        if any(f["key"] == field.get("key") for f in fields):
            removed = any(f["key"] == field.get("key") and f.get("removed") for f in fields)
            reason = (
                "過去に削除された項目のキーは再利用できません"
                if removed
                else "既にある項目のキーです"
            )
            raise DefinitionInvalid({f"fields（{field.get('key')}）": [f"{reason}。"]})
        new = dict(field)
        fields.insert(len(fields) if position is None else position, new)
        definition = definition_validate(
            {**ledger.definition, "fields": fields},
            previous=ledger.definition,
            past_sub_types=_past_sub_types(ledger),
        )
        return _write_version(
            actor=actor,
            ledger=ledger,
            definition=definition,
            change=f"項目「{field.get('key')}」を追加",
        )


def field_update(
    *,
    actor: Any,
    ledger: Ledger,
    key: str,
    changes: Mapping[str, Any],
    expected_tags: Collection[str] | None = None,
) -> Ledger:
    """Change a field's label, help text, options, required flag, sensitivity or section;
    with ``expected_tags``, only in the version of the definition the caller read.

    The key and the type are fixed for the life of the field.
    """
    require_tenant()
    forbidden = sorted({"key", "type", "removed"} & set(changes))
    if forbidden:
        raise DefinitionInvalid(
            {f"fields（{key}）": [f"変更できない属性です: {'、'.join(forbidden)}"]}
        )
    with transaction.atomic():
        ledger = _locked(ledger, actor, expected_tags)
        fields = copy.deepcopy(ledger.definition.get("fields", []))
        for index, existing in enumerate(fields):
            if existing["key"] == key and not existing.get("removed"):
                fields[index] = {**existing, **changes}
                if "fields" in changes and "options" not in changes:
                    # A group's new sub-fields replace those its stored options hold.
                    options = dict(existing.get("options") or {})
                    options.pop("fields", None)
                    fields[index]["options"] = options
                break
        else:
            raise DefinitionInvalid({f"fields（{key}）": ["その項目はありません。"]})
        definition = definition_validate(
            {**ledger.definition, "fields": fields},
            previous=ledger.definition,
            past_sub_types=_past_sub_types(ledger),
        )
        return _write_version(
            actor=actor, ledger=ledger, definition=definition, change=f"項目「{key}」を変更"
        )


def field_remove(
    *, actor: Any, ledger: Ledger, key: str, expected_tags: Collection[str] | None = None
) -> Ledger:
    """Hide a field from new versions; values already stored are kept in their generations.
    With ``expected_tags``, only from the version of the definition the caller read."""
    require_tenant()
    with transaction.atomic():
        ledger = _locked(ledger, actor, expected_tags)
        fields = copy.deepcopy(ledger.definition.get("fields", []))
        for existing in fields:
            if existing["key"] == key and not existing.get("removed"):
                existing["removed"] = True
                break
        else:
            raise DefinitionInvalid({f"fields（{key}）": ["その項目はありません。"]})
        layout = copy.deepcopy(ledger.definition.get("layout") or {"sections": []})
        for section in layout.get("sections", []):
            section["rows"] = [[k for k in row if k != key] for row in section.get("rows", [])]
            section["rows"] = [row for row in section["rows"] if row]
        definition = definition_validate(
            {**ledger.definition, "fields": fields, "layout": layout}, previous=ledger.definition
        )
        return _write_version(
            actor=actor, ledger=ledger, definition=definition, change=f"項目「{key}」を削除"
        )


def layout_update(*, actor: Any, ledger: Ledger, layout: Mapping[str, Any]) -> Ledger:
    """Replace the record form's layout (sections → rows → field keys)."""
    require_tenant()
    with transaction.atomic():
        ledger = _locked(ledger, actor)
        definition = definition_validate(
            {**ledger.definition, "layout": layout}, previous=ledger.definition
        )
        return _write_version(
            actor=actor, ledger=ledger, definition=definition, change="レイアウトを変更"
        )
