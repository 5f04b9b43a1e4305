"""Search keys: what a value is indexed under, what a query needs, and that they meet."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledgers.search.keys import (
    MATCHES,
    MAX_EXACT_KEY_CHARS,
    MAX_NGRAM_CHARS,
    NO_UNIGRAM_CHARACTERS,
    Match,
    exact_key,
    ngram_keys,
    ngram_stored_keys,
    query_keys,
    recheck,
    stored_key,
    stored_keys,
)
from ledgers.search.normalize import normalize_name, normalize_text, variant_table

HYPOTHESIS = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KANA = "".join(map(chr, range(0x3041, 0x3097))) + "".join(map(chr, range(0x30A1, 0x30FF)))
SYMBOLS = "^=\\|々ゝー- 　・"
KANJI = "山田佐藤木花子一丁目番地号" + "".join(variant_table())
VALUES = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=KANA + KANJI + SYMBOLS + "Ab1１", max_size=80),
)


def found(
    value: str, query: str, match: Match, *, prefix: str = "name", unigrams: bool = True
) -> bool:
    """What the database does: the value's keys contain the query's keys, and the recheck
    on the stored normalised text passes."""
    keys = set(ngram_keys(prefix, value, unigrams=unigrams))
    wanted = set(query_keys(prefix, query, match, unigrams=unigrams))
    return wanted <= keys and recheck(value, query, match)


# ---------------------------------------------------------------------------------------
# Examples


def test_keys_of_a_name() -> None:
    assert ngram_keys("name", "山田花子") == sorted(
        [
            "name|山", "name|田", "name|花", "name|子",
            "name|山田", "name|田花", "name|花子",
            "name|^山",
            "name|=山田花子",
        ]
    )  # fmt: skip


def test_kana_digits_and_latin_letters_have_no_unigram_keys() -> None:
    assert ngram_keys("kana", "ヤマダ1A") == sorted(
        ["kana|ヤマ", "kana|マダ", "kana|ダ1", "kana|1A", "kana|^ヤ", "kana|=ヤマダ1A"]
    )
    assert ngram_keys("name", "林ハナ") == sorted(
        ["name|林", "name|林ハ", "name|ハナ", "name|^林", "name|=林ハナ"]
    )
    for char in ("ヤ", "や", "ー", "1", "a", "Z"):
        assert query_keys("kana", char, "contains") == []  # the recheck alone
    assert query_keys("kana", "林", "contains") == ["kana|林"]
    assert query_keys("kana", "ヤ", "prefix") == ["kana|^ヤ"]
    assert found("ヤマダ", "ヤ", "contains")
    assert found("ヤマダ", "マダ", "contains")
    assert not found("ヤマダ", "ハ", "contains")


def test_keys_of_one_character() -> None:
    assert ngram_keys("name", "田") == ["name|=田", "name|^田", "name|田"]


def test_empty_value_has_no_keys() -> None:
    assert ngram_keys("name", "") == []


def test_keys_are_deduplicated_and_sorted() -> None:
    keys = ngram_keys("kana", "ササササ")
    assert keys == sorted(set(keys))
    assert keys == ["kana|=ササササ", "kana|^サ", "kana|ササ"]


def test_digits_have_no_unigram_keys() -> None:
    """A digit field (phone, postal code) is keyed by bigrams, its first digit and its
    whole value: one digit would match nearly every value."""
    assert ngram_keys("tel", "0422", unigrams=False) == sorted(
        ["tel|04", "tel|42", "tel|22", "tel|^0", "tel|=0422"]
    )
    assert query_keys("tel", "2", "contains", unigrams=False) == []  # the recheck alone
    assert query_keys("tel", "42", "contains", unigrams=False) == ["tel|42"]
    assert found("0422", "42", "contains", unigrams=False)
    assert found("0422", "04", "prefix", unigrams=False)
    assert found("0422", "0", "prefix", unigrams=False)
    assert not found("0422", "22", "prefix", unigrams=False)


@pytest.mark.parametrize(
    ("match", "query", "expected"),
    [
        ("exact", "山田花子", ["name|=山田花子"]),
        ("prefix", "山", ["name|^山"]),
        ("prefix", "山田", ["name|^山", "name|山田"]),
        ("prefix", "山田花", ["name|^山", "name|山田", "name|田花"]),
        ("contains", "田", ["name|田"]),
        ("contains", "山田", ["name|山田"]),
        ("contains", "田花子", ["name|田花", "name|花子"]),
        ("contains", "ササササ", ["name|ササ"]),
    ],
)
def test_query_keys(match: Match, query: str, expected: list[str]) -> None:
    assert query_keys("name", query, match) == expected


def test_ngrams_that_look_like_markers_are_escaped() -> None:
    """A value containing ^ or = must not produce another value's anchored or exact key."""
    keys = ngram_keys("name", "x^山=田")
    assert "name|^山" not in keys
    assert "name|=田" not in keys
    assert {"name|\\^山", "name|\\=田", "name|\\^", "name|\\="} <= set(keys)
    assert not found("x^山=田", "山", "prefix")
    assert found("x^山=田", "^山", "contains")
    assert found("^山", "^", "prefix")
    # The escape character itself is escaped, so "\\^" cannot be confused with "^".
    assert {"name|\\\\", "name|\\\\^"} <= set(ngram_keys("name", "\\^"))


