"""The API's JSON request parser: orjson first, DRF's own parser for whatever it refuses."""

from __future__ import annotations

import codecs
import io
import re
from typing import Any

import orjson
from rest_framework.parsers import JSONParser, get_encoding

# 18 digits always fit a signed 64-bit integer; 19 may not.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


class JsonParser(JSONParser):
    """DRF's ``JSONParser`` with the body read by orjson (~5x faster: a bulk request of 100
    records spent ~0.35 ms of its ~9 ms in Python's ``json``, 2026-11-29).

    orjson accepts strict RFC 8259 JSON only, and reads an integer past 64 bits as a float
    where Python keeps it exact. A body it refuses (a lone surrogate escape, malformed
    text), one in another charset, and one with a run of 19 or more digits anywhere (an
    integer that may not fit 64 bits; digits inside strings too, which costs them only the
    slower path) go to DRF's parser, which reads them as before or raises its usual
    ``ParseError``. The result for any body is therefore exactly what ``JSONParser`` gives.
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        raw = stream.read()
        encoding = codecs.lookup(get_encoding(parser_context or {})).name
        if encoding == "utf-8" and not _LONG_DIGITS.search(raw):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
        return super().parse(io.BytesIO(raw), media_type, parser_context)
