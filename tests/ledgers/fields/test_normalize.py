"""What stored text may hold (``ledgers.fields.normalize.text_problem``): no control
character, no lone surrogate, and nothing invisible or reordering the text around it, in
every text-bearing field type; variation selectors (異体字の IVS) stay."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from ledgers.fields.normalize import BIDI_CONTROLS, INVISIBLES, code_points, text_problem
from tests.ledgers.fields.helpers import clean, error

# Each one shows nothing, or turns the text around it: "山田\u202e郎太" is shown 山田太郎.
HIDDEN = {
    "\u202e": "U+202E 右から左への上書き",
    "\u202d": "U+202D 左から右への上書き",
    "\u202a": "U+202A 左から右への埋め込み",
    "\u2066": "U+2066 左から右への分離",
    "\u2067": "U+2067 右から左への分離",
    "\u2069": "U+2069 方向の分離の終わり",
    "\u200e": "U+200E 左から右への方向標識",
    "\u200f": "U+200F 右から左への方向標識",
    "\u061c": "U+061C アラビア文字の方向標識",
    "\u200b": "U+200B ゼロ幅スペース",
    "\u200c": "U+200C ゼロ幅非接合子",
    "\u200d": "U+200D ゼロ幅接合子",
    "\u2060": "U+2060 単語結合子",
    "\ufeff": "U+FEFF ゼロ幅ノーブレークスペース（BOM）",
    "\u180e": "U+180E モンゴル文字の母音区切り",
    "\u00ad": "U+00AD ソフトハイフン",
    "\u3164": "U+3164 ハングルの埋め字",
    "\u2800": "U+2800 点字の空白",  # shows as a space, is none
    "\U000e0041": "U+E0041",  # a tag letter: invisible text a program still reads
}
BIDI = set("\u202e\u202d\u202a\u2066\u2067\u2069\u200e\u200f\u061c")


def test_every_format_character_python_knows_is_refused() -> None:
    """Unicode's Cf category (format characters) whole: a newer Python that knows more of
    them fails this test until the list in ``ledgers.fields.normalize`` learns them."""
    refused = set(code_points(BIDI_CONTROLS + INVISIBLES))
    formats = {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert formats - refused == set()
    assert all(text_problem(f"山{chr(code)}田") for code in formats)


@pytest.mark.parametrize(
    "text",
    [
        "辻\U000e0100",  # 辻 with its IVS: how the family registers it
        "葛\U000e0101",
        "邉\U000e0108",
        "禰\ufe00",  # a standardized variation sequence (SVS)
        "☎\ufe0f",
        "髙橋﨑",
        "\ue000外字",  # a private-use 外字 of the city's character set
        "😀",
        "山田\u3000太郎",
        "a\u00a0b",
    ],
)
def test_variation_selectors_and_japanese_text_are_storable(text: str) -> None:
    assert text_problem(text) is None
    assert clean("text", text) == text.strip()


@pytest.mark.parametrize(("char", "named"), HIDDEN.items())
@pytest.mark.parametrize(
    ("type_id", "value", "message"),
    [
        ("text", "山田{c}太郎", "{m}"),
        ("long_text", "一行目\n二{c}行目", "{m}"),
        ("email", "taro@exa{c}mple.jp", "{m}"),
        ("person_name", {"kanji": "山田 {c}太郎"}, "氏名に{m}"),
        ("person_name", {"family": "山田{c}", "given": "太郎"}, "氏に{m}"),
        ("person_name", {"family": "山田", "given_kana": "タ{c}ロウ", "family_kana": "ヤマダ"},
         "名（カナ）に{m}"),
        ("person_name", "{c}山田 太郎", "氏名に{m}"),
        ("address", "東京都三鷹市下連雀{c}9-8-7", "住所に{m}"),
        ("address", {"city": "三鷹{c}市", "town": "下連雀"}, "市区町村に{m}"),
        ("address", {"building": "{c}コーポ", "prefecture": "東京都"}, "建物名に{m}"),
        ("file", {"name": "{c}fdp.exe", "size": 1, "storage_key": "a/b"}, "ファイルの名前に{m}"),
        ("reference", {"ledger": "dv", "record": "r{c}1"}, "参照先の記録に{m}"),
        ("choice", "新規{c}", "{m}"),
        ("multi_choice", ["新規", "更新{c}"], "{m}"),
    ],
)  # fmt: skip
def test_an_invisible_or_bidirectional_character_is_refused_naming_it(
    type_id: str, value: Any, message: str, char: str, named: str
) -> None:
    """A value that shows the same as another one (or reversed) is refused, with the
    character's code point and name in the message (it cannot be seen to be removed)."""
    options = {"choices": ["新規", "更新"]} if "choice" in type_id else None
    value = _with(value, char)
    kind = "文字の表示順を入れ替える制御文字" if char in BIDI else "目に見えない文字"
    expected = message.format(m=f"{kind}（{named}）が含まれています")
    refused = error(type_id, value, options)
    assert expected in str(refused)
    assert refused.code in {"invalid_character", "invalid_email", "invalid_reference",
                            "invalid_choice"}  # fmt: skip


@pytest.mark.parametrize("type_id", ["text", "long_text"])
@pytest.mark.parametrize(
    ("char", "named"), [("\u2028", "U+2028 行区切り"), ("\u2029", "U+2029 段落区切り")]
)
def test_a_line_or_paragraph_separator_is_refused(type_id: str, char: str, named: str) -> None:
    """A line break that the single-line check did not see, and that some readers (a
    browser) break at while others (a CSV reader, Excel) do not."""
    assert f"目に見えない文字（{named}）" in str(error(type_id, f"一行目{char}二行目"))


def test_a_group_names_the_row_and_column_of_an_invisible_character() -> None:
    options = {"fields": [{"key": "name", "label": "氏名", "type": "person_name"},
                          {"key": "memo", "label": "メモ", "type": "text"}]}  # fmt: skip
    rows = [{"name": "山田 太郎"}, {"memo": "a\u202eb"}]
    assert str(error("group", rows, options)) == (
        "2行目の「メモ」: 文字の表示順を入れ替える制御文字（U+202E 右から左への上書き）が含まれています"
    )


def _with(value: Any, char: str) -> Any:
    if isinstance(value, str):
        return value.replace("{c}", char)
    if isinstance(value, list):
        return [_with(item, char) for item in value]
    if isinstance(value, dict):
        return {key: _with(item, char) for key, item in value.items()}
    return value


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("𠮷田\U000e0041", "U+E0041"),  # past an astral character that stays
        ("辻\U000e0100\u200b", "U+200B ゼロ幅スペース"),  # past an IVS
        ("😀\U000e01f0", "U+E01F0"),  # just past the IVS block
        ("\U0001d173楽譜", "U+1D173"),
    ],
)
def test_a_refused_character_is_found_after_characters_beyond_the_bmp(
    text: str, named: str
) -> None:
    """Characters beyond the BMP (𠮷, emoji, IVS) are looked at one by one after the one
    search: the search must go on past those that stay."""
    assert text_problem(text) == f"目に見えない文字（{named}）が含まれています"
