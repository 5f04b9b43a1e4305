"""The flagship DV support-measure ledger (DV等支援措置台帳) and a loader for its sample CSV.

The definition follows ``shared/DV_LEDGER.md``: the person, 現住所/前住所 (special care),
per-department disclosure (市民課 可, the rest 不可 unless flagged), the perpetrators as a
group, and the three search screens — 本人検索（最新）, 本人検索（過去）, and 加害者検索,
which can neither filter on nor show the addresses or the birth date.

``dv_sample_load`` reads the Excel-exported CSV (CP932) the way a city's file looks and
loads every row that is valid, reporting the others with their line and reason. The real
import feature (mapping, dry run, error report) is its own piece of work; this loader is
for demos and the search tests.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import RecordInvalid
from ledgers.records.services import record_bulk_create, values_clean

DEPARTMENTS = {
    "市民課": "shimin", "市民税課": "shiminzei", "資産税課": "shisanzei", "保険課": "hoken",
    "生活福祉課": "seikatsu", "子ども育成課": "kodomo", "学務課": "gakumu",
}  # fmt: skip

DV_DEFINITION: dict[str, Any] = {
    "code": "dv",
    "name": "DV等支援措置台帳",
    "category": "住民記録",
    "retention_years": 5,
    "sensitivity": "special_care",
    "fields": [
        {"key": "control_no", "label": "管理番号", "type": "text", "required": True, "sensitivity": "internal"},
        {"key": "received_on", "label": "受付日", "type": "date", "sensitivity": "internal"},
        {"key": "category", "label": "区分", "type": "choice", "sensitivity": "internal",
         "options": {"choices": ["新規", "更新", "変更"]}},
        {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal",
         "options": {"require_kana": True}},
        {"key": "other_names", "label": "その他氏名（通称・旧姓）", "type": "text", "sensitivity": "personal"},
        {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
        {"key": "sex", "label": "性別", "type": "choice", "sensitivity": "personal", "options": {"choices": ["男", "女"]}},
        {"key": "resident_no", "label": "住民番号", "type": "text", "sensitivity": "personal"},
        {"key": "address", "label": "現住所", "type": "address", "sensitivity": "special_care"},
        {"key": "previous_address", "label": "前住所", "type": "address", "sensitivity": "special_care"},
        {"key": "support_start", "label": "支援措置開始日", "type": "date", "sensitivity": "internal"},
        {"key": "support_end", "label": "支援措置終了日", "type": "date", "sensitivity": "internal"},
        {"key": "disclosure", "label": "照会可否", "type": "department_flags", "sensitivity": "internal",
         "options": {"departments": list(DEPARTMENTS.values())}},
        {"key": "offenders", "label": "加害者", "type": "group", "sensitivity": "personal", "fields": [
            {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"},
            {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
            {"key": "relation", "label": "続柄", "type": "choice", "sensitivity": "personal",
             "options": {"choices": ["配偶者", "元配偶者", "交際相手", "父", "母", "子", "その他"]}},
        ]},
        {"key": "remarks", "label": "備考", "type": "long_text", "sensitivity": "personal"},
    ],
    "layout": {"sections": [
        {"title": "受付", "rows": [["control_no", "received_on", "category"]]},
        {"title": "本人", "rows": [["name", "other_names"], ["birth_date", "sex", "resident_no"]]},
        {"title": "住所", "rows": [["address"], ["previous_address"]]},
        {"title": "支援措置", "rows": [["support_start", "support_end"], ["disclosure"]]},
        {"title": "加害者", "rows": [["offenders"]]},
        {"title": "備考", "rows": [["remarks"]]},
    ]},
    "search_screens": [
        {"code": "latest", "name": "本人検索（最新）", "generations": "current", "reason_required": True,
         "criteria": [{"field": "name", "match": "contains"}, {"field": "other_names", "match": "contains"},
                      {"field": "birth_date", "match": "range"}, {"field": "sex", "match": "exact"},
                      {"field": "address", "match": "contains"}, {"field": "previous_address", "match": "contains"},
                      {"field": "resident_no", "match": "exact"}, {"field": "support_start", "match": "range"},
                      {"field": "support_end", "match": "range"}],
         "result_fields": ["control_no", "name", "other_names", "birth_date", "sex", "address", "support_start", "support_end"]},
        {"code": "past", "name": "本人検索（過去）", "generations": "all", "reason_required": True,
         "criteria": [{"field": "name", "match": "contains"}, {"field": "other_names", "match": "contains"},
                      {"field": "birth_date", "match": "range"}, {"field": "address", "match": "contains"}],
         "result_fields": ["control_no", "name", "other_names", "birth_date", "sex", "address"]},
        {"code": "offender", "name": "加害者検索", "generations": "current", "reason_required": True,
         "criteria": [{"field": "offenders.name", "match": "contains"}, {"field": "name", "match": "contains"},
                      {"field": "other_names", "match": "contains"}, {"field": "sex", "match": "exact"}],
         "result_fields": ["control_no", "name", "other_names", "sex"],
         "excluded_fields": ["address", "previous_address", "birth_date", "support_start", "support_end"],
         "max_results": 50},
    ],
}  # fmt: skip


@dataclass
class LoadReport:
    loaded: int = 0
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def dv_ledger_create(*, actor: Any) -> Ledger:
    return ledger_create(actor=actor, **DV_DEFINITION)


def _row_values(row: dict[str, str]) -> dict[str, Any]:
    offender = {
        "name": {"kanji": row.get("加害者漢字氏名", ""), "kana": row.get("加害者カナ氏名", "")},
        "birth_date": row.get("加害者生年月日") or None,
        "relation": row.get("加害者続柄") or None,
    }
    return {
        "control_no": row.get("管理番号"),
        "received_on": row.get("受付日"),
        "category": row.get("区分"),
        "name": {"kanji": row.get("漢字氏名", ""), "kana": row.get("カナ氏名", "")},
        "other_names": row.get("通称・旧姓"),
        "birth_date": row.get("生年月日"),
        "sex": row.get("性別"),
        "resident_no": row.get("住民番号"),
        "address": {"postal_code": row.get("郵便番号", ""), "text": row.get("現住所", "")},
        "previous_address": {"text": row.get("前住所", "")} if row.get("前住所") else None,
        "support_start": row.get("支援措置開始日"),
        "support_end": row.get("支援措置終了日"),
        "disclosure": {
            code: row.get(label, "不可") or "不可" for label, code in DEPARTMENTS.items()
        },
        "offenders": [offender] if row.get("加害者漢字氏名") or row.get("加害者カナ氏名") else [],
        "remarks": row.get("備考"),
    }


def dv_sample_load(*, actor: Any, ledger: Ledger, path: Path) -> LoadReport:
    """Load the valid rows of the sample CSV (CP932); report the others by line number."""
    text = path.read_bytes().decode("cp932")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    report = LoadReport()
    valid: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        values = _row_values(row)
        try:
            data = values_clean(ledger=ledger, values=values)
        except RecordInvalid as exc:
            report.rejected[line] = exc.errors
            continue
        problems: dict[str, list[str]] = {}
        if not str(row.get("住民番号", "")).strip().isdigit():
            problems["resident_no"] = ["住民番号は数字で入力してください。"]
        start, end = data.get("support_start"), data.get("support_end")
        if start and end and end < start:
            problems["support_end"] = ["支援措置終了日が開始日より前です。"]
        number = data.get("control_no", "")
        if number in seen:
            problems["control_no"] = [f"管理番号が{seen[number]}行目と重複しています。"]
        if problems:
            report.rejected[line] = problems
            continue
        seen[number] = line
        valid.append(values)
    if valid:
        record_bulk_create(actor=actor, ledger=ledger, values_list=valid, capability="create")
    report.loaded = len(valid)
    return report
