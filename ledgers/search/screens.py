"""Search screens (検索画面), part of a ledger's definition.

A screen says which fields a user may fill in and how each matches, whether it searches
the current generation or every generation, which fields its results show, which fields it
excludes — never filterable, never shown, whoever runs it (加害者検索 and the victim's
address) — whether a reason (照会理由) is required, and how many results it returns at most.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgers.search.index import EXACT_KEY_TYPES, GROUP_TYPES

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DATE_TYPES = {"date", "datetime"}
#: Types no search criterion may name. ``reference`` among them: a criterion on a link (its
#: target's ``ledger:id``, contains or exact) found, one character at a time, the target of
#: a link the searcher sees masked (a DV record not disclosed to its department).
UNSEARCHABLE = {"my_number", "file", "department_flags", "long_text", "reference"}
DEFAULT_MAX_RESULTS = 100
SCREEN_KEYS = {"code", "name", "generations", "criteria", "result_fields", "excluded_fields",
               "reason_required", "max_results", "description"}  # fmt: skip
#: A criterion's attributes: one it does not have was dropped unsaid, so a misspelt
#: ``match`` ("mach") left the criterion matching by ``contains``, wider than written.
CRITERION_KEYS = {"field", "match", "label"}


def field_paths(fields: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Every live field and group sub-field by its path (``name``, ``related.name``)."""
    paths: dict[str, Mapping[str, Any]] = {}
    for field in fields:
        if field.get("removed"):
            continue
        paths[field["key"]] = field
        if field.get("type") in GROUP_TYPES:
            for sub in (field.get("options") or {}).get("fields", []):
                paths[f"{field['key']}.{sub['key']}"] = sub
    return paths


def matches_for(type_id: str) -> set[str]:
    if type_id in DATE_TYPES:
        return {"exact", "range"}
    if type_id in EXACT_KEY_TYPES:
        return {"exact"}
    return {"exact", "prefix", "contains"}


def is_excluded(path: str, excluded: set[str]) -> bool:
    """A path is excluded when it or its group is."""
    return path in excluded or path.split(".", 1)[0] in excluded


