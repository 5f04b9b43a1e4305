"""The API's JSON request parser: orjson first, DRF's own parser for whatever it refuses."""

from __future__ import annotations

import codecs
import io
import json
import re
from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from ledgers.json_text import may_hold_long_integer


class JsonParser(JSONParser):
    """DRF's ``JSONParser`` with the body read by orjson (a bulk request of 100 records:
    72 against 159 µs in Python's ``json``, 2026-11-29).

    orjson accepts strict RFC 8259 JSON only, and reads an integer past 64 bits as a float
    where Python keeps it exact. A body it refuses (a lone surrogate escape, malformed
    text), one in another charset, and one with a run of 19 or more digits anywhere (an
    integer that may not fit 64 bits; digits inside strings too, which costs them only the
    slower path) go to DRF's parser, which reads them as before or raises its usual
    ``ParseError`` (told in Japanese: ``_said_in_japanese``). The result for any body is
    therefore what ``JSONParser`` gives, but for a UTF-8 body that starts with a byte order
    mark, which is read without it (RFC 8259 allows it; DRF refused it), and two kinds of
    body, which are refused:

    - a lone surrogate (``"\\ud800"``, half of a pair): it is no character, no UTF-8 can hold
      it, and it reached every free-form value (search terms, a record's keys, a
      definition's options) as text PostgreSQL's driver could not send (a server error), or
      came back inside error messages as JSON strict clients refuse;
    - an object that names one key twice (``{"a": 1, "a": 2}``, ``"a"`` and ``"\\u0061"``
      being one key): both parsers keep the last value, where a gateway or an audit tool
      may read the first (``_every_key_kept``, ``_refuse_repeated_keys``).
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        raw = stream.read()
        parser_context = parser_context or {}
        encoding = _declared_encoding(parser_context)
        if encoding is None:
            encoding = codecs.lookup(get_encoding(parser_context)).name
        else:  # DRF's parser, below, reads the context's
            parser_context = {**parser_context, "encoding": encoding}
        if encoding == "utf-8" and raw.startswith(codecs.BOM_UTF8):
            # Windows tools write one (.NET's Encoding.UTF8, PowerShell 5): RFC 8259 lets a
            # reader ignore it, and it was a 400 that did not say why.
            raw = raw[len(codecs.BOM_UTF8) :]
        if encoding == "utf-8" and not may_hold_long_integer(raw):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
            else:
                if not _every_key_kept(raw, data):
                    _refuse_repeated_keys(raw, encoding)
                return data
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            # Nested deeper than Python's json module recurses (orjson refuses past 1,024
            # levels, then this fallback tried): malformed for us, not a server error.
            raise ParseError("JSON の入れ子が深すぎます。") from None
        except ParseError as refused:
            raise _said_in_japanese(refused, encoding) from None
        # Only an escape can spell a surrogate (UTF-8 cannot): the walk is for such bodies
        # (and for any in another charset, whose escapes the search would not see).
        spelt = encoding != "utf-8" or _SURROGATE_ESCAPE.search(raw)
        if spelt and _holds_lone_surrogate(data):
            raise ParseError(
                "本文に文字として読めない符号（対になっていないサロゲート \\uD800〜\\uDFFF）が"
                "あります。送信する側の文字の扱いを確認してください。"
            )
        # Rare bodies (another charset, long digits, what orjson refuses): the exact check.
        _refuse_repeated_keys(raw, encoding)
        return data


#: IANA charset names Python's codecs do not know: Windows-31J is Windows' Japanese (CP932),
#: Java's name for it (a Japanese Windows machine's default there).
_IANA_ONLY = {"windows-31j": "cp932", "cswindows31j": "cp932"}


def _declared_encoding(parser_context: dict[str, Any]) -> str | None:
    """The codec of the charset the request's Content-Type names, ``None`` when it names
    none. Django drops a charset Python's codecs do not know and the body was read as
    UTF-8: a Japanese one answered 「UTF-8 として読めません…文字コードを書いてください」,
    though it had, and one close to ASCII was stored as UTF-8 read it. Such a charset is
    refused, named."""
    request = getattr(parser_context.get("request"), "_request", None)
    declared = getattr(request, "content_params", {}).get("charset")
    if declared is None:
        return None
    if (known := _IANA_ONLY.get(declared.strip().lower())) is not None:
        return known
    try:
        return codecs.lookup(declared).name
    except LookupError:
        shown = declared if declared.isprintable() else json.dumps(declared)[1:-1]
        raise ParseError(
            f"Content-Type の文字コード「{shown[:64]}」は読めません。UTF-8 で送るか、"
            "読める文字コード（Shift_JIS、Windows-31J、EUC-JP など）を書いてください。"
        ) from None


def _said_in_japanese(refused: ParseError, encoding: str) -> ParseError:
    """DRF's refusal (English, which the API answers as a bare 「本文を読み取れません」) told
    as what was wrong: bytes the charset cannot read (Shift_JIS sent as UTF-8, the commonest
    mistake of a Japanese client), or where the JSON stopped making sense."""
    cause = refused.__context__
    if isinstance(cause, UnicodeDecodeError):
        return ParseError(
            f"本文を文字コード {encoding} として読めません（{cause.start + 1}バイト目）。UTF-8 で"
            "送るか、Content-Type に本文の文字コードを書いてください"
            "（例: application/json; charset=Shift_JIS）。"
        )
    if isinstance(cause, json.JSONDecodeError):
        return ParseError(
            f"本文を JSON として読み取れません（{cause.lineno}行目 {cause.colno}文字目）。"
        )
    if isinstance(cause, ValueError) and "not JSON compliant" in str(cause):
        return ParseError("本文に JSON の数値でない値（NaN、Infinity）があります。")
    return refused


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
# The escape that spells a colon inside a string (\u003a); any other spelling of one is the
# colon itself.
_COLON_ESCAPE = re.compile(rb"\\u003[aA]")


def _every_key_kept(raw: bytes, data: Any) -> bool:
    """Whether ``data``, orjson's reading of ``raw``, provably holds every key ``raw`` wrote
    (no object repeated one, whose earlier value orjson drops): the cheap check, exact when
    it says yes, that nearly every body passes.

    Outside strings a colon is only ever a key's separator, so ``raw`` holds one colon per
    key it wrote plus those inside its strings. orjson writes ``data`` back the same way
    (it escapes no colon), with one per key ``data`` holds plus those in its strings. When
    no string spells a colon as an escape (``\\u003a``), each string ``data`` kept holds
    exactly the colons its text in ``raw`` did; a repeated key's earlier occurrence takes
    its own colon (and its value's) out of ``data``. So the two counts are equal if and
    only if no key was repeated; a body with that escape, or nested deeper than orjson
    writes (255 levels), takes the exact check. A body orjson would write the same way (its
    own compact form) is compared whole instead of counted.

    Cost, on a bulk request of 100 records like bench/api.py's ``person()`` (5th percentile
    of 3,000 parses, before and after interleaved, on the 2-core development machine under
    a load of 4.6, 2026-11-30): written by orjson (33 kB), 110 µs parsed before, 148 µs
    with this check; by Python's ``json.dumps`` (ASCII escapes, spaces: 46 kB), 125 against
    221 µs (orjson's write, the escape search and both counts). The exact check alone (a
    second reading by Python's json) takes about 300 µs.
    """
    try:
        written = orjson.dumps(data)
    except orjson.JSONEncodeError:
        return False
    if written == raw:
        return True  # written as orjson writes it (our bench, many clients): nothing dropped
    if b"\\" in raw and _COLON_ESCAPE.search(raw):
        return False
    return written.count(b":") == raw.count(b":")


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> None:
    """``object_pairs_hook`` for the exact check: keys compare as decoded (``"a"`` and
    ``"\\u0061"`` are one key). Builds nothing: the check keeps no result."""
    if len(pairs) > 1 and len({key for key, _value in pairs}) < len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)


def _refuse_repeated_keys(raw: bytes, encoding: str) -> None:
    """Refuse a body where an object names one key twice (``{"a": 1, "a": 2}``). orjson and
    Python's json keep the last value, a gateway, a WAF or an audit tool in front of us may
    read the first: the body would mean one thing to them and another to us. Reads
    ``raw`` again with Python's json (only a body that one of the parsers has read
    already comes here)."""
    try:
        json.loads(codecs.decode(raw, encoding), object_pairs_hook=_no_repeats)
    except _RepeatedKey as repeated:
        shown = repeated.key if repeated.key.isprintable() else json.dumps(repeated.key)[1:-1]
        shown = shown if len(shown) <= 64 else shown[:64] + "…"
        raise ParseError(
            f"本文の JSON で、一つのオブジェクトにキー「{shown}」が2回以上あります。どちらの値を"
            "読むかで意味が変わるため受け付けません。キーは1回だけ書いてください。"
        ) from None
    except (ValueError, LookupError) as unread:
        # Read by a parser already: not expected, but malformed for us, not a server error.
        raise ParseError(f"JSON parse error - {unread}") from None
    except RecursionError:
        raise ParseError("JSON の入れ子が深すぎます。") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(data: Any) -> bool:
    """Whether a surrogate code point is in any key or string of ``data`` (a pair of escapes
    reads as one character: what remains is a lone half). Iterative: ``data`` may be nested
    as deep as Python's json module reads."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
