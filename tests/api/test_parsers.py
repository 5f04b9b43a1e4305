"""The API's JSON parser (orjson, DRF's parser for what orjson refuses) reads every body as
DRF's ``JSONParser`` does."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django_tenants.utils import schema_context
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ledgers.api.parsers import JsonParser
from ledgers.records.models import Record
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
    if isinstance(drf, tuple):  # refused by both, ours saying why in Japanese
        assert ours[0] == "ParseError"
        assert not ours[1].isascii(), ours
    else:
        assert ours == drf


def test_other_charsets_and_refused_codecs_read_as_drf_reads_them() -> None:
    assert both('{"氏名": "山田"}'.encode("shift_jis"), "shift_jis") == (
        {"氏名": "山田"}, {"氏名": "山田"}
    )  # fmt: skip
    drf, ours = both(b"{}", "bz2_codec")
    assert drf[0] == ours[0] == "ParseError"


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


REPEATED = [
    b'{"a": 1, "a": 2}',  # at the top level
    b'{"a":1,"b":{"c":true,"c":false}}',  # nested inside a value
    b'{"records": [{"values": {"n": 1}}, {"values": {"n": 2, "m": 0, "n": 3}}]}',  # in a list
    b'[{"x": [], "y": {}}, [[{"k": "v", "k": "v"}]]]',  # the same value twice: still two keys
    b'{"a": 1, "\\u0061": 2}',  # one key, spelt with an escape
    b'{"\\u5c71\\u7530": 1, "\xe5\xb1\xb1\xe7\x94\xb0": 2}',  # 山田, escaped and not
    b'{"a:b": 1, "a\\u003ab": 2}',  # the escaped colon the cheap check leaves to the exact one
    b'{"t": "\\u003a", "a": 1, "a": 2}',  # an escaped colon where it would balance a drop
    b'{"n": 12345678901234567890, "n": 1}',  # on DRF's path (more than 64 bits)
    b'{"a": 1, "b": 2, "a": 3}',
]


@pytest.mark.parametrize("body", REPEATED)
def test_an_object_that_repeats_a_key_is_refused(body: bytes) -> None:
    """orjson and DRF keep the last value; a gateway or an audit tool in front of the API
    may read the first: the body would mean two things. Both were read before."""
    with pytest.raises(ParseError) as refused:
        JsonParser().parse(io.BytesIO(body), None, {"encoding": "utf-8"})
    assert "2回以上あります" in str(refused.value.detail)


def test_a_repeated_key_in_another_charset_is_refused() -> None:
    body = '{"氏名": "山田", "氏名": "佐藤"}'.encode("shift_jis")
    with pytest.raises(ParseError) as refused:
        JsonParser().parse(io.BytesIO(body), None, {"encoding": "shift_jis"})
    assert "キー「氏名」が2回以上" in str(refused.value.detail)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": {"a": 2}}',  # one key in two objects
        b'[{"a": 1}, {"a": 2}]',
        b'{"a": "x:y", "b": "\\u003a", "c": ":::"}',  # colons in strings, escaped or not
        b'{"a\\u003a": 1, "b": 2}',  # a key spelt with an escaped colon
        b'{"\\u0061": 1, "b": "\\"a\\": 2"}',
    ],
)
def test_the_same_key_in_different_objects_or_strings_is_no_repeat(body: bytes) -> None:
    drf, ours = both(body)
    assert ours == drf
    assert not isinstance(ours, tuple)


# JSON objects written as lists of pairs, so that a key may repeat; strings spelt with some
# characters escaped (the colon, letters) as clients do.
KEYS = st.sampled_from(["a", "b", ":", "a:b", "山田", "\\"])
TREES = st.recursive(
    st.none() | st.integers(-5, 5) | st.text(alphabet='ab:山\\"', max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(st.tuples(KEYS, children), max_size=4).map(lambda pairs: ("object", pairs))
    ),
    max_leaves=12,
)


def _spelt(text: str, escape: set[str]) -> str:
    out = []
    for char in text:
        if char in escape or char in '"\\':
            out.append(f"\\u{ord(char):04x}" if char in escape else "\\" + char)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _write(tree: Any, escape: set[str], space: str) -> str:
    if isinstance(tree, tuple):
        pairs = [f"{_spelt(k, escape)}:{space}{_write(v, escape, space)}" for k, v in tree[1]]
        return "{" + f",{space}".join(pairs) + "}"
    if isinstance(tree, list):
        return "[" + f",{space}".join(_write(item, escape, space) for item in tree) + "]"
    return _spelt(tree, escape) if isinstance(tree, str) else json.dumps(tree)


def _repeats(tree: Any) -> bool:
    if isinstance(tree, tuple):
        keys = [key for key, _value in tree[1]]
        return len(set(keys)) < len(keys) or any(_repeats(value) for _key, value in tree[1])
    if isinstance(tree, list):
        return any(_repeats(item) for item in tree)
    return False


@settings(max_examples=400)
@given(TREES, st.sets(st.sampled_from([":", "a", "山"])), st.sampled_from(["", " ", "\n"]))
def test_a_body_is_refused_exactly_when_an_object_repeats_a_key(
    tree: Any, escape: set[str], space: str
) -> None:
    """The cheap check (colons counted in the body and in orjson's writing of what it read)
    and the exact one (Python's json) together refuse every body with a repeated key, and
    only those, however its strings are spelt."""
    body = io.BytesIO(_write(tree, escape, space).encode())
    if _repeats(tree):
        with pytest.raises(ParseError, match="2回以上"):
            JsonParser().parse(body, None, {"encoding": "utf-8"})
    else:
        JsonParser().parse(body, None, {"encoding": "utf-8"})


def test_a_repeated_key_answers_the_error_shape_and_writes_nothing(api: Any) -> None:
    from django_tenants.utils import schema_context

    from ledgers.records.models import Record

    with schema_context("mitaka"):
        before = Record.objects.count()
    body = (
        '{"records": [{"values": {"name": "鈴木 一", "disclosure": {"shimin": "可"}}},'
        ' {"values": {"name": "鈴木 二", "disclosure": {"shimin": "不可", "shimin": "可"}}}]}'
    )
    response = api("clerk").client.generic(
        "POST", records_url() + "bulk/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert response.json()["message"].startswith(
        "本文の JSON で、一つのオブジェクトにキー「shimin」"
    )
    with schema_context("mitaka"):
        assert Record.objects.count() == before


def test_a_body_in_windows_31j_is_read_as_cp932(api: Any) -> None:
    """Windows-31J is the IANA name of Windows' Japanese charset (CP932), and Java's: Python
    knows it as cp932 only, so the charset was dropped and the body read as UTF-8, a 400
    telling the client to name the charset it had named."""
    body = '{"values": {"name": "髙橋 ①子", "disclosure": {"shimin": true}}}'.encode("cp932")
    response = api("clerk").client.generic(
        "POST", records_url(), body, content_type="application/json; charset=Windows-31J"
    )
    assert response.status_code == 201, response.content[:300]
    assert response.json()["values"]["name"]["kanji"] == "髙橋 ①子"


def test_a_charset_no_codec_reads_is_refused_naming_it(api: Any) -> None:
    """A charset Python cannot read was dropped without a word and the body read as UTF-8:
    a Japanese body came back as 「UTF-8 として読めません…文字コードを書いてください」
    (it had), one in a charset close to ASCII was stored as UTF-8 would read it."""
    with schema_context("mitaka"):
        before = Record.objects.count()
    body = '{"values": {"name": "山田 花子", "disclosure": {"shimin": true}}}'.encode()
    response = api("clerk").client.generic(
        "POST", records_url(), body, content_type="application/json; charset=x-unknown-jp"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert "x-unknown-jp" in response.json()["message"]
    with schema_context("mitaka"):
        assert Record.objects.count() == before
