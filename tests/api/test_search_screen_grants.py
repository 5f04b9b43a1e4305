"""Search-screen rights per grant (``Grant.search_screens``, a DV ledger requirement): a 窓口
desk, or a department checking whether a requester is a registered perpetrator, runs
加害者検索 (``offender``: no victim's address, birth date or dates) and never 本人検索
(``latest``, ``past``). Before, any grant with ``search`` ran every screen of the ledger."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership, Role
from ledgers.records.services import record_create
from tests.api.conftest import DV_DOCUMENT, Api, audit_events_since, audit_last_seq, records_url

REASON = "窓口での本人確認のため"
GRANTS_URL = "/api/v1/ledgers/dv/grants/"
#: The fixture's grants but 市民課's, which the tests choose.
OTHERS = [
    {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
    {"department": "shiminzei", "capabilities": ["view", "search", "create", "update"], "clearance": "personal"},
    {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
]  # fmt: skip


def search(client: Api, screen: str, criteria: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/ledgers/dv/search/{screen}/", {"criteria": criteria, "reason": REASON}
    )


def shimin_grant(**extra: Any) -> dict[str, Any]:
    return {
        "department": "shimin", "capabilities": ["view", "search", "create", "update"],
        "clearance": "special_care", **extra,
    }  # fmt: skip


def put_grants(api: Any, grants: list[dict[str, Any]]) -> Any:
    answer = api("designer").put(GRANTS_URL, grants)
    assert answer.status_code == 200, answer.content
    return answer


@pytest.mark.parametrize(
    ("screen", "criteria"),
    [("latest", {"name": "山田"}), ("past", {"name": "山田"}), ("latest", {"address": "下連雀"})],
)
def test_a_desk_allowed_the_offender_screen_only_may_not_run_the_others(
    api: Any, screen: str, criteria: dict[str, Any]
) -> None:
    """The desk (市民課, special care) ran 本人検索 and read the victim's current address."""
    put_grants(api, [shimin_grant(search_screens=["offender"]), *OTHERS])
    clerk = api("clerk")
    since = audit_last_seq()
    refused = search(clerk, screen, criteria)
    assert refused.status_code == 403, refused.content
    body = refused.json()
    assert body["code"] == "ERROR_SEARCH_SCREEN_NOT_GRANTED"
    assert "検索画面" in body["message"]
    assert body["detail"] == {"capability": "search", "screen": screen}
    assert "下連雀" not in refused.content.decode()
    # Audited as the other refused searches are, with the screen and the reason, never the
    # terms; nothing was searched.
    events = audit_events_since(since)
    assert [e.action for e in events] == ["search.refused"]
    assert events[0].actor.username == "clerk"
    details = {k: v for k, v in events[0].details.items() if k != "api_token"}
    assert details == {"screen": screen, "refused": "screen_not_granted", "reason": REASON}
    assert "山田" not in str(events[0].details)
    assert "下連雀" not in str(events[0].details)
    # The screen it is allowed runs as before.
    found = search(clerk, "offender", {"offenders.name": "山田太郎"})
    assert found.status_code == 200, found.content
    assert len(found.json()["results"]) == 1
    # Its other rights are the grant's: it still views the record (address and all).
    with schema_context("mitaka"):
        from ledgers.records.models import Record

        record = Record.objects.get()
    shown = clerk.get(records_url(record.pk))
    assert shown.status_code == 200
    assert "下連雀" in shown.content.decode()


@pytest.mark.parametrize("search_screens", ["absent", None])
def test_a_grant_naming_no_screens_runs_every_screen_as_before(
    api: Any, search_screens: Any
) -> None:
    extra = {} if search_screens == "absent" else {"search_screens": search_screens}
    put_grants(api, [shimin_grant(**extra), *OTHERS])
    clerk = api("clerk")
    for screen, criteria in [
        ("latest", {"name": "山田"}), ("past", {"name": "山田"}),
        ("offender", {"offenders.name": "山田太郎"}),
    ]:  # fmt: skip
        answer = search(clerk, screen, criteria)
        assert answer.status_code == 200, (screen, answer.content)
        assert len(answer.json()["results"]) == 1
    read = api("designer").get(GRANTS_URL).json()
    assert next(g for g in read if g["department"] == "shimin")["search_screens"] is None
    detail = clerk.get("/api/v1/ledgers/dv/").json()
    assert detail["runnable_search_screens"] == ["latest", "past", "offender"]


