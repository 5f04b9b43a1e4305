"""POST /api/v1/ledgers/{code}/search/{screen}/: the DV scenario end to end."""

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from tests.api.conftest import ADDRESS, audit_events_since, audit_last_seq, records_url

REASON = "窓口での本人確認のため"


def search(client: Any, screen: str, criteria: dict, reason: str = REASON, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/ledgers/dv/search/{screen}/", {"criteria": criteria, "reason": reason, **extra}
    )


def _rename(api: Any, city: dict[str, Any]) -> None:
    """The victim's surname changes from 山田 to 佐藤 (generation 2)."""
    response = api("clerk").patch(
        records_url(city["record"].pk), {"values": {"name": {"kanji": "佐藤 花子", "kana": "サトウ ハナコ"}}, "reason": "離婚"},
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert response.status_code == 200


def test_an_old_surname_is_found_only_in_the_past_search(api: Any, city: dict[str, Any]) -> None:
    _rename(api, city)
    clerk = api("clerk")
    assert search(clerk, "latest", {"name": "山田"}).json()["results"] == []
    assert len(search(clerk, "latest", {"name": "佐藤"}).json()["results"]) == 1
    past = search(clerk, "past", {"name": "山田"}).json()["results"]
    assert len(past) == 1
    assert past[0]["id"] == str(city["record"].pk)
    assert past[0]["matched"] == [{"field": "name", "generation": 1}]
    # The record shows as it is now.
    assert past[0]["values"]["name"]["kanji"] == "佐藤 花子"
    assert past[0]["generation"] == 2


def test_every_name_form_finds_the_person(api: Any) -> None:
    clerk = api("clerk")
    for form in ["山田", "ﾔﾏﾀﾞ ﾊﾅｺ", "やまだはなこ", "ヤマダ　ハナコ", "花子", "ハナ"]:
        results = search(clerk, "latest", {"name": form}).json()["results"]
        assert len(results) == 1, form


def test_birth_date_ranges_in_wareki(api: Any) -> None:
    clerk = api("clerk")
    assert len(search(clerk, "latest", {"birth_date": "昭和60年"}).json()["results"]) == 1
    assert len(search(clerk, "latest", {"birth_date": "昭和50年代"}).json()["results"]) == 0
    assert (
        len(
            search(
                clerk,
                "latest",
                {"birth_date": {"from": "S60.1.1", "to": "1985-12-31"}, "name": "山田"},
            ).json()["results"]
        )
        == 1
    )


def test_the_offender_search_never_shows_or_filters_on_the_victims_address(
    api: Any, city: dict[str, Any]
) -> None:
    clerk = api("clerk")
    found = search(clerk, "offender", {"offenders.name": "山田太郎"})
    assert found.status_code == 200
    assert len(found.json()["results"]) == 1
    raw = found.content.decode()
    assert ADDRESS not in raw
    assert "下連雀" not in raw
    assert "181-0013" not in raw
    assert "1985-03-03" not in raw
    assert set(found.json()["results"][0]["values"]) == {"name"}
    refused = search(clerk, "offender", {"offenders.name": "山田", "address": "下連雀"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "ERROR_SEARCH_INVALID"
    assert "address" in refused.json()["detail"]["criteria"]


def test_a_search_without_the_reason_is_refused_and_every_search_is_audited(api: Any) -> None:
    clerk = api("clerk")
    assert search(clerk, "latest", {"name": "山田"}, reason="").status_code == 400
    search(clerk, "latest", {"name": "山田"})
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="search.run").latest("seq")
    assert event.details["screen"] == "latest"
    assert event.details["terms"] == {"name": "山田"}
    assert event.details["reason"] == REASON


def test_a_fuka_department_gets_no_hit(api: Any) -> None:
    assert search(api("zei"), "latest", {"name": "山田"}).json()["results"] == []


def test_result_pages_are_stable(api: Any) -> None:
    clerk = api("clerk")
    items = [
        {
            "values": {
                "name": {"kanji": f"鈴木 {i:02d}", "kana": "スズキ"},
                "disclosure": {"shimin": True},
            }
        }
        for i in range(25)
    ]
    assert clerk.post("/api/v1/ledgers/dv/records/bulk/", {"records": items}).status_code == 201
    pages = []
    for page in (1, 2, 3):
        body = search(clerk, "latest", {"name": "鈴木"}, page=page, page_size=10).json()
        pages.append([r["id"] for r in body["results"]])
    assert [len(p) for p in pages] == [10, 10, 5]
    assert len({i for p in pages for i in p}) == 25
    again = search(clerk, "latest", {"name": "鈴木"}, page=2, page_size=10).json()
    assert [r["id"] for r in again["results"]] == pages[1]
    assert again["next"] == 3


def test_unknown_screen_is_404(api: Any) -> None:
    assert search(api("clerk"), "nothing", {"name": "x"}).status_code == 404


def test_a_search_by_one_who_sees_no_record_is_answered_and_audited(api: Any) -> None:
    """The auditor's department (総務課) is not on the 照会可否 list, so it sees no DV record;
    its search of 本人検索（最新） was a server error written before its audit event: a
    clerk off the list could look for a person and leave no trace."""
    answer = search(api("auditor"), "latest", {"name": "山田"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"] == []
    with schema_context("mitaka"):
        event = AuditEvent.objects.filter(action="search.run").latest("seq")
    assert event.actor.username == "auditor"
    assert event.details["terms"] == {"name": "山田"}
    assert event.details["results"] == []


def _move(api: Any, city: dict[str, Any], address: str) -> None:
    """The victim moves (generation 2): the old address is a past value."""
    response = api("clerk").patch(
        records_url(city["record"].pk),
        {"values": {"address": {"text": address}}, "reason": "転居"},
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200


# The record's address is 東京都三鷹市下連雀九丁目8番7号 (ADDRESS).
ADDRESS_AS_TYPED = [
    "下連雀9-8-7",
    "下連雀9丁目8番7号",
    "下連雀９－８－７",
    "下連雀九丁目八番七号",
    "9丁目8-7",
]


def test_an_address_is_found_however_its_numbering_is_typed(api: Any) -> None:
    """Stored 九丁目8番7号, typed 9-8-7 (or 9丁目, ９－８－７): found nothing before."""
    clerk = api("clerk")
    for typed in ADDRESS_AS_TYPED:
        assert len(search(clerk, "latest", {"address": typed}).json()["results"]) == 1, typed
        listed = clerk.get(records_url(), {"address__contains": typed}).json()["results"]
        assert len(listed) == 1, typed


def test_ga_and_ke_in_a_place_name_are_one(api: Any, city: dict[str, Any]) -> None:
    """Stored 霞ケ関一丁目1番1号, typed 霞が関1-1-1 or 霞ヶ関: found nothing before."""
    _move(api, city, "東京都千代田区霞ケ関一丁目1番1号")
    clerk = api("clerk")
    for typed in ["霞が関1-1-1", "霞ヶ関1丁目1番1号", "霞ガ関"]:
        assert len(search(clerk, "latest", {"address": typed}).json()["results"]) == 1, typed
        listed = clerk.get(records_url(), {"address__contains": typed}).json()["results"]
        assert len(listed) == 1, typed


def test_a_postal_code_typed_as_on_paper_finds_the_address(api: Any, city: dict[str, Any]) -> None:
    """The record's address holds 〒181-0013; staff type it with the mark, the hyphen or
    full-width digits (it was indexed as 1810013, and 181-0013 found nothing)."""
    clerk = api("clerk")
    for typed in ("〒181-0013", "181-0013", "１８１－００１３", "1810013"):
        found = search(clerk, "latest", {"address": typed}).json()["results"]
        assert [r["id"] for r in found] == [str(city["record"].pk)], typed
        listed = clerk.get(records_url(), {"address__contains": typed}).json()["results"]
        assert [r["id"] for r in listed] == [str(city["record"].pk)], typed
    assert search(clerk, "latest", {"address": "〒181-0014"}).json()["results"] == []


def test_another_spelling_finds_the_person_on_every_search_path(api: Any) -> None:
    """The fixture's person lives at 下連雀九丁目8番7号 and her offender is ヤマダ タロウ:
    typed as 大字下連雀 or タロー / タロオ, the search screens (加害者検索 too) and the list
    filters find them, as they find the spelling stored."""
    clerk = api("clerk")
    assert (
        len(search(clerk, "offender", {"offenders.name": "やまだ たろー"}).json()["results"]) == 1
    )
    assert len(search(clerk, "latest", {"address": "大字下連雀九丁目8"}).json()["results"]) == 1
    for name, value in [("offenders__contains", "ﾀﾛｵ"), ("address__contains", "大字下連雀9-8-7")]:
        assert len(clerk.get(records_url(), {name: value}).json()["results"]) == 1, name


def test_a_query_pasted_with_an_invisible_character_finds_what_it_shows(
    api: Any, city: dict[str, Any]
) -> None:
    """A term copied from a web page, a mail or a PDF file often carries a zero-width space,
    a BOM or a direction mark (stored values may not hold them): the search screens and
    the list filters drop them, as they drop variation selectors. The direction marks,
    the soft hyphen and the word joiner found nothing before."""
    clerk = api("clerk")
    for typed in ["山\u200b田", "\ufeff山田", "\u200e山田\u200f", "\u202a山田\u202c", "山\u00ad田",
                  "山\u2060田", "\u2066やまだ\u2069", "山\u180e田"]:  # fmt: skip
        found = search(clerk, "latest", {"name": typed}).json()["results"]
        assert [r["id"] for r in found] == [str(city["record"].pk)], ascii(typed)
        listed = clerk.get(records_url(), {"name__contains": typed}).json()["results"]
        assert [r["id"] for r in listed] == [str(city["record"].pk)], ascii(typed)
    assert search(clerk, "latest", {"name": "佐\u200e藤"}).json()["results"] == []
    assert clerk.get(records_url(), {"name__contains": "佐\u200e藤"}).json()["results"] == []


def test_the_trail_keeps_a_term_as_searched_not_turned_around(
    api: Any, city: dict[str, Any]
) -> None:
    """The search drops a right-to-left override (U+202E) from a term, as every character
    stored text may not hold, so 「山田\\u202e花子」 finds 山田花子. The trail kept the term as
    typed, which reads 「山田子花」 (the override turns the rest around on screen): the
    auditor asking who looked up 山田花子 read someone else. It keeps it as searched."""
    clerk, typed = api("clerk"), "山田\u202e花子"
    found = search(clerk, "latest", {"name": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(city["record"].pk)]
    listed = clerk.get(records_url(), {"name__contains": typed}).json()["results"]
    assert [r["id"] for r in listed] == [str(city["record"].pk)]

    trail = api("auditor").get("/api/v1/audit/events/", {"actor": "clerk"}).json()["results"]
    details = {event["action"]: event["details"] for event in trail}
    assert details["search.run"]["terms"] == {"name": "山田花子"}
    assert details["record.list"]["filters"] == {"name__contains": "山田花子"}


def test_a_criterion_the_screen_withholds_is_refused_and_audited_without_its_term(
    api: Any,
) -> None:
    """The accomplice at the 加害者検索 desk who tries the victim's address (excluded), a
    field the screen does not offer, or a field above the clearance gets 400 with nothing
    searched, and left no trace: the trail now keeps who tried which field on which screen,
    and why, never the term typed."""
    since = audit_last_seq()
    clerk, zei = api("clerk"), api("zei")
    tries = [
        (clerk, "offender", {"offenders.name": "山田", "address": "下連雀"}, {"address": "excluded"}),
        (clerk, "latest", {"name": "山田", "amount": "1000"}, {"amount": "not_a_criterion"}),
        (zei, "latest", {"address": "下連雀"}, {"address": "above_clearance"}),
    ]  # fmt: skip
    for client, screen, criteria, _fields in tries:
        assert search(client, screen, criteria).status_code == 400
    events = [e for e in audit_events_since(since) if e.action.startswith("search.")]
    assert [(e.action, e.actor.username, e.details["screen"], e.details["fields"]) for e in events] == [
        ("search.refused", client.user.username, screen, fields)
        for client, screen, _criteria, fields in tries
    ]  # fmt: skip
    assert all(e.details["reason"] == REASON for e in events)
    assert all(set(e.details) <= {"screen", "fields", "reason", "api_token"} for e in events)
    assert not any("下連雀" in str(e.details) for e in events)
    # A search the screen allows is a search.run, as before, and nothing else.
    since = audit_last_seq()
    assert search(clerk, "offender", {"offenders.name": "山田"}).status_code == 200
    assert [e.action for e in audit_events_since(since)] == ["search.run"]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        # A 本籍 is written in kanji numerals with 番地 and the number after it (戸籍 style).
        ("東京都三鷹市下連雀九丁目八番地七", "下連雀9-8-7"),
        ("東京都三鷹市下連雀9-8-7", "下連雀九丁目八番地七"),
        # Hokkaido's 条・線 and Iwate's 地割 are numbered like 丁目.
        ("北海道札幌市中央区北三条西四丁目1番地", "北3条西4丁目1"),
        ("北海道札幌市中央区北3条西4丁目1-1", "北三条西四丁目"),
        ("北海道上川郡東神楽町東二線10号", "東2線10号"),
        ("岩手県滝沢市大字鵜飼第一地割1番地", "鵜飼第1地割1"),
    ],
)
def test_an_address_numbered_in_kanji_is_found_by_its_digits(
    api: Any, city: dict[str, Any], stored: str, typed: str
) -> None:
    """Kanji numerals after 番地 (八番地七, as a 本籍 is written) and before 条, 線 or 地割
    (北三条西四丁目, 東二線, 第一地割) stayed kanji, so the same address typed with digits
    found nothing, in either direction."""
    _move(api, city, stored)
    clerk = api("clerk")
    found = search(clerk, "latest", {"address": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(city["record"].pk)], typed
    listed = clerk.get(records_url(), {"address__contains": typed}).json()["results"]
    assert [r["id"] for r in listed] == [str(city["record"].pk)], typed


def _rename_to(api: Any, city: dict[str, Any], kanji: str, kana: str) -> None:
    response = api("clerk").patch(
        records_url(city["record"].pk),
        {"values": {"name": {"kanji": kanji, "kana": kana}}, "reason": "氏名の訂正"},
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        # Copied from a PDF file: 長 and 青 come out as the CJK radicals ⻑ (U+2ED1) and ⻘
        # (U+2ED8), which look the same and which NFKC leaves alone.
        ("長谷川 花子", "⻑谷川"),
        ("⻑谷川 花子", "長谷川"),
        ("青木 花子", "⻘木"),
        ("西 花子", "⻄"),
        ("亀井 花子", "⻲井"),
        # 𣘺 (はしご橋) and 驒 are the forms of 橋 and 騨 some families register.
        ("髙𣘺 花子", "高橋"),
        ("高橋 花子", "髙𣘺"),
        ("飛驒 花子", "飛騨"),
        ("達川 花子", "逹川"),
    ],
)
def test_a_kanji_pasted_as_a_radical_or_written_as_its_variant_finds_the_person(
    api: Any, city: dict[str, Any], stored: str, typed: str
) -> None:
    """A name copied from a PDF file holds CJK radicals (⻑, ⻘, ⻄ …) for the kanji they
    show, and 𣘺, 驒 and 逹 are variants of 橋, 騨 and 達 in registered names: each was
    another text to the search, so the person was not found, whichever side held it."""
    _rename_to(api, city, stored, "ハセガワ ハナコ")
    clerk = api("clerk")
    found = search(clerk, "latest", {"name": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(city["record"].pk)], typed
    listed = clerk.get(records_url(), {"name__contains": typed}).json()["results"]
    assert [r["id"] for r in listed] == [str(city["record"].pk)], typed


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("東京都千代田区霞ケ関一丁目1番1号", "霞个関"),
        ("東京都千代田区霞ケ関一丁目1番1号", "霞箇関1-1-1"),
        ("東京都千代田区霞ケ関一丁目1番1号", "霞ヵ関"),
        ("東京都千代田区霞个関一丁目1番1号", "霞が関"),
        ("東京都千代田区霞ヵ関一丁目1番1号", "霞ヶ関"),
    ],
)
def test_ka_and_ko_written_for_ke_in_a_place_name_are_one(
    api: Any, city: dict[str, Any], stored: str, typed: str
) -> None:
    """ヶ is an abbreviated 箇 (个), and ヵ is written for it: 霞个関, 霞箇関 and 霞ヵ関 are the
    same place as 霞ヶ関 and 霞が関, which met already, but each found only itself."""
    _move(api, city, stored)
    clerk = api("clerk")
    found = search(clerk, "latest", {"address": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(city["record"].pk)], typed
    listed = clerk.get(records_url(), {"address__contains": typed}).json()["results"]
    assert [r["id"] for r in listed] == [str(city["record"].pk)], typed


@pytest.mark.parametrize(
    "typed", ["マリア＝サントス", "マリア゠サントス", "ﾏﾘｱ=ｻﾝﾄｽ", "マリア・サントス"]
)
@pytest.mark.parametrize("stored", ["マリア・サントス", "マリア＝サントス", "マリア゠サントス"])
def test_a_foreign_name_written_with_a_double_hyphen_is_found_without_it(
    api: Any, city: dict[str, Any], stored: str, typed: str
) -> None:
    """A foreign resident's name in katakana is written with ＝ or ゠ between its parts as
    often as with ・ or a space; the search dropped the dot and the space but kept the
    double hyphen, so マリア＝サントス copied from a document found neither the name nor its
    reading (マリア サントス), and a name registered with ゠ was found by no query with ＝."""
    _rename_to(api, city, stored, "マリア サントス")
    clerk = api("clerk")
    found = search(clerk, "latest", {"name": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(city["record"].pk)], typed
    listed = clerk.get(records_url(), {"name__contains": typed}).json()["results"]
    assert [r["id"] for r in listed] == [str(city["record"].pk)], typed


@pytest.mark.parametrize(
    ("typed", "found"),
    [("昭和60", 1), ("昭和60年3月", 1), ("S60.3", 1), ("Ｓ６０", 1), ("昭和60年3月3日", 1),
     ("昭和59", 0), ("平成", 0), ("1985", 1), ("1985-03", 1), ("03-03", 1), ("1986", 0)],
)  # fmt: skip
def test_a_date_contains_filter_reads_wareki_as_the_search_screens_do(
    api: Any, typed: str, found: int
) -> None:
    """birth_date__contains=昭和60 compared 昭和60 with the stored 1985-03-03 as text and
    matched nothing, with a 200: a list filtered by an era year showed "nobody" where the
    search screen's 昭和60年 finds the person. A value the date search reads (a year, a
    month, a day, in 和暦 or not) is its dates now; anything else is a part of the ISO
    text as before (03-03)."""
    listed = api("clerk").get(records_url(), {"birth_date__contains": typed})
    assert listed.status_code == 200, listed.content
    assert len(listed.json()["results"]) == found, typed
