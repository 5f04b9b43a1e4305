"""The flagship DV support-measure ledger (DV等支援措置台帳) and a loader for its sample CSV.

The definition follows ``shared/DV_LEDGER.md`` field for field: the header (年度, 収受番号,
管理番号, 区分, 決定／変更, 文書番号, 起案者, 通知日), 照会可否 for the thirteen departments
listed (市民課 可 on a record registered without them, every other flag 不可 unless the
record says 可), the person (氏名 with its kana, その他氏名, 生年月日, 性別, 住民番号, 開始日,
終了日, 状況, 本人確認書類, 日中の連絡先), 住所・本籍 as a
group of rows (現住所 … 前々本籍, each with 〒 to 建物名, 世帯主／筆頭者, 支援措置, 備考), the
related persons as a group, and the three search screens — 本人検索（最新）, 本人検索（過去）
and 加害者検索, which can neither filter on nor show an address, a 本籍 or any date.

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

#: The departments that may be asked about a person (照会可否), as DV_LEDGER.md lists them:
#: label → code. Every flag is 不可 unless the record says 可 (the type's rule).
DEPARTMENTS = {
    "市民課": "shimin", "市民税課": "shiminzei", "資産税課": "shisanzei", "保険課": "hoken",
    "保障課": "hosho", "生活福祉課": "seikatsu", "健康福祉課": "kenko",
    "子ども支援課": "kodomo_shien", "子ども育成課": "kodomo", "選挙管理委員会事務局": "senkan",
    "学務課": "gakumu", "児童青少年課": "jido", "企画経営課": "kikaku",
}  # fmt: skip

#: The rows of 住所・本籍 (one each), and the date fields 加害者検索 never uses or shows.
PLACE_KINDS = ["現住所", "前住所", "前々住所", "現本籍", "前本籍", "前々本籍"]
_DATES = ["received_on", "notified_on", "birth_date", "support_start", "support_end",
          "related.birth_date"]  # fmt: skip
_PERSON_CRITERIA = [
    {"field": "name", "match": "contains"}, {"field": "other_names", "match": "contains"},
    {"field": "birth_date", "match": "range"}, {"field": "sex", "match": "exact"},
    {"field": "places.address", "match": "contains", "label": "住所・本籍"},
    {"field": "resident_no", "match": "exact"},
    {"field": "support_start", "match": "range", "label": "開始日（以降）"},
    {"field": "support_end", "match": "range", "label": "終了日（以前）"},
]  # fmt: skip
_PERSON_RESULTS = ["control_no", "name", "other_names", "birth_date", "sex", "resident_no",
                   "places", "support_start", "support_end", "status"]  # fmt: skip

DV_DEFINITION: dict[str, Any] = {
    "code": "dv",
    "name": "DV等支援措置台帳",
    "category": "住民記録",
    "retention_years": 5,
    "sensitivity": "special_care",
    "fields": [
        # Header
        {"key": "fiscal_year", "label": "年度", "type": "integer", "sensitivity": "internal",
         "help_text": "西暦（例: 2023）"},
        {"key": "receipt_no", "label": "収受番号", "type": "text", "sensitivity": "internal"},
        {"key": "control_no", "label": "管理番号", "type": "text", "required": True, "sensitivity": "internal"},
        {"key": "received_on", "label": "受付日", "type": "date", "sensitivity": "internal"},
        {"key": "category", "label": "区分", "type": "choice", "sensitivity": "internal",
         "options": {"choices": ["新規", "更新", "変更"]}},
        {"key": "decision", "label": "決定／変更", "type": "choice", "sensitivity": "internal",
         "options": {"choices": ["決定", "変更"]}},
        {"key": "document_no", "label": "文書番号", "type": "text", "sensitivity": "internal"},
        {"key": "drafter", "label": "起案者", "type": "text", "sensitivity": "internal"},
        {"key": "notified_on", "label": "通知日", "type": "date", "sensitivity": "internal"},
        # Per-department disclosure
        {"key": "disclosure", "label": "照会可否", "type": "department_flags", "sensitivity": "internal",
         "options": {"departments": list(DEPARTMENTS.values()), "default": ["shimin"]}},
        # The person
        {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal",
         "help_text": "カナ氏名・漢字氏名", "options": {"require_kana": True}},
        {"key": "other_names", "label": "その他氏名（通称・旧姓）", "type": "text", "sensitivity": "personal"},
        {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
        {"key": "sex", "label": "性別", "type": "choice", "sensitivity": "personal", "options": {"choices": ["男", "女"]}},
        {"key": "resident_no", "label": "住民番号", "type": "text", "sensitivity": "personal"},
        {"key": "support_start", "label": "開始日", "type": "date", "sensitivity": "internal"},
        {"key": "support_end", "label": "終了日", "type": "date", "sensitivity": "internal"},
        {"key": "status", "label": "状況", "type": "text", "sensitivity": "personal"},
        {"key": "id_document", "label": "本人確認書類", "type": "text", "sensitivity": "personal"},
        {"key": "daytime_contact", "label": "日中の連絡先", "type": "text", "sensitivity": "special_care"},
        # Addresses and registered domiciles: one row each
        {"key": "places", "label": "住所・本籍", "type": "group", "sensitivity": "special_care",
         "options": {"max_rows": len(PLACE_KINDS)}, "fields": [
            {"key": "kind", "label": "種別", "type": "choice", "required": True, "sensitivity": "special_care",
             "options": {"choices": PLACE_KINDS}},
            {"key": "address", "label": "住所（〒・都道府県・市区町村・町名・丁番地・建物名）", "type": "address",
             "sensitivity": "special_care"},
            {"key": "head", "label": "世帯主／筆頭者", "type": "text", "sensitivity": "special_care"},
            {"key": "measure", "label": "支援措置", "type": "text", "sensitivity": "special_care"},
            {"key": "remarks", "label": "備考", "type": "text", "sensitivity": "special_care"},
        ]},
        # Related persons: family members covered with the victim, and the perpetrators
        {"key": "related", "label": "関係者（同伴者・加害者）", "type": "group", "sensitivity": "personal", "fields": [
            {"key": "role", "label": "区分", "type": "choice", "sensitivity": "personal",
             "options": {"choices": ["加害者", "同伴者", "その他"]}},
            {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal",
             "help_text": "カナ氏名・漢字氏名"},
            {"key": "other_names", "label": "その他氏名", "type": "text", "sensitivity": "personal"},
            {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
            {"key": "sex", "label": "性別", "type": "choice", "sensitivity": "personal",
             "options": {"choices": ["男", "女"]}},
            {"key": "resident_no", "label": "住民番号", "type": "text", "sensitivity": "personal"},
            {"key": "relation", "label": "続柄", "type": "choice", "sensitivity": "personal",
             "options": {"choices": ["配偶者", "元配偶者", "交際相手", "父", "母", "子", "その他"]}},
            {"key": "remarks", "label": "備考", "type": "text", "sensitivity": "personal"},
        ]},
        {"key": "remarks", "label": "備考", "type": "long_text", "sensitivity": "personal"},
    ],
    "layout": {"sections": [
        {"title": "受付", "rows": [["fiscal_year", "receipt_no", "control_no", "received_on"],
                                  ["category", "decision", "document_no", "drafter", "notified_on"]]},
        {"title": "照会可否", "rows": [["disclosure"]]},
        {"title": "本人", "rows": [["name", "other_names"], ["birth_date", "sex", "resident_no"],
                                  ["support_start", "support_end", "status"], ["id_document", "daytime_contact"]]},
        {"title": "住所・本籍", "rows": [["places"]]},
        {"title": "関係者", "rows": [["related"]]},
        {"title": "備考", "rows": [["remarks"]]},
    ]},
    "search_screens": [
        {"code": "latest", "name": "本人検索（最新）", "generations": "current", "reason_required": True,
         "criteria": _PERSON_CRITERIA, "result_fields": _PERSON_RESULTS},
        {"code": "past", "name": "本人検索（過去）", "generations": "all", "reason_required": True,
         "criteria": _PERSON_CRITERIA, "result_fields": _PERSON_RESULTS},
        {"code": "offender", "name": "加害者検索", "generations": "current", "reason_required": True,
         "description": "住所・本籍・日付の項目は、条件にも結果にも使えません。",
         "criteria": [{"field": "related.name", "match": "contains", "label": "加害者の氏名"},
                      {"field": "related.other_names", "match": "contains", "label": "加害者のその他氏名"},
                      {"field": "related.sex", "match": "exact", "label": "加害者の性別"},
                      {"field": "related.resident_no", "match": "exact", "label": "加害者の住民番号"}],
         "result_fields": ["control_no", "name", "other_names", "sex", "related"],
         "excluded_fields": ["places", "related.remarks", *_DATES], "max_results": 50},
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
        "role": "加害者",
        "name": {"kanji": row.get("加害者漢字氏名", ""), "kana": row.get("加害者カナ氏名", "")},
        "birth_date": row.get("加害者生年月日") or None,
        "relation": row.get("加害者続柄") or None,
    }
    places = [
        {
            "kind": "現住所",
            "address": {"postal_code": row.get("郵便番号", ""), "text": row.get("現住所", "")},
        },
        {"kind": "前住所", "address": {"text": row.get("前住所", "")}}
        if row.get("前住所")
        else None,
    ]
    return {
        "control_no": row.get("管理番号"),
        "received_on": row.get("受付日"),
        "category": row.get("区分"),
        "name": {"kanji": row.get("漢字氏名", ""), "kana": row.get("カナ氏名", "")},
        "other_names": row.get("通称・旧姓"),
        "birth_date": row.get("生年月日"),
        "sex": row.get("性別"),
        "resident_no": row.get("住民番号"),
        "places": [place for place in places if place],
        "support_start": row.get("支援措置開始日"),
        "support_end": row.get("支援措置終了日"),
        "disclosure": {
            code: row.get(label, "不可") or "不可" for label, code in DEPARTMENTS.items()
        },
        "related": [offender] if row.get("加害者漢字氏名") or row.get("加害者カナ氏名") else [],
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
