"""Character-level normalisation shared by the field types.

Stored values keep what staff wrote (variant kanji such as 髙 or 﨑 must survive), so
NFKC is applied only where the value is a code (digits, postal codes, phone numbers) or a
search key. Kana are stored as full-width katakana whatever width or script was typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from ledgers.fields.exceptions import FieldValueError

# Dashes staff type between digits: ASCII, full-width (NFKC makes it ASCII), the long
# vowel mark in both widths, and the Unicode hyphen/dash/minus family.
HYPHENS = "-ー－ｰ‐‑‒–—―−﹣"
_HYPHEN_RE = re.compile(f"[{re.escape(HYPHENS)}]")
_WHITESPACE_RE = re.compile(r"\s+")
#: C0/C1 controls that stored text may not hold (tabs and line breaks aside; PostgreSQL's
#: jsonb refuses \u0000), as a character class's ranges.
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
#: Characters that reorder the text around them on screen (bidirectional controls), as
#: ranges of code points: an override (U+202E) shows "山田太郎" for what is stored as
#: "郎太田山", and turns an address or a file name around in lists, CSV files and print.
BIDI_CONTROLS = ((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))
#: Characters that show nothing, or nothing the reader can tell apart: format characters
#: (Unicode's Cf: zero widths, the word joiner, the BOM, soft hyphen, tags, the Arabic,
#: Kaithi, Egyptian, shorthand and musical format controls, interlinear annotation), the
#: other default-ignorable code points (Hangul fillers, the combining grapheme joiner, Khmer
#: inherent vowels, Mongolian variation selectors; the reserved ones in those blocks too)
#: and the line and paragraph separators, which some readers break at and others ignore;
#: and the braille pattern blank (U+2800), which is no space to a program but shows as one
#: (山田⠀花子 for 山田 花子), where the other braille patterns show their dots.
#: Two names that differ only by one of them look the same on screen and on paper, but are
#: different values to a search, a comparison or a CSV join. Japanese data needs none: a
#: ZWJ (U+200D) joins emoji, not a name or a case note. Variation selectors U+FE00-FE0F
#: and U+E0100-E01EF are not here: 辻 + U+E0100 is how a family registers its 辻 (IVS), and
#: search folds them away (``ledgers.search.normalize``). ``tests/ledgers/fields/
#: test_normalize.py`` checks that every Cf character Python knows is among these two.
INVISIBLES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200D), (0x2028, 0x2029), (0x2060, 0x2065), (0x206A, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE00FF), (0xE01F0, 0xE0FFF),
)  # fmt: skip


def code_points(ranges: tuple[tuple[int, int], ...]) -> list[int]:
    """Every code point of ``ranges`` (inclusive pairs), for ``str.translate`` tables."""
    return [code for first, last in ranges for code in range(first, last + 1)]


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges)


_REFUSED = BIDI_CONTROLS + INVISIBLES
# Everything stored text may not hold, in one search: a text without any (nearly every one)
# costs one pass. Lone surrogates (half a pair: no UTF-8 holds them) included. Characters
# beyond the BMP are found by one range and looked at one by one (_ASTRAL_REFUSED_RE): a
# class of only BMP ranges is a bitmap to the regular expression engine, where the astral
# ranges made it try each range in turn, 3-6 times slower (a 200-character note: 5.0
# against 1.1 µs). 𠮷, emoji and a name's IVS are astral, and rare enough.
_SCAN_RE = re.compile(
    f"[{CONTROLS}\\ud800-\\udfff"
    f"{_character_class(tuple(pair for pair in _REFUSED if pair[1] <= 0xFFFF))}"
    "\\U00010000-\\U0010ffff]"
)
_ASTRAL_REFUSED_RE = re.compile(
    f"[{_character_class(tuple(pair for pair in _REFUSED if pair[0] > 0xFFFF))}]"
)
_BIDI_RE = re.compile(f"[{_character_class(BIDI_CONTROLS)}]")
#: Japanese names of the characters staff are likely to meet (pasted from web pages, PDF
#: files, mail, or typed to deceive); others are named by their code point alone.
CHARACTER_NAMES = {
    0x00AD: "ソフトハイフン",
    0x034F: "結合書記素接合子",
    0x061C: "アラビア文字の方向標識",
    0x115F: "ハングルの埋め字",
    0x1160: "ハングルの埋め字",
    0x180E: "モンゴル文字の母音区切り",
    0x200B: "ゼロ幅スペース",
    0x200C: "ゼロ幅非接合子",
    0x200D: "ゼロ幅接合子",
    0x200E: "左から右への方向標識",
    0x200F: "右から左への方向標識",
    0x2028: "行区切り",
    0x2029: "段落区切り",
    0x202A: "左から右への埋め込み",
    0x202B: "右から左への埋め込み",
    0x202C: "方向の書式の終わり",
    0x202D: "左から右への上書き",
    0x202E: "右から左への上書き",
    0x2060: "単語結合子",
    0x2066: "左から右への分離",
    0x2067: "右から左への分離",
    0x2068: "前後に合わせた分離",
    0x2069: "方向の分離の終わり",
    0x2800: "点字の空白",
    0x3164: "ハングルの埋め字",
    0xFEFF: "ゼロ幅ノーブレークスペース（BOM）",
    0xFFA0: "ハングルの埋め字",
}
#: Every C0 control and DEL: none belongs in a query string or a search term (and
#: PostgreSQL refuses a NUL in text).
ANY_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096  # ぁ … ゖ
_KATAKANA_OFFSET = 0x60
_KATAKANA_RE = re.compile(r"[\u30a1-\u30fa\u30fc\u30fd\u30fe\u30fb]*")


def nfkc(text: str) -> str:
    """NFKC: full-width digits and letters become ASCII, half-width kana full-width."""
    return unicodedata.normalize("NFKC", text)


def unify_hyphens(text: str) -> str:
    """Every dash-like character becomes an ASCII hyphen-minus."""
    return _HYPHEN_RE.sub("-", text)


def remove_whitespace(text: str) -> str:
    return _WHITESPACE_RE.sub("", text)


def collapse_whitespace(text: str) -> str:
    """Trim and turn every run of whitespace (full-width space too) into one ASCII space."""
    return _WHITESPACE_RE.sub(" ", text).strip()


def is_blank(value: object) -> bool:
    """``None`` and strings of only whitespace mean "no value" for every field type."""
    return value is None or (isinstance(value, str) and not value.strip())


def search_normalize(text: str) -> str:
    """The simple search form: NFKC without whitespace (refined by the search feature)."""
    return remove_whitespace(nfkc(text))


def character_label(char: str) -> str:
    """ "U+200B ゼロ幅スペース": a character's code point and, if it has one, its Japanese
    name (``CHARACTER_NAMES``), for messages about a character nobody can see."""
    name = CHARACTER_NAMES.get(ord(char))
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def text_problem(text: str, *, allow_newlines: bool = True) -> str | None:
    """Why ``text`` may not be stored, as a Japanese phrase naming the character, or None.

    The one rule for every text the server keeps (record values through the field types,
    definitions, staff and department names, token and webhook descriptions):

    - no control character but tab and line breaks (a NUL: PostgreSQL's jsonb refuses it),
      and none of those either unless ``allow_newlines``;
    - no lone surrogate (half a pair: no UTF-8 holds it);
    - no bidirectional control (``BIDI_CONTROLS``) nor invisible character
      (``INVISIBLES``): they make two different names look the same, or reorder what is
      shown.
    """
    found = _SCAN_RE.search(text)
    while found is not None and found.group() > "\uffff":
        if _ASTRAL_REFUSED_RE.match(found.group()):
            break
        found = _SCAN_RE.search(text, found.end())
    if found is not None:
        char = found.group()
        if "\ud800" <= char <= "\udfff":
            return "文字化けした文字（不正な文字コード）が含まれています"
        if char <= "\x9f":
            return f"制御文字（U+{ord(char):04X}）が含まれています"
        if _BIDI_RE.match(char):
            return f"文字の表示順を入れ替える制御文字（{character_label(char)}）が含まれています"
        return f"目に見えない文字（{character_label(char)}）が含まれています"
    if not allow_newlines and ("\n" in text or "\r" in text or "\t" in text):
        return "改行やタブは入力できません"
    return None


#: ``str.translate`` table of ``unseen_removed``.
_UNSEEN = dict.fromkeys(code_points(_REFUSED))


def unseen_removed(text: str) -> str:
    """``text`` without its bidirectional controls and invisible characters
    (``BIDI_CONTROLS``, ``INVISIBLES``): a search term as the search reads it (the search
    form drops them, ``ledgers.search.normalize``), and as the audit trail keeps it."""
    return text if text.isascii() else text.translate(_UNSEEN)


def check_storable_text(text: str, *, allow_newlines: bool = False, part: str = "") -> None:
    """``text_problem`` as the field types' ``FieldValueError`` (``part``: which part of
    the value, "氏（カナ）", so that the message says where)."""
    problem = text_problem(text, allow_newlines=allow_newlines)
    if problem is not None:
        raise FieldValueError(f"{part}に{problem}" if part else problem, code="invalid_character")


# Hiragana → katakana, and the hiragana iteration marks → the katakana ones (str.translate).
_TO_KATAKANA: dict[int, int | str] = {
    **{code: code + _KATAKANA_OFFSET for code in range(_HIRAGANA_START, _HIRAGANA_END + 1)},
    ord("ゝ"): "ヽ",
    ord("ゞ"): "ヾ",
}


def to_katakana(text: str) -> str:
    """Hiragana and half-width kana become full-width katakana; other characters stay."""
    return nfkc(text).translate(_TO_KATAKANA)


def non_katakana_characters(text: str) -> list[str]:
    """Characters of ``text`` that are not full-width katakana (or ー・ヽヾ)."""
    if _KATAKANA_RE.fullmatch(text):
        return []
    return [char for char in text if not _KATAKANA_RE.fullmatch(char)]


def texts_in(document: Any, *, scalars: bool = False) -> Iterator[str]:
    """Every text of ``document`` (an object's keys and values, a list's items, at any
    depth), in no particular order; with ``scalars`` a number's or a truth value's text
    too. A loop, not recursion: a body may nest deeper than Python recurses."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif scalars and item is not None:
            yield str(item)
