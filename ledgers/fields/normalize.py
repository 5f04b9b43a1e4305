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
# C0/C1 controls except tab and newlines; PostgreSQL's JSONB also refuses \u0000.
#: Controls that stored text may not hold (tabs and line breaks aside).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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


def check_storable_text(text: str, *, allow_newlines: bool = False) -> None:
    """Refuse characters that cannot be stored or shown: controls and lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldValueError(
            "文字化けした文字（不正な文字コード）が含まれています", code="invalid_character"
        ) from None
    if CONTROL_RE.search(text):
        raise FieldValueError("制御文字が含まれています", code="invalid_character")
    if not allow_newlines and ("\n" in text or "\r" in text or "\t" in text):
        raise FieldValueError("改行やタブは入力できません", code="invalid_character")


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
