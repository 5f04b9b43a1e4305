"""What each type is keyed by (ledgers.search.index): identifiers, long text and integers by
their whole value, addresses without unigrams. A query the index cannot narrow is answered
by the recheck alone, and finds exactly what a keyed query would."""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.exceptions import LedgerError
from ledgers.records.models import Record
from ledgers.records.services import record_create
from ledgers.search.index import Indexer, normaliser_for, query_stored_keys
from ledgers.search.keys import key_prefix, stored_key
from ledgers.search.query import contains_filter
from ledgers.search.services import search_run

FIELDS = [
    {"key": "name", "label": "氏名", "type": "text", "required": True},
    {"key": "phone", "label": "電話番号", "type": "phone"},
    {"key": "amount", "label": "金額", "type": "integer"},
    {"key": "address", "label": "住所", "type": "address"},
    {"key": "email", "label": "メール", "type": "email"},
    {"key": "note", "label": "備考", "type": "long_text"},
]
SCREENS = [
    {"code": "tel", "name": "電話番号検索", "generations": "all", "result_fields": ["name"],
     "criteria": [{"field": "phone", "match": "contains"}, {"field": "amount", "match": "exact"},
                  {"field": "address", "match": "contains"}, {"field": "email", "match": "contains"}]},
]  # fmt: skip
PEOPLE = [
    ("一", "0422-45-1111", 1200, "東京都三鷹市下連雀三丁目1番1号", "ichi@example.jp", "窓口で相談"),
    ("二", "03-3333-4444", 1300, "東京都武蔵野市緑町二丁目2番2号", "ni@city.example.jp", ""),
    ("三", "", 1200, "", "", "電話で相談"),
]  # fmt: skip


@pytest.fixture
def people(clerk: Any) -> Ledger:
    ledger = ledger_create(
        actor=clerk, code="tel", name="名簿", fields=FIELDS, search_screens=SCREENS
    )
    for name, phone, amount, address, email, note in PEOPLE:
        values = {"name": name, "phone": phone, "amount": amount, "email": email, "note": note}
        if address:
            values["address"] = {"text": address}
        record_create(actor=clerk, ledger=ledger, values=values)
    return ledger


def test_identifiers_and_integers_are_keyed_by_their_whole_value_long_text_not_at_all(
    people: Ledger,
) -> None:
    one = Record.objects.get(ledger=people, data__name="一")
    index = Indexer(people.fields(), people.pk).index(
        {key: one.data[key] for key in ("phone", "amount", "email", "note")}
    )
    prefixes = {path: key_prefix(people.pk, path) for path in ("phone", "amount", "email", "note")}
    assert index.keys == sorted(
        [
            stored_key(f"{prefixes['phone']}|=0422451111"),
            stored_key(f"{prefixes['amount']}|=1200"),
            stored_key(f"{prefixes['email']}|={normaliser_for('email')('ichi@example.jp')}"),
        ]
    )
    # Long text has no key at all, only its recheck text.
    assert index.texts["note"] == f"\x1f{normaliser_for('long_text')('窓口で相談')}\x1f"
    assert query_stored_keys(people.pk, "note", "long_text", "窓口で相談", "exact") == []
    assert set(index.keys) <= set(one.search_keys)
    for path, type_id, part in [("phone", "phone", "4511"), ("amount", "integer", "12"),
                                ("email", "email", "example"), ("note", "long_text", "相談")]:  # fmt: skip
        assert query_stored_keys(people.pk, path, type_id, part, "contains") == []
        assert query_stored_keys(people.pk, path, type_id, part, "prefix") == []
    assert query_stored_keys(people.pk, "amount", "integer", "1200", "exact") == [
        stored_key(f"{prefixes['amount']}|=1200")
    ]


