"""添付ファイル: metadata keys, sizes, names, storage keys and allowed kinds."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.fields import field_type_registry
from ledgers.fields.exceptions import FieldOptionsError, FieldValueError
from ledgers.fields.types.file import FileFieldType, human_size
from tests.ledgers.fields.helpers import clean, error, fmt

PDF = {
    "name": "申請書.pdf",
    "size": 12345,
    "content_type": "application/pdf",
    "storage_key": "mitaka/ab/cd.pdf",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (PDF, PDF),
        ({**PDF, "name": " 申請書.pdf "}, PDF),
        ({**PDF, "size": 0}, {**PDF, "size": 0}),
        ({**PDF, "content_type": "Application/PDF"}, PDF),
        (
            {**PDF, "content_type": "text/plain; charset=utf-8"},
            {**PDF, "content_type": "text/plain"},
        ),
        (
            {k: v for k, v in PDF.items() if k != "content_type"},
            {**PDF, "content_type": "application/octet-stream"},
        ),
    ],
)
def test_file_accepts(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert clean("file", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**PDF, "size": -1}, "サイズは0以上の整数"),
        ({**PDF, "size": 1.5}, "サイズは0以上の整数"),
        ({**PDF, "size": "12"}, "サイズは0以上の整数"),
        ({**PDF, "size": True}, "サイズは0以上の整数"),
        ({k: v for k, v in PDF.items() if k != "size"}, "サイズは0以上の整数"),
        ({**PDF, "name": ""}, "ファイルの名前がありません"),
        ({k: v for k, v in PDF.items() if k != "name"}, "ファイルの名前がありません"),
        ({**PDF, "name": "../etc/passwd"}, "フォルダの区切り"),
        ({**PDF, "name": "a\\b.pdf"}, "フォルダの区切り"),
        ({**PDF, "name": "a\x00.pdf"}, "制御文字"),
        ({**PDF, "storage_key": ""}, "保存先がありません"),
        ({**PDF, "storage_key": "/abs/path"}, "保存先が正しくありません"),
        ({**PDF, "storage_key": "a/../b"}, "保存先が正しくありません"),
        ({**PDF, "content_type": "pdf"}, "種類（content_type）が正しくありません"),
        ({**PDF, "content_type": 3}, "種類（content_type）が正しくありません"),
        ({**PDF, "url": "http://x"}, "不明な項目があります: url"),
        ("申請書.pdf", "ファイルの情報"),
        ([PDF], "ファイルの情報"),
    ],
)
def test_file_refuses(raw: Any, message: str) -> None:
    assert message in str(error("file", raw))


def test_max_size_and_content_types() -> None:
    options = {"max_size": 10_000, "content_types": ["application/pdf", "image/*"]}
    assert "ファイルが大きすぎます（12.1 KB、上限9.8 KB）" in str(error("file", PDF, options))
    image = {**PDF, "name": "写真.jpg", "size": 10, "content_type": "image/jpeg"}
    assert clean("file", image, options) == image
    text = {**PDF, "size": 10, "content_type": "text/plain"}
    assert "この種類のファイルは添付できません（text/plain）" in str(error("file", text, options))


@pytest.mark.parametrize(
    "options", [{"max_size": -1}, {"content_types": "application/pdf"}, {"content_types": ["pdf"]}]
)
def test_file_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(FieldOptionsError):
        FileFieldType().validate_options(options)


def test_a_file_cannot_be_imported_from_a_cell() -> None:
    field_type = field_type_registry.get("file")
    assert field_type.parse_import("", {}) is None
    with pytest.raises(FieldValueError, match="取り込めません"):
        field_type.parse_import("申請書.pdf", {})


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (5 * 1024**2, "5.0 MB"),
        (3 * 1024**4, "3072.0 GB"),
    ],
)
def test_human_size(size: int, expected: str) -> None:
    assert human_size(size) == expected


def test_display_and_search_keys() -> None:
    assert fmt("file", "display", PDF) == "申請書.pdf（12.1 KB）"
    assert fmt("file", "format_export", PDF) == "申請書.pdf"
    assert fmt("file", "search_keys", PDF) == ["申請書.pdf"]
