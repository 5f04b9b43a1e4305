"""複数行テキスト: line breaks kept and unified, longer limit."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields.types.long_text import LongTextFieldType
from tests.ledgers.fields.helpers import clean, error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("一行目\r\n二行目", "一行目\n二行目"),
        ("一行目\r二行目", "一行目\n二行目"),
        ("一行目\n\n二行目\n", "一行目\n\n二行目"),
        ("列1\t列2", "列1\t列2"),
        ("  備考  ", "備考"),
    ],
)
def test_line_breaks_are_kept_and_unified(raw: str, expected: str) -> None:
    assert clean("long_text", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a\x00b", "制御文字"),
        ("a\x0cb", "制御文字"),
        ("あ" * 20001, "20000文字以内"),
        (["a"], "文字列で入力してください"),
    ],
)
def test_long_text_refuses(raw: Any, message: str) -> None:
    assert message in str(error("long_text", raw))


def test_default_and_custom_max_length() -> None:
    assert LongTextFieldType().validate_options({}) == {"max_length": 20000}
    assert "5文字以内" in str(error("long_text", "123456", {"max_length": 5}))
