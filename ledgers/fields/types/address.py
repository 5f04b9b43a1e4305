"""住所: structured (都道府県, 市区町村, 町域, 番地, 建物) or one free-text line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import (
    HYPHENS,
    check_storable_text,
    collapse_whitespace,
    nfkc,
    search_normalize,
)
from ledgers.fields.registry import FieldType
from ledgers.fields.types.postal_code import clean_postal_code

PARTS = ("postal_code", "prefecture", "city", "town", "block", "building", "text")
PART_LABELS = {
    "postal_code": "郵便番号",
    "prefecture": "都道府県",
    "city": "市区町村",
    "town": "町域",
    "block": "番地",
    "building": "建物名",
    "text": "住所",
}
MAX_PART_LENGTH = 200
PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip
# "東京" → "東京都", "北海道" stays: the name without its 都/府/県 suffix.
_PREFECTURE_BY_SHORT_NAME = {
    **{name: name for name in PREFECTURES},
    **{name[:-1]: name for name in PREFECTURES if name != "北海道"},
}
# A free-text address that starts with its postal code: "〒181-0014 東京都三鷹市…".
# ASCII and full-width digits (not every Unicode digit ``\d`` takes); the rest of the
# line is kept as typed.
_LEADING_POSTAL_RE = re.compile(
    rf"〒?\s*(?P<postal>[0-9０-９]{{3}}[{re.escape(HYPHENS)}]?[0-9０-９]{{4}})\s+(?P<rest>.+)",
    re.DOTALL,
)


def _clean_part(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldValueError(f"{PART_LABELS[key]}は文字列で入力してください", code="invalid_type")
    check_storable_text(value, part=PART_LABELS[key])
    text = collapse_whitespace(value)
    if len(text) > MAX_PART_LENGTH:
        raise FieldValueError(
            f"{PART_LABELS[key]}は{MAX_PART_LENGTH}文字以内で入力してください", code="too_long"
        )
    if text and key == "postal_code":
        return clean_postal_code(text)
    if text and key == "prefecture":
        prefecture = _PREFECTURE_BY_SHORT_NAME.get(nfkc(text))
        if prefecture is None:
            raise FieldValueError(
                f"都道府県名が正しくありません: 「{text}」", code="invalid_prefecture"
            )
        return prefecture
    return text


class AddressFieldType(FieldType):
    """An address as a dict of the non-empty parts among postal_code, prefecture, city,
    town, block, building; or {"text": …} (with an optional postal_code) when it was
    entered as one line. Parts keep their characters; whitespace runs become one space."""

    type = "address"
    label = "住所"
    pure = True

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> dict[str, str] | None:
        if isinstance(value, str):
            value = self._from_text(value)
        if not isinstance(value, Mapping):
            raise FieldValueError(
                "住所は文字列か、都道府県・市区町村などの組で入力してください", code="invalid_type"
            )
        unknown = sorted(str(key) for key in value if key not in PARTS)
        if unknown:
            raise FieldValueError(
                f"住所に不明な項目があります: {'、'.join(unknown)}", code="unknown_keys"
            )
        cleaned = {key: _clean_part(key, value.get(key)) for key in PARTS}
        return {key: text for key, text in cleaned.items() if text} or None

    def _from_text(self, text: str) -> dict[str, str]:
        prepared = text.strip()
        if match := _LEADING_POSTAL_RE.fullmatch(prepared):
            return {"postal_code": match.group("postal"), "text": match.group("rest")}
        return {"text": prepared}

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        """One line; ``parse_import`` reads it back as postal code + free text."""
        return self.display(value, options)

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        if value is None:
            return ""
        street = "".join(value.get(key, "") for key in ("prefecture", "city", "town", "block"))
        pieces = [
            f"〒{value['postal_code']}" if value.get("postal_code") else "",
            street,
            value.get("building", ""),
            value.get("text", ""),
        ]
        return " ".join(piece for piece in pieces if piece)

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        if value is None:
            return []
        keys = [search_normalize(self.display({**value, "postal_code": ""}, options))]
        if value.get("postal_code"):
            keys.append(value["postal_code"].replace("-", ""))
        return [key for key in keys if key]
