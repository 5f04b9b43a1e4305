"""複数行テキスト: remarks, case notes; line breaks kept."""

from __future__ import annotations

from typing import ClassVar

from ledgers.fields.types.text import TextFieldType


class LongTextFieldType(TextFieldType):
    """Multi-line text. Line endings become "\\n" so that CRLF from Excel and LF from the
    browser store the same value."""

    type = "long_text"
    label = "複数行テキスト"
    default_max_length: ClassVar[int] = 20000
    limit: ClassVar[int] = 200000
    multiline: ClassVar[bool] = True

    def normalise(self, text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").strip()
