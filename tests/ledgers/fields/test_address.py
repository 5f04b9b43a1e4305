"""住所: structured parts or one free-text line (optionally led by its postal code)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "東京都三鷹市野崎7丁目20番3号 ハイツ欅 206号室",
            {"text": "東京都三鷹市野崎7丁目20番3号 ハイツ欅 206号室"},
        ),
        (
            "〒181-0014 東京都三鷹市野崎7丁目20番3号",
            {"postal_code": "181-0014", "text": "東京都三鷹市野崎7丁目20番3号"},
        ),
        (
            "〒１８１００１４　東京都三鷹市大沢８－２７－６",
            {"postal_code": "181-0014", "text": "東京都三鷹市大沢８－２７－６"},
        ),
        (
            "181-0014 東京都三鷹市野崎",
            {"postal_code": "181-0014", "text": "東京都三鷹市野崎"},
        ),
        ("東京都三鷹市\u3000\u3000野崎", {"text": "東京都三鷹市 野崎"}),
        (
            {
                "postal_code": "１８１００１４",
                "prefecture": "東京",
                "city": "三鷹市",
                "town": "野崎",
                "block": "7丁目20番3号",
                "building": " ハイツ欅 206号室 ",
            },
            {
                "postal_code": "181-0014",
                "prefecture": "東京都",
                "city": "三鷹市",
                "town": "野崎",
                "block": "7丁目20番3号",
                "building": "ハイツ欅 206号室",
            },
        ),
        ({"prefecture": "北海道", "city": "札幌市"}, {"prefecture": "北海道", "city": "札幌市"}),
        ({"prefecture": "大阪"}, {"prefecture": "大阪府"}),
        ({"prefecture": "京都府"}, {"prefecture": "京都府"}),
        ({"city": "三鷹市", "town": "", "block": None}, {"city": "三鷹市"}),
        ({"text": "三鷹市内"}, {"text": "三鷹市内"}),
        ({"city": "", "building": "  "}, None),
    ],
)
def test_address_accepts(raw: Any, expected: dict[str, str] | None) -> None:
    assert clean("address", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"prefecture": "東京府"}, "都道府県名が正しくありません: 「東京府」"),
        ({"prefecture": "Tokyo"}, "都道府県名が正しくありません"),
        ({"postal_code": "181-001"}, "郵便番号は7桁"),
        ({"country": "日本"}, "不明な項目があります: country"),
        ({"city": 1}, "市区町村は文字列で入力してください"),
        ({"city": "三" * 201}, "200文字以内"),
        ({"text": "a\nb"}, "改行やタブ"),
        (["東京都"], "住所は文字列か"),
        (42, "住所は文字列か"),
    ],
)
def test_address_refuses(raw: Any, message: str) -> None:
    assert message in str(error("address", raw))


def test_display_joins_the_parts() -> None:
    value = clean(
        "address",
        {"postal_code": "1810014", "prefecture": "東京都", "city": "三鷹市", "town": "野崎",
         "block": "7-20-3", "building": "ハイツ欅 206"},
    )  # fmt: skip
    assert fmt("address", "display", value) == "〒181-0014 東京都三鷹市野崎7-20-3 ハイツ欅 206"
    assert fmt("address", "format_export", value) == fmt("address", "display", value)
    assert fmt("address", "search_keys", value) == ["東京都三鷹市野崎7-20-3ハイツ欅206", "1810014"]


def test_free_text_search_key_is_normalised() -> None:
    assert fmt("address", "search_keys", {"text": "三鷹市大沢８－２７－６"}) == ["三鷹市大沢8-27-6"]