def test_the_grants_read_back_the_screens_and_the_ledger_names_those_the_caller_runs(
    api: Any,
) -> None:
    put_grants(api, [shimin_grant(search_screens=["offender", "past"]), *OTHERS])
    read = api("designer").get(GRANTS_URL).json()
    assert next(g for g in read if g["department"] == "shimin")["search_screens"] == [
        "offender", "past",
    ]  # fmt: skip
    assert next(g for g in read if g["department"] == "shiminzei")["search_screens"] is None
    detail = api("clerk").get("/api/v1/ledgers/dv/").json()
    assert detail["runnable_search_screens"] == ["past", "offender"]
    assert detail["capabilities"] == ["create", "search", "update", "view"]
    listed = api("clerk").get("/api/v1/ledgers/").json()["results"]
    assert [ledger["runnable_search_screens"] for ledger in listed] == [["past", "offender"]]
    assert api("zei").get("/api/v1/ledgers/dv/").json()["runnable_search_screens"] == [
        "latest", "past", "offender",
    ]  # fmt: skip


@pytest.fixture
def desk(api: Any, city: dict[str, Any]) -> dict[str, Any]:
    """``desk``: an editor of 市民課 (the 窓口: 加害者検索 only, special care) and of 市民税課
    (every screen, personal data). The fixture's record is 可 for 市民課 only; ``both`` is
    可 for both departments; ``zei_only`` for 市民税課 only."""
    with schema_context("mitaka"):

        def create(kanji: str, kana: str, flags: dict[str, bool]) -> Any:
            return record_create(
                actor=city["people"]["clerk"], ledger=city["ledger"],
                values={
                    "name": {"kanji": kanji, "kana": kana}, "amount": 500,
                    "address": {"postal_code": "181-0013", "text": "東京都三鷹市下連雀一丁目1番1号"},
                    "disclosure": flags,
                    "offenders": [{"name": {"kanji": "山田 太郎", "kana": "ヤマダ タロウ"}}],
                },
            )  # fmt: skip

        both = create("山田 道子", "ヤマダ ミチコ", {"shimin": True, "shiminzei": True})
        zei_only = create("山田 一郎", "ヤマダ イチロウ", {"shimin": False, "shiminzei": True})
        user = get_user_model().objects.create_user(
            username="desk", password="S3cret!pass-api", display_name="desk"
        )
        for code in ("shimin", "shiminzei"):
            Membership.objects.create(
                user=user, department=city["departments"][code], role=Role.EDITOR,
                valid_from=date(2026, 4, 1),
            )  # fmt: skip
    put_grants(
        api,
        [shimin_grant(capabilities=["view", "search"], search_screens=["offender"]), *OTHERS],
    )
    return {"api": Api(user), "only_desk": city["record"], "both": both, "zei_only": zei_only}


def test_a_member_of_the_desk_and_of_a_latest_department_finds_through_latest_only_what_latest_may(
    desk: dict[str, Any],
) -> None:
    """Through 本人検索（最新）, run by 市民税課's grant, the record disclosed only to the desk
    department was found, and the address of one disclosed to both was shown at the desk's
    special care clearance: the search gained records and clearance through a grant that
    does not allow the screen."""
    client = desk["api"]
    found = search(client, "latest", {"name": "山田"})
    assert found.status_code == 200, found.content
    hits = {hit["id"]: hit for hit in found.json()["results"]}
    assert set(hits) == {str(desk["both"].pk), str(desk["zei_only"].pk)}
    assert str(desk["only_desk"].pk) not in found.content.decode()
    # 市民税課 reads personal data: the address (special care) is masked in every hit.
    assert all(hit["values"]["address"] == {"masked": True} for hit in hits.values())
    assert "下連雀" not in found.content.decode()
    # Nor may latest's criteria reach above 市民税課's clearance.
    above = search(client, "latest", {"address": "下連雀"})
    assert above.status_code == 400
    assert above.json()["detail"]["criteria"]["address"]
    # 加害者検索 runs through both departments, as it did.
    offender = search(client, "offender", {"offenders.name": "山田太郎"})
    assert offender.status_code == 200
    assert {hit["id"] for hit in offender.json()["results"]} == {
        str(desk["only_desk"].pk), str(desk["both"].pk), str(desk["zei_only"].pk),
    }  # fmt: skip
    # The list (view) is the grants' as before: the desk department views its records.
    listed = client.get(records_url())
    assert str(desk["only_desk"].pk) in {r["id"] for r in listed.json()["results"]}


