"""Every message a client reads in an error is Japanese: Django REST framework's Japanese
catalogue leaves a dozen field messages in English ("Not a valid string.", "Must be a valid
boolean.", the surrogate one), and Django's translates "Null characters are not allowed." as
"何か文字を入力してください。" ("type some characters"), which told a client whose text held a
NUL to type something. ``daicho/locale`` supplies them (found by fuzzing the API)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import translation
from rest_framework import fields
from rest_framework.validators import ProhibitSurrogateCharactersValidator


def _field_classes(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _field_classes(child))]


def _messages() -> list[Any]:
    found = [
        message
        for cls in _field_classes(fields.Field)
        for message in getattr(cls, "default_error_messages", {}).values()
    ]
    return [
        *found,
        ProhibitNullCharactersValidator.message,
        ProhibitSurrogateCharactersValidator.message,
    ]


def test_every_field_message_of_the_api_is_japanese() -> None:
    with translation.override("ja"):
        english = sorted({str(m) for m in _messages() if str(m).isascii()})
    assert not english, english


def test_a_nul_is_named_not_taken_for_an_empty_text() -> None:
    with translation.override("ja"):
        assert "NUL" in str(ProhibitNullCharactersValidator.message)


def test_the_compiled_catalogue_says_what_the_po_says() -> None:
    """The .mo Django reads is compiled from the .po (``msgfmt``): a .po changed without
    compiling would not take effect."""
    po = Path(settings.LOCALE_PATHS[0]) / "ja" / "LC_MESSAGES" / "django.po"
    entries = re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', po.read_text(), flags=re.MULTILINE)
    assert len(entries) >= 14
    with translation.override("ja"):
        for msgid, msgstr in entries:
            assert translation.gettext(msgid.replace('\\"', '"')) == msgstr.replace('\\"', '"')


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ('{"code": "kikaku2", "name": "a\\u0000b"}', "name", "NUL"),
        ('{"code": "kikaku2", "name": "企画", "active": "maybe"}', "active", "true"),
        ('{"code": "kikaku2", "name": ["企画"]}', "name", "文字列"),
    ],
)
def test_an_api_error_names_the_problem_in_japanese(
    api: Any, body: str, field: str, says: str
) -> None:
    response = api("admin").client.post(
        "/api/v1/departments/", body, content_type="application/json"
    )
    assert response.status_code == 400
    (message,) = response.json()["detail"][field]
    assert says in message, message
    assert not message.isascii(), message
