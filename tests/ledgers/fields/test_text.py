"""テキスト: kept as typed, trimmed, one line, bounded length, storable characters only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.text import TextFieldType
from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山田", "山田"),
        ("  山田 太郎\u3000", "山田 太郎"),
        # Variant kanji and widths are the person's own spelling: never normalised.
        ("髙橋", "髙橋"),
        ("山﨑", "山﨑"),
        ("ﾔﾏﾀﾞ", "ﾔﾏﾀﾞ"),
        ("ＡＢＣ１２３", "ＡＢＣ１２３"),
        (123, "123"),
        (Decimal("1.50"), "1.50"),
        ('=HYPERLINK("http://x")', '=HYPERLINK("http://x")'),
    ],
)
def test_text_is_kept_as_typed(raw: Any, expected: str) -> None:
    assert clean("text", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("一行目\n二行目", "改行やタブは入力できません"),
        ("a\tb", "改行やタブは入力できません"),
        ("a\x00b", "制御文字"),
        ("a\x1bb", "制御文字"),
        ("\ud800", "不正な文字コード"),
        (True, "文字列で入力してください"),
        (["a"], "文字列で入力してください"),
        ({"a": 1}, "文字列で入力してください"),
        ("あ" * 256, "255文字以内で入力してください（現在256文字）"),
    ],
)
def test_text_refuses(raw: Any, message: str) -> None:
    assert message in str(error("text", raw))


@pytest.mark.parametrize(("length", "ok"), [(10, True), (11, False)])
def test_max_length_counts_characters_not_bytes(length: int, ok: bool) -> None:
    value = "漢" * length
    if ok:
        assert clean("text", value, {"max_length": 10}) == value
    else:
        assert "10文字以内" in str(error("text", value, {"max_length": 10}))


@pytest.mark.parametrize("max_length", [0, -1, "10", 1.5, True, 1001])
def test_max_length_option_is_checked(max_length: Any) -> None:
    with pytest.raises(FieldOptionsError, match="max_length"):
        TextFieldType().validate_options({"max_length": max_length})


def test_default_options() -> None:
    assert TextFieldType().validate_options(None) == {"max_length": 255}


def test_search_key_is_nfkc_without_spaces() -> None:
    assert fmt("text", "search_keys", "ﾔﾏﾀﾞ　ＴＡＲＯ") == ["ヤマダTARO"]