@pytest.mark.parametrize(
    ("grant", "words"),
    [
        (shimin_grant(search_screens=["nowhere"]), "nowhere"),
        (shimin_grant(search_screens=["offender", "offender"]), "重複"),
        (shimin_grant(search_screens="offender"), "配列"),
        (shimin_grant(search_screens=[1]), "配列"),
        (shimin_grant(search_screens={"offender": True}), "配列"),
        (shimin_grant(search_screens=[]), "空"),
        (shimin_grant(capabilities=["view"], search_screens=["offender"]), "検索"),
    ],
)
def test_a_wrong_search_screens_is_refused_and_nothing_is_written(
    api: Any, grant: dict[str, Any], words: str
) -> None:
    designer = api("designer")
    before = designer.get(GRANTS_URL)
    since = audit_last_seq()
    answer = designer.put(GRANTS_URL, [grant, *OTHERS])
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "ERROR_DEFINITION_INVALID"
    assert any(words in message for message in body["detail"]["errors"]["grants[1]"])
    after = designer.get(GRANTS_URL)
    assert after.json() == before.json()
    assert after["ETag"] == before["ETag"]
    assert not [e for e in audit_events_since(since) if e.action == "grant.change"]


@pytest.mark.parametrize(
    ("grant", "key"),
    [
        # Read as no search_screens: the desk meant for 加害者検索 only ran every screen,
        # 本人検索（最新） and the victim's address with it.
        (shimin_grant(search_screen=["offender"]), "search_screen"),
        # Read as no clearance given: 庁内, not what was written.
        ({"department": "shimin", "capabilities": ["view"], "clearence": "personal"}, "clearence"),
    ],
)
def test_a_grant_key_no_grant_has_is_refused_and_nothing_is_written(
    api: Any, grant: dict[str, Any], key: str
) -> None:
    """A grant's misspelt key was dropped unsaid and its default taken: the widest (every
    screen) for search_screens. 400 naming it, as a wrong value of a known key."""
    designer = api("designer")
    before = designer.get(GRANTS_URL)
    answer = designer.put(GRANTS_URL, [grant, *OTHERS])
    assert answer.status_code == 400, answer.content
    assert any(key in message for message in answer.json()["detail"]["errors"]["grants[1]"])
    after = designer.get(GRANTS_URL)
    assert after["ETag"] == before["ETag"]


def test_the_grants_tag_of_grants_naming_no_screens_is_unchanged(api: Any) -> None:
    """The ETag a client read before the key was answered still matches (an If-Match of a
    list read before the upgrade is not refused for a key it never saw)."""
    from ledgers.access.services import grants_tag
    from ledgers.tags import content_tag

    read = api("designer").get(GRANTS_URL).json()
    assert all(g["search_screens"] is None for g in read)
    old = [{k: v for k, v in g.items() if k != "search_screens"} for g in read]
    assert grants_tag(read) == content_tag(old)


def _without_offender() -> dict[str, Any]:
    return {
        **DV_DOCUMENT,
        "search_screens": [s for s in DV_DOCUMENT["search_screens"] if s["code"] != "offender"],
    }


def _renamed_offender() -> dict[str, Any]:
    return {
        **DV_DOCUMENT,
        "search_screens": [
            {**s, "code": "perpetrator"} if s["code"] == "offender" else s
            for s in DV_DOCUMENT["search_screens"]
        ],
    }


