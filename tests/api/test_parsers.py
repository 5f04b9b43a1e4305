"""The API's JSON parser (orjson, DRF's parser for what orjson refuses) reads every body as
DRF's ``JSONParser`` does."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ledgers.api.parsers import JsonParser
from tests.api.conftest import records_url

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def both(body: bytes, encoding: str = "utf-8") -> tuple[Any, Any]:
    """What DRF's parser and ours make of ``body``: a value, or the ParseError's text."""
    results = []
    for parser in (JSONParser(), JsonParser()):
        try:
            results.append(parser.parse(io.BytesIO(body), None, {"encoding": encoding}))
        except ParseError as exc:
            results.append(("ParseError", str(exc.detail)))
    return results[0], results[1]


@settings(max_examples=300)
@given(JSON_VALUES, st.booleans())
def test_any_json_reads_as_drf_reads_it(value: Any, ascii_only: bool) -> None:
    drf, ours = both(json.dumps(value, ensure_ascii=ascii_only).encode())
    assert ours == drf
    assert ours == value


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 123456789012345678901234567890}',  # past 64 bits: orjson refuses, DRF reads
        b'{"t": "\\ud83d\\ude00"}',  # a pair of surrogate escapes: one character
        b'{"n": -18446744073709551617}',
        b'{"n": NaN}',  # refused by both (strict JSON)
        b'{"n": Infinity}',
        b'{"a": 1,}',  # malformed: the same ParseError
        b"",
        b"\xef\xbb\xbf{}",  # a byte order mark
        b'{"a": "\xff"}',  # not UTF-8
        b"[1, 2",
        b"1e400",  # Python's json reads infinity
        b"-0",
        b"[1E5, 0.1, -0.0, 9223372036854775807, -9223372036854775808]",
        b"[18446744073709551615, 1.0000000000000000000001]",
        b'{"n": 12345678901234567890.5}',
        b'{"n": 123456789012345678, "m": -999999999999999999}',  # 18 digits: orjson reads them
        b'{"t": "1234567890123456789", "u": "0000000000000000000"}',  # 19 in a string: DRF
    ],
)
def test_what_orjson_refuses_reads_as_drf_reads_it(body: bytes) -> None:
    drf, ours = both(body)
    assert ours == drf


def test_other_charsets_and_refused_codecs_read_as_drf_reads_them() -> None:
    assert both('{"氏名": "山田"}'.encode("shift_jis"), "shift_jis") == (
        {"氏名": "山田"}, {"氏名": "山田"}
    )  # fmt: skip
    drf, ours = both(b"{}", "bz2_codec")
    assert ours == drf
    assert ours[0] == "ParseError"


def test_a_body_orjson_refuses_still_reaches_the_records_api(api: Any) -> None:
    """Through the routing: an integer past 64 bits reaches the field type as the exact
    integer (orjson would have made it a float), and malformed JSON is the API's error."""
    client = api("clerk").client
    body = '{"values": {"name": "佐藤 一郎", "amount": 123456789012345678901234567890}}'
    response = client.generic("POST", records_url(), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]["errors"] == {"amount": ["値が大きすぎます"]}
    malformed = client.generic(
        "POST", records_url(), '{"values": ', content_type="application/json"
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"].startswith("ERROR_")


@pytest.mark.parametrize(
    "body",
    [
        b'{"t": "\\ud800"}',
        b'{"t": "a\\uDFFF"}',
        b'{"\\udc00": 1}',  # in a key
        b'{"n": 12345678901234567890, "t": ["\\ud800"]}',  # on the long-digits path
        b'[[[{"t": "\\ud83d\\ud83d"}]]]',  # two first halves
    ],
)
def test_a_lone_surrogate_is_refused(body: bytes) -> None:
    """Half of a surrogate pair is no character: DRF's parser read it into a string
    PostgreSQL's driver cannot send (a search term with one was a server error)."""
    with pytest.raises(ParseError) as refused:
        JsonParser().parse(io.BytesIO(body), None, {"encoding": "utf-8"})
    assert "サロゲート" in str(refused.value.detail)


def test_a_lone_surrogate_in_another_charset_is_refused() -> None:
    body = '{"t": "\\ud800"}'.encode("utf-16")
    with pytest.raises(ParseError):
        JsonParser().parse(io.BytesIO(body), None, {"encoding": "utf-16"})


def test_a_lone_surrogate_answers_the_error_shape_in_japanese(api: Any) -> None:
    response = api("clerk").client.post(
        records_url(), '{"values": {"name": "\\ud800"}}', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert "サロゲート" in response.json()["message"]
