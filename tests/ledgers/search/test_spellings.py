"""A person registered in one spelling is found by another, on every search path: the
search screens (本人検索 over the current and every generation, 加害者検索 with its excluded
fields) and the API's ``__contains`` filters, which share one normalisation with the index.

Before, ヴァ and バ, ヅ and ズ, ヰ and イ, オーノ and オオノ and オウノ, 丸之内 and 丸の内,
大字上連雀 and 上連雀 were different keys, and each of these searches found nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledgers.definitions.models import Ledger
from ledgers.definitions.services import ledger_create
from ledgers.records.models import Record
from ledgers.records.services import record_create, record_update
from ledgers.search.models import SearchValue
from ledgers.search.query import contains_filter, group_contains_filter
from ledgers.search.services import SearchError, search_run

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True},
    {"key": "other_names", "label": "その他氏名", "type": "text"},
    {"key": "address", "label": "住所", "type": "address"},
    {"key": "related", "label": "関係者", "type": "group", "fields": [
        {"key": "name", "label": "氏名", "type": "person_name"},
        {"key": "other_names", "label": "その他氏名", "type": "text"},
        {"key": "address", "label": "住所", "type": "address"}]},
]  # fmt: skip
PERSON = [{"field": "name", "match": "contains"}, {"field": "other_names", "match": "contains"},
          {"field": "address", "match": "contains"}]  # fmt: skip
SCREENS: list[dict[str, Any]] = [
    {"code": "latest", "name": "本人検索（最新）", "generations": "current",
     "criteria": PERSON, "result_fields": ["name"]},
    {"code": "past", "name": "本人検索（過去）", "generations": "all",
     "criteria": PERSON, "result_fields": ["name"]},
    {"code": "offender", "name": "加害者検索", "generations": "current",
     "criteria": [{"field": "related.name", "match": "contains"},
                  {"field": "related.other_names", "match": "contains"}],
     "result_fields": ["name", "related"], "excluded_fields": ["address", "related.address"]},
]  # fmt: skip

ONO = {
    "name": {"kanji": "大野 誠", "kana": "オオノ マコト"},
    "other_names": "一之瀬 ゐく",
    "address": {"text": "埼玉県比企郡嵐山町大字菅谷字東原123番地 ヴィラ丸之内 101号室"},
    "related": [{"name": {"kanji": "山本 理", "kana": "ヴァレンタイン オサム"},
                 "other_names": "ミヅキ ヂロウ", "address": {"text": "沖縄県那覇市字安里1-2-3"}}],
}  # fmt: skip
# Someone else, whose name and address each differ from the first by what must not fold.
ONO_SMALL = {
    "name": {"kanji": "小野 誠", "kana": "オノ マコト"},
    "other_names": "一瀬 いさ",
    "address": {"text": "埼玉県比企郡嵐山町大字菅谷字西原1番地"},
    "related": [{"name": {"kanji": "山本 太郎", "kana": "ブレンタイン タロウ"},
                 "other_names": "ミスキ シロウ"}],
}  # fmt: skip


@pytest.fixture
def ledger(clerk: Any) -> Ledger:
    ledger = ledger_create(
        actor=clerk, code="spell", name="支援対象者", fields=FIELDS, search_screens=SCREENS
    )
    record_create(actor=clerk, ledger=ledger, values=ONO)
    record_create(actor=clerk, ledger=ledger, values=ONO_SMALL)
    return ledger


def _found(clerk: Any, ledger: Ledger, screen: str, criteria: dict[str, str]) -> set[str]:
    hits = search_run(actor=clerk, ledger=ledger, screen_code=screen, criteria=criteria).hits
    return {hit.record.data["name"]["kanji"] for hit in hits}


SPELLINGS = [
    ("name", "オーノ"),
    ("name", "おうの"),
    ("name", "ｵｵﾉ ﾏｺﾄ"),  # the spelling stored still finds it
    ("name", "オウノ　マコト"),
    ("other_names", "一ノ瀬"),
    ("other_names", "一の瀬イク"),
    ("other_names", "イク"),
    ("address", "菅谷東原"),
    ("address", "字菅谷東原123"),
    ("address", "ビラ丸の内"),
    ("address", "菅谷東原百二十三番地"),
]


@pytest.mark.parametrize("screen", ["latest", "past"])
@pytest.mark.parametrize(("path", "typed"), SPELLINGS)
def test_the_person_is_found_by_another_spelling(
    clerk: Any, ledger: Ledger, screen: str, path: str, typed: str
) -> None:
    assert _found(clerk, ledger, screen, {path: typed}) == {"大野 誠"}


@pytest.mark.parametrize(
    ("path", "typed"),
    [
        ("related.name", "バレンタイン"),
        ("related.name", "ばれんたいん　おさむ"),
        ("related.name", "ｳﾞｧﾚﾝﾀｲﾝ"),  # the spelling stored still finds it
        ("related.name", "オサム"),  # the given name alone, after ン it is not folded anyway
        ("related.other_names", "ミズキ"),
        ("related.other_names", "ジロウ"),
        ("related.other_names", "ぢろー"),
    ],
)
def test_the_offender_is_found_by_another_spelling(
    clerk: Any, ledger: Ledger, path: str, typed: str
) -> None:
    assert _found(clerk, ledger, "offender", {path: typed}) == {"大野 誠"}


def test_the_offender_search_still_refuses_the_excluded_address(clerk: Any, ledger: Ledger) -> None:
    with pytest.raises(SearchError) as info:
        search_run(actor=clerk, ledger=ledger, screen_code="offender",
                   criteria={"related.address": "那覇市安里"})  # fmt: skip
    assert "除外項目" in str(info.value.detail)


@pytest.mark.parametrize(
    ("key", "typed"),
    [
        ("name", "オーノ"),
        ("other_names", "一ノ瀬"),
        ("address", "菅谷東原"),
        ("address", "大字菅谷東原"),
    ],
)
def test_list_filters_contains_find_another_spelling(ledger: Ledger, key: str, typed: str) -> None:
    found = Record.objects.filter(contains_filter(ledger, key, typed))
    assert [record.data["name"]["kanji"] for record in found] == ["大野 誠"]


@pytest.mark.parametrize("typed", ["バレンタイン", "ミズキ", "那覇市安里"])
def test_group_contains_finds_another_spelling(ledger: Ledger, typed: str) -> None:
    sub_fields = next(f for f in FIELDS if f["key"] == "related")["fields"]
    found = Record.objects.filter(group_contains_filter(ledger, "related", sub_fields, typed))
    assert [record.data["name"]["kanji"] for record in found] == ["大野 誠"]


def test_a_given_name_alone_finds_a_name_whose_surname_would_fold_it(
    clerk: Any, ledger: Ledger
) -> None:
    """The reading is indexed without the space between its parts, so オ after ヤマモト's ト
    is folded (ヤマモトオサム → ヤマモトウサム): the name is also indexed as written, and
    オサム alone, or the whole name in any spelling, still finds it."""
    record_create(actor=clerk, ledger=ledger, values={
        "name": {"kanji": "山本 理", "kana": "ヤマモト オサム"}, "other_names": "山田博之 佐藤"})  # fmt: skip
    for path, typed in [("name", "オサム"), ("name", "やまもと おさむ"), ("name", "ヤマモトオサム"),
                        ("other_names", "博之"), ("other_names", "博之佐藤")]:  # fmt: skip
        assert _found(clerk, ledger, "latest", {path: typed}) == {"山本 理"}, typed


def test_a_past_spelling_is_found_once_per_generation(clerk: Any, ledger: Ledger) -> None:
    """A past value is kept in each form it was indexed as; a term found in both is one
    match of that generation, not two."""
    record = record_create(actor=clerk, ledger=ledger, values={
        "name": {"kanji": "山本 理", "kana": "ヤマモト オサム"}})  # fmt: skip
    record_update(actor=clerk, record=record, expected_generation=1, values={
        "name": {"kanji": "佐藤 理", "kana": "サトウ オサム"}})  # fmt: skip
    assert set(SearchValue.objects.filter(record=record).values_list("value", flat=True)) == {
        "山本理", "ヤマモトウサム", "ヤマモトオサム"}  # fmt: skip
    (hit,) = search_run(
        actor=clerk, ledger=ledger, screen_code="past", criteria={"name": "ヤマモト"}
    ).hits
    assert hit.matched == [{"field": "name", "generation": 1}]
    (hit,) = search_run(
        actor=clerk, ledger=ledger, screen_code="past", criteria={"name": "やまもとおさむ"}
    ).hits
    assert hit.matched == [{"field": "name", "generation": 1}]