def test_different_fields_do_not_share_keys() -> None:
    assert not set(ngram_keys("family", "山田")) & set(ngram_keys("given", "山田"))
    assert not set(query_keys("family", "山", "prefix")) & set(ngram_keys("given", "山田"))


def test_long_values_are_bounded_to_their_first_64_characters() -> None:
    value = "".join(chr(0x4E00 + index) for index in range(200))
    keys = ngram_keys("address", value)
    assert len(keys) == MAX_NGRAM_CHARS + (MAX_NGRAM_CHARS - 1) + 1 + 1
    assert found(value, value[:MAX_NGRAM_CHARS], "contains", prefix="address")
    assert found(value, value[10:40], "contains", prefix="address")
    assert found(value, value[:100], "prefix", prefix="address")
    assert found(value, value, "exact", prefix="address")
    # Documented limit: a substring beyond the first 64 characters is not found.
    assert not found(value, value[100:110], "contains", prefix="address")


def test_long_exact_keys_are_hashed_and_still_meet() -> None:
    value = "あ" * (MAX_EXACT_KEY_CHARS + 1)
    key = exact_key("memo", value)
    assert key.startswith("memo|=#")
    assert len(key) < 80
    assert key in ngram_keys("memo", value)
    assert query_keys("memo", value, "exact") == [key]
    assert exact_key("memo", "あ" * MAX_EXACT_KEY_CHARS) == "memo|=" + "あ" * MAX_EXACT_KEY_CHARS


def test_recheck() -> None:
    assert recheck("山田花子", "山田花子", "exact")
    assert not recheck("山田花子", "山田", "exact")
    assert recheck("山田花子", "山田", "prefix")
    assert not recheck("山田花子", "花子", "prefix")
    assert recheck("山田花子", "田花", "contains")
    assert not recheck("山田花子", "田中", "contains")


def test_keys_narrow_and_recheck_decides() -> None:
    # 田中 and 中田 share no bigram: the keys alone rule it out.
    assert not found("中田", "田中", "contains")
    # 山田田山 has both bigrams of 山田山 (山田, 田山): the keys let it through and only
    # the recheck rejects it.
    assert set(query_keys("name", "山田山", "contains")) <= set(ngram_keys("name", "山田田山"))
    assert not found("山田田山", "山田山", "contains")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: query_keys("name", "", "contains"), "empty query"),
        (lambda: query_keys("name", "山", "like"), "unknown match"),  # type: ignore[arg-type]
        (lambda: recheck("山", "山", "like"), "unknown match"),  # type: ignore[arg-type]
        (lambda: ngram_keys("", "山"), "invalid search-key prefix"),
        (lambda: ngram_keys("a|b", "山"), "invalid search-key prefix"),
        (lambda: query_keys("a|b", "山", "exact"), "invalid search-key prefix"),
    ],
)
def test_misuse_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# ---------------------------------------------------------------------------------------
# Variant spellings meet through normalisation


@pytest.mark.parametrize(
    ("stored", "typed", "match"),
    [
        ("髙橋一郎", "高橋", "contains"),
        ("高橋一郎", "髙橋", "contains"),
        ("髙橋一郎", "高", "prefix"),
        ("高橋一郎", "髙橋", "prefix"),
        ("髙橋一郎", "高橋一郎", "exact"),
        ("山﨑花子", "山崎", "contains"),
        ("山崎花子", "﨑", "contains"),
        ("齋藤", "斉藤", "exact"),
        ("渡邉", "渡辺", "exact"),
        ("𠮷田", "吉", "prefix"),
        ("吉田", "𠮷田", "exact"),
        ("佐々木", "佐佐木", "exact"),
        ("佐佐木", "佐々木", "exact"),
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "やまだ", "prefix"),
        ("ヤマダ　ハナコ", "はなこ", "contains"),
        ("やまだはなこ", "ﾔﾏﾀﾞ ﾊﾅｺ", "exact"),
    ],
)
def test_a_name_written_with_a_variant_is_found_by_the_other_form(
    stored: str, typed: str, match: Match
) -> None:
    assert found(normalize_name(stored), normalize_name(typed), match)


