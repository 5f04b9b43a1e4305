"""はい/いいえ: the marks ledgers use (可/不可, ○/×, 〇/✕, true/false, 1/0, はい/いいえ)."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields.exceptions import FieldOptionsError
from ledgers.fields.types.boolean import BooleanFieldType
from tests.ledgers.fields.helpers import clean, error, fmt


@pytest.mark.parametrize(
    "raw",
    [True, 1, "true", "TRUE", "True", "t", "yes", "Y", "on", "1", "１", "はい", "可", "○", "〇", "◯",
     "有", "あり", " 可 ", "ｔｒｕｅ"],
)  # fmt: skip
def test_true_marks(raw: Any) -> None:
    assert clean("boolean", raw) is True


@pytest.mark.parametrize(
    "raw",
    [False, 0, "false", "FALSE", "f", "no", "N", "off", "0", "０", "いいえ", "不可", "×", "✕", "✖",
     "☓", "無", "なし"],
)  # fmt: skip
def test_false_marks(raw: Any) -> None:
    assert clean("boolean", raw) is False


@pytest.mark.parametrize("raw", ["x", "X", "△", "maybe", "2", 2, -1, 1.0, ["可"], "可不可"])
def test_other_marks_are_refused(raw: Any) -> None:
    assert "はい/いいえ として読み取れません" in str(error("boolean", raw))


def test_custom_labels_are_shown_exported_and_read_back() -> None:
    options = {"true_label": "済", "false_label": "未"}
    assert clean("boolean", "済", options) is True
    assert clean("boolean", "未", options) is False
    assert fmt("boolean", "display", True, options) == "済"
    assert fmt("boolean", "format_export", False, options) == "未"


def test_default_labels() -> None:
    assert fmt("boolean", "display", True) == "はい"
    assert fmt("boolean", "display", False) == "いいえ"
    assert fmt("boolean", "search_keys", False) == ["いいえ"]


@pytest.mark.parametrize("options", [{"true_label": ""}, {"false_label": 1}])
def test_label_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(FieldOptionsError):
        BooleanFieldType().validate_options(options)
