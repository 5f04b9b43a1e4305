"""氏名: kanji kept as written, readings stored as full-width katakana."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.types.person_name import PersonNameFieldType
from tests.ledgers.fields.helpers import HYPOTHESIS, clean, error, fmt


def name(
    family: str, given: str = "", family_kana: str = "", given_kana: str = ""
) -> dict[str, str]:
    return {
        "family": family,
        "given": given,
        "family_kana": family_kana,
        "given_kana": given_kana,
        "kanji": " ".join(p for p in (family, given) if p),
        "kana": " ".join(p for p in (family_kana, given_kana) if p),
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山田 太郎", name("山田", "太郎")),
        ("山田\u3000太郎", name("山田", "太郎")),
        ("  山田   太郎  ", name("山田", "太郎")),
        ("中村彩", name("中村彩")),
        ("Mary Ann Smith", name("Mary", "Ann Smith")),
        # Variant kanji are the registered spelling and survive untouched.
        ("髙橋 﨑子", name("髙橋", "﨑子")),
        ("邊見 齋", name("邊見", "齋")),
        ("濱田 健一", name("濱田", "健一")),
        ({"family": "山田", "given": "太郎"}, name("山田", "太郎")),
        ({"family": " 山田 ", "family_kana": "やまだ"}, name("山田", "", "ヤマダ")),
        (
            {"name": "山﨑 直樹", "kana": "やまざき なおき"},
            name("山﨑", "直樹", "ヤマザキ", "ナオキ"),
        ),
        ({"name": "大野\u3000誠", "kana": "ｵｵﾉ\u3000ﾏｺﾄ"}, name("大野", "誠", "オオノ", "マコト")),
        ({"name": "渡辺 花子", "kana": "ﾜﾀﾅﾍﾞ ﾊﾅｺ"}, name("渡辺", "花子", "ワタナベ", "ハナコ")),
        ({"name": "清水 智子", "kana": "シミズトモコ"}, name("清水", "智子", "シミズトモコ")),
        (
            {"name": "佐藤 恵子", "kana": "さとう\u3000けいこ"},
            name("佐藤", "恵子", "サトウ", "ケイコ"),
        ),
        ({"family": "ヴァン", "family_kana": "ゔぁん"}, name("ヴァン", "", "ヴァン")),
        (
            {"family": "スミス", "family_kana": "スミス・ジョーンズ"},
            name("スミス", "", "スミス・ジョーンズ"),
        ),
        (
            {"family": "佐々木", "family_kana": "ササキ", "given": "", "given_kana": None},
            name("佐々木", "", "ササキ"),
        ),
        # The export form reads back.
        ("山田　太郎（ヤマダ　タロウ）", name("山田", "太郎", "ヤマダ", "タロウ")),
        ("山田 太郎(ﾔﾏﾀﾞ ﾀﾛｳ)", name("山田", "太郎", "ヤマダ", "タロウ")),
        ({"family": "", "given": "", "family_kana": "", "given_kana": ""}, None),
        # The API's shape (issue: REST API v1): {"kanji", "kana"}.
        ({"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, name("山田", "花子", "ヤマダ", "ハナコ")),
        # A stored value (parts and composites) cleans to itself.
        (
            name("髙橋", "一郎", "タカハシ", "イチロウ"),
            name("髙橋", "一郎", "タカハシ", "イチロウ"),
        ),
    ],
)
def test_person_name_accepts(raw: Any, expected: dict[str, str] | None) -> None:
    assert clean("person_name", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"family": "山田", "family_kana": "山田"},
            "氏（カナ）にカナ以外の文字が含まれています: 「山田」",
        ),
        (
            {"family": "山田", "family_kana": "ヤマダ", "given_kana": "Taro"},
            "名（カナ）にカナ以外の文字",
        ),
        (
            {"name": "山田 太郎", "kana": "やまだ 1"},
            "名（カナ）にカナ以外の文字が含まれています: 「1」",
        ),
        ({"given": "太郎"}, "氏（姓）を入力してください"),
        ({"family_kana": "ヤマダ"}, "氏（姓）を入力してください"),
        ({"family": "山田", "given_kana": "タロウ"}, "氏（カナ）を入力してください"),
        ({"family": "山田", "nickname": "やま"}, "不明な項目があります: nickname"),
        ({"name": "山田 太郎", "family": "山田"}, "両方指定されています"),
        ({"family": 1}, "氏は文字列で入力してください"),
        ({"name": 1}, "氏名は文字列で入力してください"),
        ("山田\n太郎", "改行やタブ"),
        ("山田\x00", "制御文字"),
        ("山" * 101, "100文字以内"),
        (["山田", "太郎"], "氏名は文字列か"),
        ("山田 太郎（旧姓 佐藤）", "カナ以外の文字"),
    ],
)
def test_person_name_refuses(raw: Any, message: str) -> None:
    assert message in str(error("person_name", raw))


def test_require_kana() -> None:
    options = {"require_kana": True}
    assert "フリガナを入力してください" in str(error("person_name", "山田 太郎", options))
    assert (
        clean("person_name", {"name": "山田 太郎", "kana": "ヤマダ タロウ"}, options)["family_kana"]
        == "ヤマダ"
    )
    with pytest.raises(FieldOptionsError):
        PersonNameFieldType().validate_options({"require_kana": "yes"})


def test_display_export_and_search_keys() -> None:
    value = name("髙橋", "﨑子", "タカハシ", "サキコ")
    assert fmt("person_name", "display", value) == "髙橋\u3000﨑子"
    assert fmt("person_name", "format_export", value) == "髙橋\u3000﨑子（タカハシ\u3000サキコ）"
    assert fmt("person_name", "format_export", name("中村彩")) == "中村彩"
    assert fmt("person_name", "search_keys", value) == ["髙橋 﨑子", "タカハシ サキコ"]
    assert PersonNameFieldType().reading(value) == "タカハシ\u3000サキコ"


KANA = st.text(
    st.sampled_from("あいうえおがぱゃっゔアイウエオガパャッヴｱｲｳｴｵｶﾞﾊﾟｬｯｰー・ 　"), max_size=12
)
NAME_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("山田髙﨑 　"), max_size=20
)


def clean_or_none(value: Any) -> Any:
    try:
        return clean("person_name", value)
    except FieldValueError:
        assume(False)


@settings(HYPOTHESIS, max_examples=300)
@given(NAME_TEXT)
def test_cleaning_a_single_string_is_idempotent(text: str) -> None:
    once = clean_or_none(text)
    assert clean("person_name", once) == once


@settings(HYPOTHESIS, max_examples=300)
@given(NAME_TEXT, NAME_TEXT, KANA, KANA)
def test_cleaning_parts_is_idempotent(
    family: str, given: str, family_kana: str, given_kana: str
) -> None:
    once = clean_or_none(name(family, given, family_kana, given_kana))
    assert clean("person_name", once) == once
    if once is not None:
        assert all(char not in "ぁあゔｱｰ" for char in once["family_kana"] + once["given_kana"])


@settings(HYPOTHESIS, max_examples=200)
@given(NAME_TEXT, KANA)
def test_cleaning_whole_strings_is_idempotent(whole: str, kana: str) -> None:
    once = clean_or_none({"name": whole, "kana": kana})
    assert clean("person_name", once) == once


def test_a_stored_name_with_spaces_inside_a_part_cleans_to_itself() -> None:
    # Regression (hypothesis): the composite "Mary Ann Smith" against the parts
    # "Mary" + "Ann Smith" was taken for two different names.
    once = clean("person_name", "Mary Ann Smith")
    assert clean("person_name", once) == once


def test_readings_are_converted_character_by_character_as_specified() -> None:
    """to_katakana (a translation table) against its definition, over the kana blocks and
    the half-width forms: hiragana ぁ…ゖ move up by 0x60, ゝゞ become ヽヾ, the rest stays
    as NFKC leaves it; non_katakana_characters names exactly the characters outside
    full-width katakana and ー・ヽヾ."""
    import unicodedata

    from ledgers.fields.normalize import non_katakana_characters, to_katakana

    def reference(char: str) -> str:
        if 0x3041 <= ord(char) <= 0x3096:
            return chr(ord(char) + 0x60)
        return {"ゝ": "ヽ", "ゞ": "ヾ"}.get(char, char)

    chars = [chr(code) for code in [*range(0x3000, 0x3100), *range(0xFF61, 0xFFA0)]]
    for char in chars:
        expected = "".join(reference(c) for c in unicodedata.normalize("NFKC", char))
        assert to_katakana(char) == expected, hex(ord(char))
        assert to_katakana(char * 3) == expected * 3
        allowed = {chr(c) for c in range(0x30A1, 0x30FB)} | set("ーヽヾ・")
        assert non_katakana_characters(expected) == [c for c in expected if c not in allowed]
