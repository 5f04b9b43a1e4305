"""メールアドレス: full-width input made ASCII, domain lower-cased."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("taro@example.jp", "taro@example.jp"),
        ("  taro@example.jp ", "taro@example.jp"),
        ("Taro.Yamada@Example.JP", "Taro.Yamada@example.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        ("taro+ledger@city.mitaka.lg.jp", "taro+ledger@city.mitaka.lg.jp"),
        ("user@localhost", "user@localhost"),
    ],
)
def test_email_accepts(raw: str, expected: str) -> None:
    assert clean("email", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("taro", "メールアドレスの形式が正しくありません: 「taro」"),
        ("taro@", "形式が正しくありません"),
        ("@example.jp", "形式が正しくありません"),
        ("taro@example", "形式が正しくありません"),
        ("taro@@example.jp", "形式が正しくありません"),
        ("taro yamada@example.jp", "形式が正しくありません"),
        ("山田@example.jp", "形式が正しくありません"),
        ("a" * 250 + "@example.jp", "254文字以内"),
        (42, "文字列で入力してください"),
    ],
)
def test_email_refuses(raw: Any, message: str) -> None:
    assert message in str(error("email", raw))


def test_search_key_is_lower_case() -> None:
    assert fmt("email", "search_keys", "Taro@example.jp") == ["taro@example.jp"]