def screens_validate(
    screens: Any, fields: list[Mapping[str, Any]], errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Normalised screens; problems are added to ``errors`` under ``search_screens[n]``."""
    if not isinstance(screens, list):
        errors.setdefault("search_screens", []).append("search_screens は配列で指定してください。")
        return []
    # Fields that are themselves invalid are reported by the field validation.
    fields = [f for f in fields if isinstance(f.get("key"), str) and isinstance(f.get("type"), str)]
    paths = field_paths(fields)
    seen: set[str] = set()
    normalised = []
    for index, screen in enumerate(screens, start=1):
        where = f"search_screens[{index}]"
        problems: list[str] = []
        if not isinstance(screen, Mapping):
            errors[where] = ["検索画面はオブジェクトで指定してください。"]
            continue
        unknown = sorted(set(screen) - SCREEN_KEYS)
        if unknown:
            problems.append(f"不明な属性です: {'、'.join(unknown)}")
        code = screen.get("code")
        if not isinstance(code, str) or not CODE_RE.match(code):
            problems.append("コードは英小文字で始まる英小文字・数字・_ にしてください。")
        elif code in seen:
            problems.append(f"検索画面のコード「{code}」が重複しています。")
        seen.add(code if isinstance(code, str) else "")
        name = screen.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append("検索画面の名前を入力してください。")
        generations = screen.get("generations", "current")
        if not isinstance(generations, str) or generations not in {"current", "all"}:
            problems.append("generations は current か all にしてください。")
        excluded = screen.get("excluded_fields", [])
        if not isinstance(excluded, list) or any(
            not isinstance(p, str) or p not in paths for p in excluded
        ):
            problems.append(
                f"除外項目にない項目があります: {[p for p in excluded if not isinstance(p, str) or p not in paths] if isinstance(excluded, list) else excluded}"
            )
            excluded = (
                [p for p in excluded if isinstance(p, str) and p in paths]
                if isinstance(excluded, list)
                else []
            )
        excluded_set = set(excluded)
        criteria = []
        raw_criteria = screen.get("criteria", [])
        if not isinstance(raw_criteria, list) or not raw_criteria:
            problems.append("検索条件（criteria）を1つ以上指定してください。")
            raw_criteria = []
        for c_index, criterion in enumerate(raw_criteria, start=1):
            if not isinstance(criterion, Mapping):
                problems.append(f"条件{c_index}はオブジェクトで指定してください。")
                continue
            unknown = sorted(map(str, set(criterion) - CRITERION_KEYS))
            if unknown:
                problems.append(f"条件{c_index}: 不明な属性です: {'、'.join(unknown)}")
                continue
            label = criterion.get("label")
            if label is not None and not isinstance(label, str):
                # Stored as its Python spelling ("{'ja': '氏名'}") and shown as the label.
                problems.append(f"条件{c_index}: label は文字列で指定してください。")
                continue
            path, match = criterion.get("field"), criterion.get("match", "contains")
            field = paths.get(path) if isinstance(path, str) else None
            if field is None:
                problems.append(f"条件{c_index}: 項目「{path}」はありません。")
                continue
            if is_excluded(path, excluded_set):
                problems.append(f"条件{c_index}: 項目「{path}」はこの検索画面で除外されています。")
                continue
            if field["type"] in GROUP_TYPES:
                # A group's rows are indexed per sub-field (``offenders.name``), never as a
                # whole: the criterion matched nothing, whatever was typed, and a 加害者検索 so
                # written answered "not registered" for every perpetrator.
                problems.append(
                    f"条件{c_index}: 繰り返し項目「{field['label']}」全体では検索できません。"
                    f"列（{path}.<列のキー>）を指定してください。"
                )
                continue
            if field["type"] in UNSEARCHABLE:
                problems.append(
                    f"条件{c_index}: 「{field['label']}」の型（{field['type']}）では検索できません。"
                )
                continue
            if not isinstance(match, str) or match not in matches_for(field["type"]):
                problems.append(
                    f"条件{c_index}: 「{field['label']}」には {', '.join(sorted(matches_for(field['type'])))} が使えます。"
                )
                continue
            if match == "range" and "." in path:
                problems.append(f"条件{c_index}: 繰り返し項目の日付は範囲では検索できません。")
                continue
            criteria.append(
                {
                    "field": path,
                    "match": match,
                    "label": str(criterion.get("label") or field["label"]),
                }
            )
        if len({c["field"] for c in criteria}) != len(criteria):
            problems.append("同じ項目の条件が2つあります。")
        top_level = {f["key"] for f in fields if not f.get("removed")}
        result_fields = screen.get("result_fields") or [
            k for k in top_level if k not in excluded_set
        ]
        if not isinstance(result_fields, list) or any(
            not isinstance(k, str) or k not in top_level for k in result_fields
        ):
            problems.append("結果に表示する項目（result_fields）にない項目があります。")
            result_fields = []
        if any(is_excluded(k, excluded_set) for k in result_fields):
            problems.append("除外した項目は結果に表示できません。")
        max_results = screen.get("max_results", DEFAULT_MAX_RESULTS)
        if (
            not isinstance(max_results, int)
            or isinstance(max_results, bool)
            or not 1 <= max_results <= 1000
        ):
            problems.append("最大件数（max_results）は1〜1000にしてください。")
        description = screen.get("description")
        if description is not None and not isinstance(description, str):
            problems.append("説明（description）は文字列で指定してください。")
        reason_required = screen.get("reason_required", False)
        if not isinstance(reason_required, bool):
            problems.append("reason_required は true か false にしてください。")
        if problems:
            errors[where] = problems
            continue
        normalised.append({
            "code": code, "name": name.strip(), "description": str(screen.get("description") or ""),
            "generations": generations, "criteria": criteria,
            "result_fields": [k for k in result_fields if not is_excluded(k, excluded_set)],
            "excluded_fields": sorted(excluded_set), "reason_required": reason_required,
            "max_results": max_results,
        })  # fmt: skip
    return normalised