def test_an_address_has_no_unigram_keys_but_its_bigrams_and_start(people: Ledger) -> None:
    one = Record.objects.get(ledger=people, data__name="一")
    address = key_prefix(people.pk, "address")
    assert stored_key(f"{address}|三鷹") in one.search_keys
    assert stored_key(f"{address}|^東") in one.search_keys
    assert stored_key(f"{address}|鷹") not in one.search_keys
    assert query_stored_keys(people.pk, "address", "address", "鷹", "contains") == []
    assert query_stored_keys(people.pk, "address", "address", "三鷹", "contains") == [
        stored_key(f"{address}|三鷹")
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("4", {"一", "二"}), ("1", {"一"}), ("０", {"一", "二"}), ("45", {"一"}), ("9", set())],
)
def test_part_of_a_phone_number_is_rechecked_over_the_ledger(
    clerk: Any, people: Ledger, query: str, expected: set[str]
) -> None:
    result = search_run(actor=clerk, ledger=people, screen_code="tel", criteria={"phone": query})
    assert {hit.record.data["name"] for hit in result.hits} == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"phone": "0422451111"}, {"一"}),
        ({"phone": "０４２２－４５－１１１１"}, {"一"}),
        ({"email": "example.jp"}, {"一", "二"}),
        ({"email": "city."}, {"二"}),
        ({"address": "鷹"}, {"一"}),
        ({"address": "町"}, {"二"}),
        ({"address": "三鷹", "phone": "1111"}, {"一"}),
        ({"address": "三鷹", "phone": "4444"}, set()),
    ],
)
def test_whole_value_and_one_character_queries_find_what_keyed_ones_would(
    clerk: Any, people: Ledger, criteria: dict[str, str], expected: set[str]
) -> None:
    result = search_run(actor=clerk, ledger=people, screen_code="tel", criteria=criteria)
    assert {hit.record.data["name"] for hit in result.hits} == expected


def test_an_integer_is_searched_by_its_whole_value(clerk: Any, people: Ledger) -> None:
    result = search_run(
        actor=clerk, ledger=people, screen_code="tel", criteria={"amount": "１２００"}
    )
    assert {hit.record.data["name"] for hit in result.hits} == {"一", "三"}


def test_the_list_filter_contains_on_an_integer_is_rechecked(people: Ledger) -> None:
    rows = Record.objects.filter(ledger=people).filter(contains_filter(people, "amount", "30"))
    assert {r.data["name"] for r in rows} == {"二"}
    rows = Record.objects.filter(ledger=people).filter(contains_filter(people, "phone", "3"))
    assert {r.data["name"] for r in rows} == {"二"}
    rows = Record.objects.filter(ledger=people).filter(contains_filter(people, "note", "相談"))
    assert {r.data["name"] for r in rows} == {"一", "三"}


def test_a_search_screen_cannot_ask_for_part_of_an_integer(clerk: Any) -> None:
    screens = [{**SCREENS[0], "criteria": [{"field": "amount", "match": "contains"}]}]
    with pytest.raises(LedgerError, match="金額"):
        ledger_create(actor=clerk, code="bad", name="名簿", fields=FIELDS, search_screens=screens)


def test_the_indexer_s_shortcut_for_plain_fields_matches_the_general_path(clerk: Any) -> None:
    """Indexer._indexed takes a shortcut for fields that are not groups; it must store
    exactly what searchable_values describes for every type."""
    from ledgers.search.index import MAX_VALUE, SEP, Indexer, searchable_values, value_keys
    from tests.ledgers.test_records import RICH_FIELDS, RICH_VALUES

    ledger = ledger_create(actor=clerk, code="rich", name="型の多い台帳", fields=RICH_FIELDS)
    indexer = Indexer(ledger.fields(include_removed=True), ledger.pk)
    for values in RICH_VALUES:
        data = record_create(actor=clerk, ledger=ledger, values=values).data
        expected_keys: set[int] = set()
        expected_texts = {}
        for path, type_id, texts in searchable_values(ledger.fields(), data):
            held = [text[:MAX_VALUE] for text in texts]
            expected_texts[path] = SEP + SEP.join(held) + SEP
            for text in held:
                expected_keys.update(value_keys(key_prefix(ledger.pk, path), type_id, text))
        index = indexer.index(data)
        assert index.texts == expected_texts
        assert set(index.keys) == expected_keys
        # The literal the single-record paths send holds the same keys as the binary
        # elements the bulk paths send, and is what the record stores.
        assert {int(key) for key in index.keys_sql[1:-1].split(",")} == expected_keys
        stored = Record.objects.filter(ledger=ledger, data=data).first()
        assert stored is not None
        assert set(stored.search_keys) == expected_keys


