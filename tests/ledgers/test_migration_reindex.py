"""Migrations that compute stored search data again: 0004 (integer keys), 0026 (search forms,
which superseded 0017, 0019 and 0021)."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps

from ledgers.definitions.models import Ledger
from ledgers.records.models import Record
from ledgers.records.services import record_create, record_update
from ledgers.search.models import SearchValue

reindex = importlib.import_module("ledgers.migrations.0004_integer_search_keys").reindex


def test_reindex_restores_the_keys_the_services_wrote(ledger: Ledger, clerk: Any) -> None:
    record = record_create(actor=clerk, ledger=ledger, values={"name": "山田 花子", "amount": 1})
    record_update(actor=clerk, record=record, values={"name": "佐藤 花子"}, expected_generation=1)
    written = Record.objects.get(pk=record.pk).search_keys
    past = SearchValue.objects.get(record_id=record.pk).keys
    assert written
    assert past
    Record.objects.filter(pk=record.pk).update(search_keys=[])
    SearchValue.objects.filter(record_id=record.pk).update(keys=[])

    reindex(apps, None)

    assert set(Record.objects.get(pk=record.pk).search_keys) == set(written)
    assert set(SearchValue.objects.get(record_id=record.pk).keys) == set(past)


respell = importlib.import_module("ledgers.migrations.0026_search_forms_of_kanji_numbering").reform


def test_respell_gives_old_records_the_address_forms_new_writes_get(clerk: Any) -> None:
    """Records and past values indexed before 霞が関 = 霞ケ関 and 3丁目1番2号 = 3-1-2 are
    found by those spellings once 0026 has run (0017, 0019 and 0021, which did it first, were
    superseded by it); past values that now share a form merge into one row with the later
    generation."""
    from ledgers.definitions.services import ledger_create
    from ledgers.search.services import search_run

    ledger = ledger_create(
        actor=clerk, code="moves", name="転居", fields=[
            {"key": "address", "label": "住所", "type": "address"}],
        search_screens=[{"code": "past", "name": "過去", "generations": "all",
            "criteria": [{"field": "address", "match": "contains"}], "result_fields": ["address"]}],
    )  # fmt: skip
    record = record_create(actor=clerk, ledger=ledger, values={"address": "霞が関1丁目1番1号"})
    record = record_update(
        actor=clerk, record=record, values={"address": "霞ケ関1丁目1番1号"}, expected_generation=1
    )
    record = record_update(
        actor=clerk, record=record, values={"address": "下連雀三丁目1番2号"}, expected_generation=2
    )
    written = Record.objects.get(pk=record.pk)
    # What the code before wrote: 霞ガ関 and 霞ケ関 were two past values, numbering as typed.
    SearchValue.objects.filter(record_id=record.pk).delete()
    for generation, old in [(1, "霞ガ関1丁目1番1号"), (2, "霞ケ関1丁目1番1号")]:
        SearchValue.objects.create(
            ledger=ledger, record=record, path="address", value=old, keys=[], generation=generation
        )
    Record.objects.filter(pk=record.pk).update(
        search_keys=[], search_text={"address": "\x1f下連雀三丁目1番2号\x1f"}
    )

    respell(apps, None)

    now = Record.objects.get(pk=record.pk)
    assert now.search_text == written.search_text == {"address": "\x1f下連雀3-1-2\x1f"}
    assert set(now.search_keys) == set(written.search_keys)
    (past,) = SearchValue.objects.filter(record_id=record.pk)
    assert (past.value, past.generation) == ("霞ケ関1-1-1", 2)
    hits = search_run(actor=clerk, ledger=ledger, screen_code="past",
                      criteria={"address": "霞が関1-1-1"}).hits  # fmt: skip
    assert [hit.matched for hit in hits] == [[{"field": "address", "generation": 2}]]
    respell(apps, None)  # a second run changes nothing
    assert Record.objects.get(pk=record.pk).search_text == written.search_text


def test_respell_gives_old_records_and_past_values_the_forms_new_writes_get(clerk: Any) -> None:
    """Records and past values indexed before ヴァ = バ, オーノ = オウノ = オオノ, ケーコ = ケイコ
    and 大字上連雀 = 上連雀 are found by those spellings once 0026 has run: past values that
    now share a form become one row with the later generation, and a value that a fold by a
    neighbouring letter changed gets a row for the form as written too."""
    from ledgers.definitions.services import ledger_create
    from ledgers.search.index import Indexer
    from ledgers.search.services import search_run

    ledger = ledger_create(
        actor=clerk, code="spell", name="転居", fields=[
            {"key": "name", "label": "氏名", "type": "person_name"},
            {"key": "address", "label": "住所", "type": "address"}],
        search_screens=[{"code": "past", "name": "過去", "generations": "all",
            "criteria": [{"field": "name", "match": "contains"}, {"field": "address", "match": "contains"}],
            "result_fields": ["name"]}],
    )  # fmt: skip
    record = record_create(actor=clerk, ledger=ledger, values={
        "name": {"kanji": "大野 恵子", "kana": "オオノ ケイコ"}, "address": "大字上連雀1番地"})  # fmt: skip
    record = record_update(actor=clerk, record=record, expected_generation=1, values={
        "name": {"kanji": "佐藤 恵子", "kana": "サトー ケーコ"}, "address": "ヴィラ下連雀"})  # fmt: skip
    written = Record.objects.get(pk=record.pk)
    assert written.search_text["name"] == "\x1f佐藤恵子\x1fサトウケイコ\x1f"
    # What the code before wrote: ー kept, ヴ and 大字 kept, one form per value; and three
    # past spellings of one reading, from three generations.
    SearchValue.objects.filter(record_id=record.pk).delete()
    indexer = Indexer(ledger.fields(), ledger.pk)
    for path, old, generation in [("name", "オーノケイコ", 1), ("name", "オウノケイコ", 2),
                                  ("name", "オオノケイコ", 1), ("address", "大字上連雀1", 1)]:  # fmt: skip
        SearchValue.objects.create(
            ledger=ledger, record=record, path=path, value=old, generation=generation,
            keys=list(indexer.value_keys(path, old)),
        )  # fmt: skip
    Record.objects.filter(pk=record.pk).update(search_keys=[], search_text={
        "name": "\x1f佐藤恵子\x1fサトーケーコ\x1f", "address": "\x1fヴイラ下連雀\x1f"})  # fmt: skip

    respell(apps, None)

    now = Record.objects.get(pk=record.pk)
    assert now.search_text == written.search_text
    assert set(now.search_keys) == set(written.search_keys)
    past = {
        (v.path, v.value, v.generation): v.keys for v in SearchValue.objects.filter(record=record)
    }
    assert set(past) == {
        ("name", "オウノケイコ", 2), ("name", "オオノケイコ", 1), ("address", "上連雀1", 1)}  # fmt: skip
    assert all(past.values())
    for criteria, generations in [({"name": "オーノ"}, [2]), ({"name": "ｵｵﾉｹｰｺ"}, [2]),
                                  ({"address": "上連雀"}, [1]), ({"address": "ビラ"}, [2])]:  # fmt: skip
        (hit,) = search_run(actor=clerk, ledger=ledger, screen_code="past", criteria=criteria).hits
        assert [m["generation"] for m in hit.matched] == generations, criteria
    respell(apps, None)  # a second run changes nothing
    assert {
        (v.path, v.value, v.generation) for v in SearchValue.objects.filter(record=record)
    } == set(past)
    assert Record.objects.get(pk=record.pk).search_text == written.search_text


def test_respell_gives_old_records_the_old_kana_and_name_part_forms(clerk: Any) -> None:
    """Records indexed before ヲ = オ, 一乃瀬 = 一ノ瀬 and a name's parts folded alone are found
    by those spellings once 0026 has run; a past value's stored (normalised) text gets the
    forms it can have without the space between its parts: ヲ and 乃 folded, as written."""
    from ledgers.definitions.services import ledger_create
    from ledgers.search.index import Indexer
    from ledgers.search.services import search_run

    ledger = ledger_create(
        actor=clerk, code="kana", name="旧仮名", fields=[
            {"key": "name", "label": "氏名", "type": "person_name"}],
        search_screens=[{"code": "past", "name": "過去", "generations": "all",
            "criteria": [{"field": "name", "match": "contains"}], "result_fields": ["name"]}],
    )  # fmt: skip
    record = record_create(actor=clerk, ledger=ledger, values={
        "name": {"kanji": "一乃瀬 薫", "kana": "イチノセ カヲル"}})  # fmt: skip
    record = record_update(actor=clerk, record=record, expected_generation=1, values={
        "name": {"kanji": "吉野 大樹", "kana": "ヨシノ オオキ"}})  # fmt: skip
    written = Record.objects.get(pk=record.pk)
    assert written.search_text["name"] == (
        "\x1f吉野大樹\x1fヨシノウウキ\x1fヨシノオオキ\x1fヨシノオウキ\x1f"
    )
    # What the code before wrote: ヲ and 乃 kept, two forms of the reading.
    SearchValue.objects.filter(record_id=record.pk).delete()
    indexer = Indexer(ledger.fields(), ledger.pk)
    for old in ["一乃瀬薫", "イチノセカヲル"]:
        SearchValue.objects.create(
            ledger=ledger, record=record, path="name", value=old, generation=1,
            keys=list(indexer.value_keys("name", old)),
        )  # fmt: skip
    Record.objects.filter(pk=record.pk).update(search_keys=[], search_text={
        "name": "\x1f吉野大樹\x1fヨシノウウキ\x1fヨシノオオキ\x1f"})  # fmt: skip
    for criteria in ["オオキ", "カオル", "一ノ瀬"]:  # before: not found
        hits = search_run(
            actor=clerk, ledger=ledger, screen_code="past", criteria={"name": criteria}
        ).hits
        assert hits == [], criteria

    respell(apps, None)

    now = Record.objects.get(pk=record.pk)
    assert now.search_text == written.search_text
    assert set(now.search_keys) == set(written.search_keys)
    assert {(v.value, v.generation) for v in SearchValue.objects.filter(record=record)} == {
        ("一ノ瀬薫", 1), ("一乃瀬薫", 1), ("イチノセカオル", 1)}  # fmt: skip
    for criteria, generations in [("オオキ", [2]), ("おーき", [2]), ("カオル", [1]),
                                  ("かをる", [1]), ("一ノ瀬", [1]), ("一之瀬", [1])]:  # fmt: skip
        (hit,) = search_run(
            actor=clerk, ledger=ledger, screen_code="past", criteria={"name": criteria}
        ).hits
        assert [m["generation"] for m in hit.matched] == generations, criteria
    respell(apps, None)  # a second run changes nothing
    assert Record.objects.get(pk=record.pk).search_text == written.search_text


def test_respell_gives_old_records_the_kanji_numbering_forms(clerk: Any) -> None:
    """Records and past values indexed while 八番地七 and 北三条 kept their kanji numerals are
    found by 8-7 and 北3条 once 0026 has run: the record's own text is indexed again, and a
    past value's stored (normalised) text takes the form the value as typed has now."""
    from ledgers.definitions.services import ledger_create
    from ledgers.search.services import search_run

    ledger = ledger_create(
        actor=clerk, code="honseki", name="本籍", fields=[
            {"key": "address", "label": "本籍", "type": "address"}],
        search_screens=[{"code": "past", "name": "過去", "generations": "all",
            "criteria": [{"field": "address", "match": "contains"}], "result_fields": ["address"]}],
    )  # fmt: skip
    record = record_create(actor=clerk, ledger=ledger, values={"address": "北三条西四丁目"})
    record = record_update(
        actor=clerk,
        record=record,
        values={"address": "下連雀九丁目八番地七"},
        expected_generation=1,
    )
    written = Record.objects.get(pk=record.pk)
    assert written.search_text == {"address": "\x1f下連雀9-8-7\x1f"}
    # What the code before wrote.
    SearchValue.objects.filter(record_id=record.pk).update(value="北三条西4-", keys=[])
    Record.objects.filter(pk=record.pk).update(
        search_keys=[], search_text={"address": "\x1f下連雀9-8七\x1f"}
    )

    respell(apps, None)

    now = Record.objects.get(pk=record.pk)
    assert now.search_text == written.search_text
    assert set(now.search_keys) == set(written.search_keys)
    (past,) = SearchValue.objects.filter(record_id=record.pk)
    assert (past.value, past.generation) == ("北3条西4-", 1)
    for criteria, generation in [("下連雀9-8-7", 2), ("北3条西4丁目", 1)]:
        (hit,) = search_run(
            actor=clerk, ledger=ledger, screen_code="past", criteria={"address": criteria}
        ).hits
        assert [m["generation"] for m in hit.matched] == [generation], criteria
