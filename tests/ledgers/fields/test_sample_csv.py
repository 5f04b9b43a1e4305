"""The DV support-measure sample ledger (CP932, CRLF) read cell by cell with the field
types: every well-formed cell must clean, and the planted bad values must be refused."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldValueError

SAMPLE = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dv_support_ledger_cp932.csv"
)
DATE_COLUMNS = ["受付日", "生年月日", "支援措置開始日", "支援措置終了日", "加害者生年月日"]
DEPARTMENT_COLUMNS = {
    "市民課": "shimin",
    "市民税課": "shiminzei",
    "資産税課": "shisanzei",
    "保険課": "hoken",
    "生活福祉課": "seikatsu_fukushi",
    "子ども育成課": "kodomo",
    "学務課": "gakumu",
}
BAD_DATES = {"令和5年13月1日": "月が正しくありません", "昭和70年1月1日": "昭和70年は存在しません"}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    if not SAMPLE.exists():
        pytest.skip(f"sample data not found: {SAMPLE}")
    with SAMPLE.open(encoding="cp932", newline="") as handle:
        return list(csv.DictReader(handle))


def clean(type_id: str, raw: object, options: dict[str, object] | None = None) -> object:
    """A cell goes through ``parse_import``; several cells combined through ``clean``."""
    field_type = field_type_registry.get(type_id)
    normalised = field_type.validate_options(options)
    if isinstance(raw, str):
        return field_type.parse_import(raw, normalised)
    return field_type.clean(raw, normalised)


def test_the_sample_is_cp932_with_crlf_and_26_columns(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 200
    assert all(len(row) == 26 for row in rows)
    assert set(DATE_COLUMNS) | set(DEPARTMENT_COLUMNS) <= set(rows[0])
    assert b"\r\n" in SAMPLE.read_bytes()[:2000]


def test_every_date_parses_except_the_planted_bad_ones(rows: list[dict[str, str]]) -> None:
    failures: dict[str, str] = {}
    parsed = 0
    for row in rows:
        for column in DATE_COLUMNS:
            try:
                value = clean("date", row[column])
            except FieldValueError as error:
                failures[row[column]] = str(error)
                continue
            if value is not None:
                parsed += 1
                assert date.fromisoformat(value).year >= 1900  # type: ignore[arg-type]
    assert set(failures) == set(BAD_DATES)
    for text, message in BAD_DATES.items():
        assert message in failures[text]
    # Nearly 1,000 cells in every written form (和暦, R5.4.1, 2023/04/01, full width, 元年).
    assert parsed > 900


@pytest.mark.parametrize(("text", "message"), BAD_DATES.items())
def test_the_planted_bad_dates_are_refused(text: str, message: str) -> None:
    with pytest.raises(FieldValueError, match=message):
        clean("date", text)


def test_only_one_support_period_ends_before_it_starts(rows: list[dict[str, str]]) -> None:
    """A record rule, not a field rule; it shows the dates were read as meant."""
    backwards = [
        row["管理番号"]
        for row in rows
        if row["支援措置終了日"]
        and str(clean("date", row["支援措置終了日"])) < str(clean("date", row["支援措置開始日"]))
    ]
    assert len(backwards) == 1


def test_department_flag_columns_parse(rows: list[dict[str, str]]) -> None:
    options = {"departments": list(DEPARTMENT_COLUMNS.values())}
    marks = Counter(row[column] for row in rows for column in DEPARTMENT_COLUMNS)
    assert set(marks) == {"可", "不可", "○", "×"}
    granted = 0
    for row in rows:
        value = clean(
            "department_flags",
            {code: row[column] for column, code in DEPARTMENT_COLUMNS.items()},
            options,
        )
        assert isinstance(value, dict)
        assert set(value) == set(DEPARTMENT_COLUMNS.values())
        granted += sum(value.values())
    assert granted == marks["可"] + marks["○"]


def test_names_parse_and_the_missing_reading_is_refused(rows: list[dict[str, str]]) -> None:
    options = {"require_kana": True}
    refused = []
    for row in rows:
        for kana, kanji in (("カナ氏名", "漢字氏名"), ("加害者カナ氏名", "加害者漢字氏名")):
            try:
                value = clean("person_name", {"name": row[kanji], "kana": row[kana]}, options)
            except FieldValueError as error:
                refused.append(str(error))
                continue
            assert isinstance(value, dict)
            assert value["family"]
            assert value["family_kana"]
    assert refused == ["フリガナを入力してください"]


def test_postal_codes_and_addresses_parse(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert str(clean("postal_code", row["郵便番号"])).startswith("181-")
        for column in ("現住所", "前住所"):
            assert clean("address", row[column]) == {"text": row[column].strip()}


@pytest.mark.parametrize(
    ("column", "choices", "refused"),
    [("区分", ["新規", "更新", "変更"], {"取消"}), ("性別", ["女", "男"], {"X"})],
)
def test_the_unknown_category_and_sex_are_refused(
    rows: list[dict[str, str]], column: str, choices: list[str], refused: set[str]
) -> None:
    failures: dict[str, str] = {}
    for row in rows:
        try:
            clean("choice", row[column], {"choices": choices})
        except FieldValueError as error:
            failures[row[column]] = str(error)
    assert set(failures) == refused
    assert all("は選択肢にありません" in message for message in failures.values())