def test_the_indexer_s_cache_tells_objects_apart_by_every_part(clerk: Any) -> None:
    """Names and addresses are cached by their parts in order: two names alike but for
    their reading must not share their keys."""
    from ledgers.search.index import Indexer

    fields = [{"key": "name", "label": "氏名", "type": "person_name"}]
    ledger = ledger_create(actor=clerk, code="names", name="名簿", fields=fields)
    indexer = Indexer(ledger.fields(), ledger.pk)
    first = record_create(
        actor=clerk, ledger=ledger, values={"name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}}
    )
    second = record_create(
        actor=clerk, ledger=ledger, values={"name": {"kanji": "山田 花子", "kana": "ヤマダ ハナ"}}
    )
    for record in (first, second, first):  # the second time from the cache
        assert set(indexer.index(record.data).keys) == set(record.search_keys)
    assert set(first.search_keys) != set(second.search_keys)


def test_a_part_of_a_phone_number_a_record_no_longer_holds_is_found_in_its_generation(
    clerk: Any, people: Ledger
) -> None:
    """Past values (本人検索(過去)) follow the same rules: the old number is keyed whole and a
    part of it is found by the recheck, with the generation that last held it."""
    from ledgers.records.services import record_update

    one = Record.objects.get(ledger=people, data__name="一")
    record_update(actor=clerk, record=one, values={"phone": "090-1234-5678"}, expected_generation=1)
    for query, generation in [("451111", 1), ("0422451111", 1), ("5678", 2)]:
        result = search_run(
            actor=clerk, ledger=people, screen_code="tel", criteria={"phone": query}
        )
        hits = {hit.record.data["name"]: hit.matched for hit in result.hits}
        assert set(hits) == {"一"}
        assert {"field": "phone", "generation": generation} in hits["一"]


def test_one_kana_digit_or_letter_is_found_by_the_recheck_alone(clerk: Any) -> None:
    """A kana, a digit or a Latin letter is never a unigram key (NO_UNIGRAM_CHARACTERS): a
    one-character query of one is rechecked over the ledger and finds exactly the values
    holding it; a kanji keeps its key."""
    fields = [{"key": "kana", "label": "カナ", "type": "text"}]
    ledger = ledger_create(actor=clerk, code="kana", name="カナ名簿", fields=fields)
    for kana in ["ヤマダ ハナコ", "ハヤシ 1A", "タナカ 林"]:
        record_create(actor=clerk, ledger=ledger, values={"kana": kana})
    prefix = key_prefix(ledger.pk, "kana")
    stored = Record.objects.get(ledger=ledger, data__kana="ハヤシ 1A").search_keys
    assert stored_key(f"{prefix}|ヤ") not in stored
    assert stored_key(f"{prefix}|1") not in stored
    assert stored_key(f"{prefix}|ハヤ") in stored
    assert query_stored_keys(ledger.pk, "kana", "text", "ヤ", "contains") == []
    assert query_stored_keys(ledger.pk, "kana", "text", "林", "contains") == [
        stored_key(f"{prefix}|林")
    ]
    for query, expected in [("ヤ", {"ヤマダ ハナコ", "ハヤシ 1A"}), ("や", {"ヤマダ ハナコ", "ハヤシ 1A"}),
                            ("ｺ", {"ヤマダ ハナコ"}), ("１", {"ハヤシ 1A"}), ("a", {"ハヤシ 1A"}),
                            ("林", {"タナカ 林"}), ("ヌ", set())]:  # fmt: skip
        rows = Record.objects.filter(ledger=ledger).filter(contains_filter(ledger, "kana", query))
        assert {r.data["kana"] for r in rows} == expected, query