def test_an_address_is_found_by_a_differently_written_piece() -> None:
    stored = normalize_text("東京都三鷹市下連雀３丁目１ー２　ﾚｼﾞﾃﾞﾝｽ髙田")
    for typed, match in [
        ("3丁目1-2", "contains"),
        ("れじでんす", "contains"),
        ("東京都", "prefix"),
    ]:
        assert found(stored, normalize_text(typed), match, prefix="address")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Properties: every query made from a value finds it


@HYPOTHESIS
@given(VALUES, st.data())
def test_any_substring_is_found_by_contains(raw: str, data: st.DataObject) -> None:
    value = normalize_name(raw)
    assume(value)
    head = value[:MAX_NGRAM_CHARS]
    start = data.draw(st.integers(0, len(head) - 1))
    end = data.draw(st.integers(start + 1, len(head)))
    query = head[start:end]
    assert set(query_keys("name", query, "contains")) <= set(ngram_keys("name", value))
    assert recheck(value, query, "contains")


@HYPOTHESIS
@given(VALUES, st.data())
def test_any_prefix_is_found_by_prefix(raw: str, data: st.DataObject) -> None:
    value = normalize_text(raw)
    assume(value)
    query = value[: data.draw(st.integers(1, len(value)))]
    assert set(query_keys("addr", query, "prefix")) <= set(ngram_keys("addr", value))
    assert recheck(value, query, "prefix")


@HYPOTHESIS
@given(VALUES)
def test_the_whole_value_is_found_by_exact(raw: str) -> None:
    value = normalize_name(raw)
    assume(value)
    assert found(value, value, "exact")
    assert found(value, normalize_name(value), "exact")


@HYPOTHESIS
@given(VALUES)
def test_key_count_is_bounded(raw: str) -> None:
    value = normalize_text(raw)
    keys = ngram_keys("f", value)
    assert len(keys) <= MAX_NGRAM_CHARS + (MAX_NGRAM_CHARS - 1) + 1 + 1
    assert all(key.startswith("f|") for key in keys)
    assert len(keys) == len(set(keys))


@HYPOTHESIS
@given(VALUES, st.sampled_from(MATCHES))
def test_query_keys_are_never_empty(raw: str, match: Match) -> None:
    query = normalize_name(raw)
    assume(query)
    one_character = match == "contains" and len(query) == 1
    # A one-character substring of kana, digits or Latin letters has none (rechecked alone).
    assert query_keys("f", query, match) or (one_character and query in NO_UNIGRAM_CHARACTERS)
    # Without unigram keys only a one-character substring has none.
    assert query_keys("f", query, match, unigrams=False) or one_character


@HYPOTHESIS
@given(VALUES, st.data(), st.sampled_from(MATCHES))
def test_every_query_made_from_a_value_finds_it_without_unigrams(
    raw: str, data: st.DataObject, match: Match
) -> None:
    value = normalize_text(raw)
    assume(value)
    head = value[:MAX_NGRAM_CHARS]
    start = 0 if match != "contains" else data.draw(st.integers(0, len(head) - 1))
    end = len(value) if match == "exact" else data.draw(st.integers(start + 1, len(head)))
    assert found(value, value[start:end], match, prefix="tel", unigrams=False)


@HYPOTHESIS
@given(VALUES, st.sampled_from(["name", "offenders.name", "住所"]))
def test_the_fast_stored_keys_are_the_stored_form_of_the_keys(raw: str, prefix: str) -> None:
    value = normalize_text(raw)
    assert ngram_stored_keys(prefix, value) == stored_keys(ngram_keys(prefix, value))
    assert ngram_stored_keys(prefix, value, unigrams=False) == stored_keys(
        ngram_keys(prefix, value, unigrams=False)
    )


@pytest.mark.parametrize("value", ["x^山=田\\", "\ud800山田", "山\udfff"])
def test_the_fast_stored_keys_take_the_long_way_for_escapes_and_lone_surrogates(
    value: str,
) -> None:
    assert ngram_stored_keys("name", value) == stored_keys(ngram_keys("name", value))


def test_stored_keys_are_signed_32_bit_integers() -> None:
    keys = stored_keys(ngram_keys("name", "山田花子"))
    assert all(-(2**31) <= key < 2**31 for key in keys)
    assert stored_key("name|山田") in keys
    assert stored_key("given|山田") not in keys
