"""郵便番号: "123-4567" from every way it is written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ledgers.fields.helpers import HYPOTHESIS, clean, error, fmt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("181-0014", "181-0014"),
        ("1810014", "181-0014"),
        ("〒181-0014", "181-0014"),
        ("〒 181-0014", "181-0014"),
        ("〒1810014", "181-0014"),
        ("１８１００１４", "181-0014"),
        ("１８１－００１４", "181-0014"),
        ("〒１８１ー００１４", "181-0014"),
        ("181−0014", "181-0014"),
        ("181‐0014", "181-0014"),
        ("181 0014", "181-0014"),
        (" 181-0014 ", "181-0014"),
        ("060-0001", "060-0001"),
        # Excel drops the leading zero of numeric cells.
        (600001, "060-0001"),
        (1810014, "181-0014"),
    ],
)
def test_postal_code_accepts(raw: Any, expected: str) -> None:
    assert clean("postal_code", raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["181-001", "18100145", "181-00145", "1810-014", "abc-defg", "181_0014", "〒", "600001",
     12345678, -1, True, 1.5, ["181-0014"], "181--0014"],
)  # fmt: skip
def test_postal_code_refuses(raw: Any) -> None:
    assert "郵便番号" in str(error("postal_code", raw))


def test_display_and_search_keys() -> None:
    assert fmt("postal_code", "display", "181-0014") == "〒181-0014"
    assert fmt("postal_code", "format_export", "181-0014") == "181-0014"
    assert fmt("postal_code", "search_keys", "181-0014") == ["181-0014", "1810014"]


DIGIT = st.sampled_from("0123456789０１２３４５６７８９")


@settings(HYPOTHESIS, max_examples=300)
@given(
    st.lists(DIGIT, min_size=3, max_size=3),
    st.lists(DIGIT, min_size=4, max_size=4),
    st.sampled_from(["", "-", "－", "ー", "−", " "]),
    st.sampled_from(["", "〒", "〒 "]),
)
def test_cleaning_is_idempotent(head: list[str], tail: list[str], dash: str, mark: str) -> None:
    once = clean("postal_code", f"{mark}{''.join(head)}{dash}{''.join(tail)}")
    assert clean("postal_code", once) == once
    assert len(once) == 8
    assert once[3] == "-"
    assert once.replace("-", "").isascii()
