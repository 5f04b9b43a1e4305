"""氏名: family and given name in kanji (as written) with their katakana readings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.normalize import (
    check_storable_text,
    collapse_whitespace,
    nfkc,
    non_katakana_characters,
    remove_whitespace,
    search_normalize,
    to_katakana,
)
from ledgers.fields.registry import FieldType

PARTS = ("family", "given", "family_kana", "given_kana")
PART_LABELS = {
    "family": "氏",
    "given": "名",
    "family_kana": "氏（カナ）",
    "given_kana": "名（カナ）",
}
# Extra input keys: a whole name or a whole reading in one string, as in CSV columns
# 漢字氏名 and カナ氏名.
WHOLE_KEYS = {
    "name": ("family", "given"),
    "kanji": ("family", "given"),
    "kana": ("family_kana", "given_kana"),
}
WHOLE_LABELS = {"name": "氏名", "kanji": "氏名", "kana": "フリガナ"}
MAX_PART_LENGTH = 100
#: A name written as one text: its four parts and the spaces and brackets between them.
MAX_TEXT_LENGTH = 4 * MAX_PART_LENGTH + 100
# "山田 太郎（ヤマダ タロウ）", the form format_export writes.
_WITH_READING_RE = re.compile(r"(?P<name>[^()（）]+?)\s*[(（](?P<kana>[^()（）]*)[)）]")
_SPACE = "\u3000"


def split_whole(text: str) -> tuple[str, str]:
    """ "山田 太郎" or "山田　太郎" → ("山田", "太郎"); without a space the whole string is
    the family name, because a name cannot be split reliably without one."""
    family, _, given = collapse_whitespace(text).partition(" ")
    return family, given


def _clean_part(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldValueError(f"{PART_LABELS[key]}は文字列で入力してください", code="invalid_type")
    check_storable_text(value, part=PART_LABELS[key])
    if key.endswith("_kana"):
        kana = remove_whitespace(to_katakana(value))
        if bad := non_katakana_characters(kana):
            raise FieldValueError(
                f"{PART_LABELS[key]}にカナ以外の文字が含まれています: 「{''.join(dict.fromkeys(bad))}」",
                code="invalid_kana",
                part=key,
            )
        text = kana
    else:
        text = collapse_whitespace(value)
    if len(text) > MAX_PART_LENGTH:
        raise FieldValueError(
            f"{PART_LABELS[key]}は{MAX_PART_LENGTH}文字以内で入力してください",
            code="too_long",
            part=key,
        )
    return text


def _same_name(whole: str, joined_parts: str, first: str) -> bool:
    if first.endswith("_kana"):
        return remove_whitespace(to_katakana(whole)) == remove_whitespace(joined_parts)
    return remove_whitespace(whole) == remove_whitespace(joined_parts)


class PersonNameFieldType(FieldType):
    """A person's name as {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"} (the API's shape) with
    its parts {"family", "given", "family_kana", "given_kana"} ("" when unknown).

    Kanji are kept exactly as typed: 髙, 﨑 and 邊 are how the person is registered.
    Readings are stored as full-width katakana whatever was typed (hiragana, half-width
    kana). Option ``require_kana`` makes the reading mandatory, as most 住民 ledgers do.
    """

    type = "person_name"
    label = "氏名"
    pure = True
    option_keys: ClassVar[frozenset[str]] = frozenset({"require_kana"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        require_kana = options.get("require_kana", False)
        if not isinstance(require_kana, bool):
            raise FieldOptionsError("オプション「require_kana」は true か false で指定してください")
        return {"require_kana": require_kana}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> dict[str, str] | None:
        if isinstance(value, str):
            value = self._from_text(value)
        if not isinstance(value, Mapping):
            raise FieldValueError(
                "氏名は文字列か、氏・名・カナの組で入力してください", code="invalid_type"
            )
        unknown = sorted(str(key) for key in value if key not in PARTS and key not in WHOLE_KEYS)
        if unknown:
            raise FieldValueError(
                f"氏名に不明な項目があります: {'、'.join(unknown)}", code="unknown_keys"
            )
        parts = {key: _clean_part(key, value.get(key)) for key in PARTS}
        for whole_key, (first, second) in WHOLE_KEYS.items():
            whole = value.get(whole_key)
            if whole is None or (isinstance(whole, str) and not whole.strip()):
                continue
            if parts[first] or parts[second]:
                # A stored value carries both its parts and their composite: accept the
                # composite when it says the same as the parts (cleaning is idempotent).
                if isinstance(whole, str) and _same_name(
                    whole, parts[first] + parts[second], first
                ):
                    continue
                raise FieldValueError(
                    f"「{whole_key}」と{PART_LABELS[first]}・{PART_LABELS[second]}が両方指定されています",
                    code="ambiguous_name",
                )
            if not isinstance(whole, str):
                raise FieldValueError("氏名は文字列で入力してください", code="invalid_type")
            check_storable_text(whole, part=WHOLE_LABELS[whole_key])
            head, tail = split_whole(whole)
            parts[first], parts[second] = _clean_part(first, head), _clean_part(second, tail)
        if not any(parts.values()):
            return None
        if not parts["family"]:
            raise FieldValueError("氏（姓）を入力してください", code="missing_family_name")
        if options.get("require_kana") and not parts["family_kana"]:
            raise FieldValueError("フリガナを入力してください", code="missing_kana")
        if parts["given_kana"] and not parts["family_kana"]:
            raise FieldValueError("氏（カナ）を入力してください", code="missing_family_kana")
        return {
            **parts,
            "kanji": " ".join(p for p in (parts["family"], parts["given"]) if p),
            "kana": " ".join(p for p in (parts["family_kana"], parts["given_kana"]) if p),
        }

    def _from_text(self, text: str) -> dict[str, str]:
        """One string: "山田 太郎", or "山田 太郎（ヤマダ タロウ）" as exported."""
        prepared = text.strip()
        if len(prepared) > MAX_TEXT_LENGTH:
            # Before the pattern, which scans a run of spaces again from each of its
            # characters (20,000 cost 1.5 s; a 2.5 MB body of them, an hour).
            raise FieldValueError(
                f"氏名は{MAX_TEXT_LENGTH}文字以内で入力してください", code="too_long"
            )
        if match := _WITH_READING_RE.fullmatch(prepared):
            return {"name": match.group("name"), "kana": match.group("kana")}
        return {"name": prepared}

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        if value is None:
            return ""
        return _SPACE.join(part for part in (value["family"], value["given"]) if part)

    def reading(self, value: Any) -> str:
        """The katakana reading, family and given separated by a full-width space."""
        if value is None:
            return ""
        return _SPACE.join(part for part in (value["family_kana"], value["given_kana"]) if part)

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        if value is None:
            return ""
        name, kana = self.display(value, options), self.reading(value)
        return f"{name}（{kana}）" if kana else name

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        """The whole name and the whole reading (NFKC only for the key), each with one space
        between its family and given parts: the search forms drop it, and
        ``ledgers.search.normalize.name_forms`` reads the parts from it."""
        if value is None:
            return []
        keys = [
            _parts(search_normalize(value["family"]), search_normalize(value["given"])),
            _parts(nfkc(value["family_kana"]), nfkc(value["given_kana"])),
        ]
        return [key for key in dict.fromkeys(keys) if key]


def _parts(family: str, given: str) -> str:
    return f"{family} {given}" if family and given else family or given
