"""Writes of access control: grants, "view as" previews and break-glass reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from daicho.accounts.models import Department, Role
from daicho.caching import current_access_counter, generation_bump
from daicho.tenancy.guard import require_tenant
from ledgers.access.models import BreakGlassAccess, Capability, Grant
from ledgers.access.policy import LedgerPolicy, break_glass_policy, policy_for
from ledgers.audit.services import audit_record
from ledgers.definitions.models import Ledger, Sensitivity
from ledgers.exceptions import AccessDenied, DefinitionInvalid, LedgerError
from ledgers.fields.normalize import text_problem
from ledgers.tags import content_tag, tag_require

_CAPABILITIES = {c.value for c in Capability}
_ROLES = {r.value for r in Role}
_SENSITIVITIES = {s.value for s in Sensitivity}
#: A grant's keys (``grant_describe``'s). One it does not have was dropped and the default
#: taken: a misspelt ``search_screens`` gave a 窓口 meant for 加害者検索 only every screen.
_GRANT_KEYS = frozenset({"department", "role", "capabilities", "clearance", "search_screens"})


def _search_screens_problems(
    screens: Any, capabilities: list[Any], screen_codes: list[str]
) -> list[str]:
    """What is wrong with a grant's ``search_screens`` (``None``: every screen): a list of
    the ledger's screen codes, each once, on a grant that gives ``search``."""
    if screens is None:
        return []
    if not isinstance(screens, list) or not all(isinstance(c, str) for c in screens):
        return [
            "search_screens は検索画面のコードの配列（すべての画面なら null）で指定してください。"
        ]
    problems = []
    if not screens:
        problems.append(
            "search_screens を空にはできません（検索させないなら search を外してください）。"
        )
    if "search" not in capabilities:
        problems.append("search_screens は「検索」の権限（search）を与えるときだけ指定できます。")
    unknown = [c for c in dict.fromkeys(screens) if c not in screen_codes]
    if unknown:
        problems.append(f"この台帳にない検索画面です: {'、'.join(unknown)}")
    if len(set(screens)) != len(screens):
        problems.append("search_screens に同じ検索画面が重複しています。")
    return problems


def _grant_rows(ledger: Ledger, grants: Iterable[Mapping[str, Any]]) -> list[Grant]:
    departments = {d.code: d for d in Department.objects.all()}
    screen_codes = [s["code"] for s in ledger.definition.get("search_screens", [])]
    errors: dict[str, list[str]] = {}
    rows: list[Grant] = []
    seen: set[tuple[str, str]] = set()
    for index, spec in enumerate(grants, start=1):
        where = f"grants[{index}]"
        problems: list[str] = []
        if not isinstance(spec, Mapping):
            errors[where] = ["権限はオブジェクトで指定してください。"]
            continue
        unknown = sorted(str(key) for key in spec if key not in _GRANT_KEYS)
        if unknown:
            errors[where] = [f"不明な属性です: {'、'.join(unknown)}"]
            continue
        code = spec.get("department") or ""
        role = spec.get("role") or ""
        clearance = spec.get("clearance", Sensitivity.INTERNAL.value)
        capabilities = spec.get("capabilities") or []
        if not all(isinstance(v, str) for v in (code, role, clearance)) or not isinstance(
            capabilities, list
        ):
            errors[where] = [
                "department・role・clearance は文字列、capabilities は配列で指定してください。"
            ]
            continue
        if code and code not in departments:
            problems.append(f"課「{code}」はありません。")
        if role and role not in _ROLES:
            problems.append(f"役割「{role}」はありません。")
        if not code and not role:
            problems.append("課か役割のどちらかを指定してください。")
        unknown = sorted(set(map(str, capabilities)) - _CAPABILITIES)
        if unknown or not all(isinstance(c, str) for c in capabilities):
            problems.append(f"不明な権限です: {'、'.join(unknown)}")
        if clearance not in _SENSITIVITIES:
            problems.append(
                f"機密区分は {', '.join(sorted(_SENSITIVITIES))} のいずれかにしてください。"
            )
        if (code, role) in seen:
            problems.append("同じ課・役割への権限が重複しています。")
        seen.add((code, role))
        screens = spec.get("search_screens")
        problems += _search_screens_problems(screens, capabilities, screen_codes)
        if problems:
            errors[where] = problems
            continue
        rows.append(
            Grant(
                ledger=ledger,
                department=departments.get(code),
                role=role,
                capabilities=sorted(set(capabilities)),
                clearance=clearance,
                search_screens=None if screens is None else list(screens),
            )
        )
    if errors:
        raise DefinitionInvalid(errors)
    return rows


def grant_describe(grant: Grant) -> dict[str, Any]:
    return {
        "department": grant.department.code if grant.department else None,
        "role": grant.role or None,
        "capabilities": list(grant.capabilities),
        "clearance": grant.clearance,
        "search_screens": None if grant.search_screens is None else list(grant.search_screens),
    }


def grants_describe(ledger: Ledger) -> list[dict[str, Any]]:
    """A ledger's grants as ``GET …/grants/`` answers them, in the order they were made."""
    grants = Grant.objects.filter(ledger=ledger).select_related("department").order_by("id")
    return [grant_describe(g) for g in grants]


