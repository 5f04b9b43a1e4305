"""The sample DV ledger file loads, and every name form it holds finds its person."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from daicho.accounts.models import Department, Role
from ledgers.access.services import grants_replace
from ledgers.records.models import Record
from ledgers.samples.dv import DEPARTMENTS, dv_ledger_create, dv_sample_load
from ledgers.search.services import search_run
from tests.ledgers.conftest import staff

SAMPLE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dv_support_ledger_cp932.csv"
)
REASON = "本人からの申出による確認"


@pytest.fixture
def loaded(in_mitaka: Any) -> dict[str, Any]:
    if not SAMPLE.exists():
        pytest.skip("shared/data is not beside the repository")
    departments = {
        code: Department.objects.create(code=code, name=label)
        for label, code in DEPARTMENTS.items()
    }
    departments["soumu"] = Department.objects.create(code="soumu", name="総務課")
    designer = staff("designer", departments["soumu"], Role.LEDGER_ADMIN)
    ledger = dv_ledger_create(actor=designer)
    grants_replace(
        actor=designer, ledger=ledger,
        grants=[{"department": "soumu", "capabilities": ["create", "design", "view", "search"], "clearance": "special_care"}]
        + [{"department": code, "capabilities": ["view", "search"], "clearance": "special_care"} for code in DEPARTMENTS.values()],
    )  # fmt: skip
    report = dv_sample_load(actor=designer, ledger=ledger, path=SAMPLE)
    searchers = {
        code: staff(f"s_{code}", departments[code], Role.VIEWER) for code in DEPARTMENTS.values()
    }
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_bytes().decode("cp932"))))
    return {"ledger": ledger, "report": report, "searchers": searchers, "rows": rows}


def test_valid_rows_load_and_the_eight_wrong_ones_are_named(loaded: dict[str, Any]) -> None:
    report = loaded["report"]
    assert len(report.rejected) == 8, report.rejected
    assert report.loaded == len(loaded["rows"]) - 8
    assert Record.objects.filter(ledger=loaded["ledger"]).count() == report.loaded
    reasons = " ".join(
        m for errors in report.rejected.values() for msgs in errors.values() for m in msgs
    )
    assert "昭和" in reasons
    assert "重複" in reasons
    # The formula in a remark is stored as text (exports guard against it).
    assert Record.objects.filter(data__remarks__startswith="=").exists()


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def _half_width(text: str) -> str:
    table = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF66, 0xFF9E)}
    return "".join(table.get(c, c) for c in text)


def test_every_name_form_in_the_file_finds_its_person(loaded: dict[str, Any]) -> None:
    ledger, searchers = loaded["ledger"], loaded["searchers"]
    records = {r.data["control_no"]: r for r in Record.objects.filter(ledger=ledger)}
    checked = 0
    for line, row in enumerate(loaded["rows"], start=2):
        if line in loaded["report"].rejected:
            continue
        record = records[row["管理番号"]]
        department = next((c for c, flag in record.data["disclosure"].items() if flag), None)
        if department is None:
            continue  # disclosed to no department: nobody may find it, as designed
        searcher = searchers[department]
        kana = record.data["name"]["kana"].replace(" ", "")
        forms = {
            row["漢字氏名"],
            row["カナ氏名"],
            kana,
            _hiragana(kana),
            _half_width(kana),
            record.data["name"]["kanji"],
        }
        for form in forms - {""}:
            hits = search_run(
                actor=searcher,
                ledger=ledger,
                screen_code="latest",
                criteria={"name": form},
                reason=REASON,
                page_size=1000,
            )
            assert record.pk in {h.record.pk for h in hits.hits}, (row["管理番号"], form)
        if row["通称・旧姓"]:
            hits = search_run(
                actor=searcher,
                ledger=ledger,
                screen_code="latest",
                criteria={"other_names": row["通称・旧姓"]},
                reason=REASON,
                page_size=1000,
            )
            assert record.pk in {h.record.pk for h in hits.hits}, (
                row["管理番号"],
                row["通称・旧姓"],
            )
        for form in {row["加害者漢字氏名"], row["加害者カナ氏名"]} - {""}:
            hits = search_run(
                actor=searcher,
                ledger=ledger,
                screen_code="offender",
                criteria={"related.name": form},
                reason=REASON,
                page_size=50,
            )
            assert record.pk in {h.record.pk for h in hits.hits}, (row["管理番号"], form)
        checked += 1
    assert checked > 100


def test_variant_kanji_find_each_other(loaded: dict[str, Any]) -> None:
    ledger, searchers = loaded["ledger"], loaded["searchers"]
    variants = {"髙": "高", "﨑": "崎", "邊": "辺", "齋": "斎", "濱": "浜"}
    tried = 0
    for record in Record.objects.filter(ledger=ledger):
        kanji = record.data["name"]["kanji"]
        department = next((c for c, flag in record.data["disclosure"].items() if flag), None)
        for variant, standard in variants.items():
            if variant in kanji and department:
                hits = search_run(actor=searchers[department], ledger=ledger, screen_code="latest",
                                  criteria={"name": kanji.replace(variant, standard)}, reason=REASON, page_size=1000)  # fmt: skip
                assert record.pk in {h.record.pk for h in hits.hits}, kanji
                tried += 1
    assert tried >= 3