@pytest.mark.parametrize("document", [_without_offender(), _renamed_offender()])
def test_a_definition_may_not_take_away_a_screen_a_grant_names(
    api: Any, document: dict[str, Any]
) -> None:
    """Taken away (or renamed), the desk's grant would run no screen, and a screen added
    back under the code would run again unseen: refused naming the department, nothing
    written, until the grant no longer names it."""
    put_grants(api, [shimin_grant(search_screens=["offender"]), *OTHERS])
    designer = api("designer")
    before = designer.get("/api/v1/ledgers/dv/").json()
    refused = designer.put("/api/v1/ledgers/dv/", document)
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert body["code"] == "ERROR_DEFINITION_INVALID"
    (message,) = body["detail"]["errors"]["search_screens"]
    assert "offender" in message
    assert "市民課" in message
    assert designer.get("/api/v1/ledgers/dv/").json() == before
    # Once the grant names it no more, the change passes.
    put_grants(api, [shimin_grant(search_screens=None), *OTHERS])
    assert designer.put("/api/v1/ledgers/dv/", document).status_code == 200


def test_a_definition_keeping_the_screens_a_grant_names_passes(api: Any) -> None:
    put_grants(api, [shimin_grant(search_screens=["offender"]), *OTHERS])
    document = {
        **DV_DOCUMENT,
        "search_screens": [s for s in DV_DOCUMENT["search_screens"] if s["code"] != "past"],
    }
    answer = api("designer").put("/api/v1/ledgers/dv/", document)
    assert answer.status_code == 200, answer.content
    assert answer.json()["definition_version"] == 2


def test_the_screens_cost_no_query_and_nothing_when_no_grant_names_screens(
    api: Any, city: dict[str, Any]
) -> None:
    """The common case keeps its policy (``for_screen`` is the policy itself); a grant that
    names screens is judged from the grants the policy read already: no query either way."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledgers.access.policy import policy_for

    clerk, ledger = city["people"]["clerk"], city["ledger"]
    with schema_context("mitaka"), CaptureQueriesContext(connection) as plain:
        policy = policy_for(clerk, ledger)
    assert policy.for_screen("latest") is policy
    assert policy.runnable_screens() is None
    put_grants(api, [shimin_grant(search_screens=["offender"]), *OTHERS])
    with schema_context("mitaka"):
        with CaptureQueriesContext(connection) as restricted:
            policy = policy_for(clerk, ledger)
        with CaptureQueriesContext(connection) as screens:
            assert not policy.for_screen("latest").can("search")
            assert policy.for_screen("offender").can("search")
            assert policy.runnable_screens() == ["offender"]
    assert len(restricted) == len(plain)
    assert len(screens) == 0
    # Others' policies (市民税課: every screen) are unchanged by the desk's grant.
    with schema_context("mitaka"):
        zei = policy_for(city["people"]["zei"], ledger)
    assert zei.for_screen("latest") is zei


@pytest.mark.parametrize("who", ["zei", "admin"])
def test_a_search_by_one_without_search_is_refused_and_audited_without_its_terms(
    api: Any, who: str
) -> None:
    """市民税課 allowed to view only (and a city administrator, who designs but holds no grant
    to search) running 本人検索 with a name got the 403 with nothing in the audit trail,
    where a desk running a screen its grants do not allow leaves ``search.refused``: a
    look for a person by someone not allowed to search was invisible to auditors."""
    put_grants(
        api,
        [shimin_grant(), OTHERS[0], {**OTHERS[1], "capabilities": ["view"]}, OTHERS[2]],
    )
    client = api(who)
    since = audit_last_seq()
    refused = search(client, "latest", {"name": "山田花子"})
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "ERROR_PERMISSION_DENIED"
    events = audit_events_since(since)
    assert [(e.action, e.actor.username) for e in events] == [("search.refused", who)]
    details = {k: v for k, v in events[0].details.items() if k != "api_token"}
    assert details == {"screen": "latest", "refused": "search_not_granted", "reason": REASON}
    assert "山田" not in str(events[0].details)
    # A screen the ledger has not is the 403 it was, and no event names the code typed.
    since = audit_last_seq()
    assert search(client, "nosuch", {"name": "山田"}).status_code == 403
    assert audit_events_since(since) == []
