"""添付ファイル: metadata of a stored file; the bytes live in object storage."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.normalize import check_storable_text, search_normalize
from ledgers.fields.options import int_option
from ledgers.fields.registry import FieldType

KEYS = frozenset({"name", "size", "content_type", "storage_key"})
#: The largest size a JSON number holds exactly (2**53 - 1 bytes: 8 PiB).
MAX_SIZE = 2**53 - 1
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_NAME_LENGTH = 255
MAX_KEY_LENGTH = 1024
_CONTENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9*][a-z0-9.+*-]*")


def human_size(size: int) -> str:
    """12345 → "12.1 KB"."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _required_text(value: Mapping[str, Any], key: str, label: str, limit: int) -> str:
    text = value.get(key)
    if not isinstance(text, str) or not text.strip():
        raise FieldValueError(f"ファイルの{label}がありません", code="invalid_file", key=key)
    check_storable_text(text, part=f"ファイルの{label}")
    if len(text) > limit:
        raise FieldValueError(
            f"ファイルの{label}が長すぎます（{limit}文字まで）", code="invalid_file", key=key
        )
    return text.strip()


class FileFieldType(FieldType):
    """{"name", "size", "content_type", "storage_key"} of an uploaded file. The upload
    service writes the bytes and builds this; ``clean`` guards what reaches JSONB.
    Options: ``max_size`` in bytes, ``content_types`` such as ["application/pdf", "image/*"]."""

    type = "file"
    label = "添付ファイル"
    option_keys: ClassVar[frozenset[str]] = frozenset({"max_size", "content_types"})

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = super().validate_options(options)
        max_size = int_option(options, "max_size", minimum=0)
        content_types = options.get("content_types")
        if content_types is not None:
            if not isinstance(content_types, list) or not all(
                isinstance(item, str) and _CONTENT_TYPE_RE.fullmatch(item.strip().lower())
                for item in content_types
            ):
                raise FieldOptionsError(
                    "オプション「content_types」は MIME タイプ（例: application/pdf、image/*）の一覧で指定してください",
                    key="content_types",
                )
            content_types = [item.strip().lower() for item in content_types]
        return {"max_size": max_size, "content_types": content_types}

    def clean_value(self, value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise FieldValueError(
                "ファイルの情報（名前・サイズ・保存先）がありません", code="invalid_file"
            )
        if unknown := sorted(str(key) for key in value if key not in KEYS):
            raise FieldValueError(
                f"ファイルの情報に不明な項目があります: {'、'.join(unknown)}", code="invalid_file"
            )
        name = _required_text(value, "name", "名前", MAX_NAME_LENGTH)
        if "/" in name or "\\" in name:
            raise FieldValueError(
                "ファイル名にフォルダの区切り（/ や \\）は使えません", code="invalid_file"
            )
        storage_key = _required_text(value, "storage_key", "保存先", MAX_KEY_LENGTH)
        if storage_key.startswith("/") or "\\" in storage_key or ".." in storage_key.split("/"):
            raise FieldValueError("ファイルの保存先が正しくありません", code="invalid_file")
        size = value.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise FieldValueError(
                "ファイルのサイズは0以上の整数で指定してください", code="invalid_file"
            )
        content_type = value.get("content_type") or DEFAULT_CONTENT_TYPE
        if isinstance(content_type, str):
            # "text/plain; charset=utf-8" → "text/plain": parameters do not decide the kind.
            content_type = content_type.split(";")[0].strip().lower()
        if not isinstance(content_type, str) or not _CONTENT_TYPE_RE.fullmatch(content_type):
            raise FieldValueError(
                "ファイルの種類（content_type）が正しくありません", code="invalid_file"
            )
        max_size = options.get("max_size")
        if max_size is not None and size > max_size:
            raise FieldValueError(
                f"ファイルが大きすぎます（{human_size(size)}、上限{human_size(max_size)}）",
                code="file_too_large",
            )
        allowed = options.get("content_types")
        if allowed and not any(fnmatch.fnmatchcase(content_type, pattern) for pattern in allowed):
            raise FieldValueError(
                f"この種類のファイルは添付できません（{content_type}）。添付できる種類: {'、'.join(allowed)}",
                code="file_type_not_allowed",
            )
        return {
            "name": name,
            "size": size,
            "content_type": content_type,
            "storage_key": storage_key,
        }

    def parse_import(self, text: str, options: Mapping[str, Any]) -> Any:
        """A cell holds at most a file name, not the file: only blank cells import."""
        if isinstance(text, str) and not text.strip():
            return None
        raise FieldValueError(
            "添付ファイルは一覧表（CSV・Excel）からは取り込めません", code="file_not_importable"
        )

    def format_export(self, value: Any, options: Mapping[str, Any]) -> str:
        return "" if value is None else value["name"]

    def display(self, value: Any, options: Mapping[str, Any], *, era: bool = True) -> str:
        return "" if value is None else f"{value['name']}（{human_size(value['size'])}）"

    def search_keys(self, value: Any, options: Mapping[str, Any]) -> list[str]:
        return [] if value is None else [search_normalize(value["name"])]