def grants_tag(described: list[dict[str, Any]]) -> str:
    """The version tag (ETag) of a ledger's grants as ``grants_describe`` reads them. A
    grant's ``search_screens`` counts only when it names screens: the tags of grants that
    name none are those read before the key was answered."""
    return content_tag(
        [
            {k: v for k, v in grant.items() if k != "search_screens" or v is not None}
            for grant in described
        ]
    )


def grants_replace(
    *,
    actor: Any,
    ledger: Ledger,
    grants: Iterable[Mapping[str, Any]],
    expected_tags: Collection[str] | None = None,
) -> list[Grant]:
    """Replace every grant of a ledger (requires ``design``); audited with before and after.

    ``design`` is checked under the ledger's lock, on the grants as they are then: checked
    before it, a designer another designer was demoting (holding the lock) passed on the
    grants as they were, waited, and wrote its own list (its ``design`` included) over the
    demotion. So is ``expected_tags`` (the caller's ``If-Match``), against ``grants_tag``:
    the list replaces the whole, and one made from grants read before another designer's
    change (a department's grant taken away) put back what that change took away, unseen."""
    require_tenant()
    with transaction.atomic():
        # The screens a grant names are checked against the definition under this lock,
        # which a definition change takes too (``ledgers.definitions.services``).
        locked = Ledger.objects.select_for_update().get(pk=ledger.pk)
        policy_for(actor, ledger).require("design")
        before = grants_describe(ledger)
        tag_require(expected_tags, grants_tag(before), document="grants")
        rows = _grant_rows(locked, grants)
        Grant.objects.filter(ledger=ledger).delete()
        Grant.objects.bulk_create(rows)
        # bulk_create sends no signal: the API's cached policies must go (daicho.caching).
        generation_bump(current_access_counter())
        audit_record(
            actor=actor, action="grant.change", ledger_code=ledger.code,
            details={"before": before, "after": [grant_describe(g) for g in rows]},
        )  # fmt: skip
    return rows


def policy_view_as(*, actor: Any, ledger: Ledger, colleague: Any) -> LedgerPolicy:
    """A ledger administrator previews, read-only, what ``colleague`` sees of the ledger.

    The preview is audited; the returned policy refuses every write.
    """
    require_tenant()
    policy_for(actor, ledger).require("design")
    audit_record(
        actor=actor, action="access.view_as", ledger_code=ledger.code,
        details={"as_user": colleague.pk},
    )  # fmt: skip
    return policy_for(colleague, ledger, viewed_by=actor)


def _storable_or_refused(text: Any, what: str) -> None:
    """Refuse a break-glass reason or review note ``text_problem`` refuses (a control,
    bidirectional or invisible character; line breaks allowed)."""
    problem = text_problem(text) if isinstance(text, str) and text else None
    if problem is not None:
        raise LedgerError(f"{what}に{problem}。", detail={"reason": "invalid_character"})


def record_break_glass(
    *, actor: Any, ledger: Ledger, record_id: Any, reason: str
) -> tuple[Any, LedgerPolicy]:
    """Open one record outside the actor's grants, for an emergency (緊急閲覧).

    Requires a written reason of at least 10 characters. Allowed, flagged, audited, and
    listed for the auditor's review. Returns the record and the policy to output it with.
    The reason is held to the stored-text rule (``text_problem``), as the record services'
    reasons are: the auditor reviews the read by it, and ten zero-width spaces made the
    length, while a right-to-left override made it read otherwise than it was.
    """
    require_tenant()
    if actor is None or not getattr(actor, "is_active", False):
        raise AccessDenied()
    _storable_or_refused(reason, "理由")
    if len((reason or "").strip()) < 10:
        raise LedgerError(
            "緊急閲覧には10文字以上の理由が必要です。", detail={"reason": "too_short"}
        )
    policy = break_glass_policy(actor, ledger)
    record = policy.get_record(record_id)
    with transaction.atomic():
        access = BreakGlassAccess.objects.create(
            actor=actor, ledger=ledger, record_id=record.pk, reason=reason.strip()
        )
        audit_record(
            actor=actor, action="record.break_glass", ledger_code=ledger.code, record_id=record.pk,
            generation=record.generation, details={"break_glass": True, "access": access.pk, "reason": reason.strip()},
        )  # fmt: skip
    return record, policy


def break_glass_review(
    *, actor: Any, access: BreakGlassAccess, approve: bool, note: str = ""
) -> BreakGlassAccess:
    """An auditor approves (or questions) a break-glass read after the fact."""
    require_tenant()
    policy_for(actor, access.ledger).require("audit")
    _storable_or_refused(note, "確認メモ")
    if access.actor_id == getattr(actor, "pk", None):
        raise AccessDenied("自分の緊急閲覧を自分で確認することはできません。")
    access.review = (
        BreakGlassAccess.Review.APPROVED if approve else BreakGlassAccess.Review.QUESTIONED
    )
    access.reviewed_by = actor
    access.reviewed_at = timezone.now()
    access.review_note = note
    with transaction.atomic():
        access.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            actor=actor, action="access.break_glass_review", ledger_code=access.ledger.code,
            record_id=access.record_id, details={"access": access.pk, "review": access.review},
        )  # fmt: skip
    return access
