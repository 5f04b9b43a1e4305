"""メールアドレス: "taro@example.jp" from full-width input such as "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ledgers.fields.exceptions import FieldValueError
from ledgers.fields.normalize import check_storable_text, nfkc
from ledgers.fields.registry import FieldType

MAX_LENGTH = 254


class EmailFieldType(FieldType):
    """An e-mail address, checked with Django's validator. The domain is lower-cased
    (it is case-insensitive); the local part is kept, as RFC 5321 lets it matter."""

    pure = True
    type = "email"
    label = "メールアドレス"

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> str:
        if not isinstance(value, str):
            raise FieldValueError("メールアドレスは文字列で入力してください", code="invalid_type")
        check_storable_text(value)  # a quoted local part may hold what the validator lets by
        address = nfkc(value).strip()
        if len(address) > MAX_LENGTH:
            raise FieldValueError(
                f"メールアドレスは{MAX_LENGTH}文字以内で入力してください", code="too_long"
            )
        try:
            validate_email(address)
        except ValidationError:
            raise FieldValueError(
                f"メールアドレスの形式が正しくありません: 「{value.strip()}」", code="invalid_email"
            ) from None
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return [] if value is None else [value.lower()]
