"""The DV support-measure ledger walked end to end as one city ran it (shared/DV_LEDGER.md).

The starter definition (``ledgers.samples.dv``) is created through the API, 市民課 registers
a victim, renews the support (new dates), then records a divorce and a move; the three
search screens, the 不可 departments, the generations and the audit trail are checked
through the REST API on the city's host.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Role
from ledgers.samples.dv import DEPARTMENTS, DV_DEFINITION, PLACE_KINDS
from ledgers.search.screens import field_paths
from tests.api.conftest import Api
from tests.conftest import City
from tests.ledgers.conftest import staff

REASON = "住民票の写しの交付請求に係る確認"
URL = "/api/v1/ledgers/dv/"
OLD_ADDRESS = "東京都三鷹市下連雀九丁目8番7号"
OLDEST_ADDRESS = "東京都府中市宮西町四丁目1番2号"
NEW_ADDRESS = "東京都三鷹市井の頭八丁目3番1号"
DOMICILE = "福岡県北九州市小倉北区城内一丁目1番"
#: Every text that 加害者検索 must never show: addresses, 本籍, the dates (as stored).
SECRETS = [OLD_ADDRESS, OLDEST_ADDRESS, NEW_ADDRESS, DOMICILE, "下連雀", "井の頭", "宮西町",
           "城内", "181-0013", "1810013", "1985-03-03", "1978-07-07", "2024-04-", "2025-04-", "2026-04-"]  # fmt: skip


def _place(kind: str, text: str, **extra: str) -> dict[str, Any]:
    return {"kind": kind, "address": {"text": text}, **extra}


@pytest.fixture
def dv(mitaka: City) -> dict[str, Any]:
    """Every department DV_LEDGER.md lists, 総務課, their staff, and the starter ledger
    created through the API with grants: 市民課 registers, the others view and search."""
    with schema_context("mitaka"):
        departments = {
            code: Department.objects.create(code=code, name=label)
            for label, code in {**DEPARTMENTS, "総務課": "soumu"}.items()
        }

        def member(username: str, department: str, role: str) -> Any:
            return staff(username, departments[department], role)

        people = {
            "designer": member("designer", "soumu", Role.LEDGER_ADMIN),
            "clerk": member("clerk", "shimin", Role.EDITOR),
            "zei": member("zei", "shiminzei", Role.EDITOR),
            "hoken": member("hoken", "hoken", Role.VIEWER),
            "auditor": member("auditor", "soumu", Role.AUDITOR),
        }
    apis = {who: Api(user) for who, user in people.items()}
    created = apis["designer"].post("/api/v1/ledgers/", DV_DEFINITION)
    assert created.status_code == 201, created.content
    grants = apis["designer"].put(
        URL + "grants/",
        [{"department": "soumu", "capabilities": ["design"], "clearance": "internal"},
         {"department": "shimin", "capabilities": ["view", "search", "create", "update", "delete"],
          "clearance": "special_care"},
         *({"department": code, "capabilities": ["view", "search", "update", "delete"], "clearance": "special_care"}
           for code in DEPARTMENTS.values() if code != "shimin"),
         {"role": "auditor", "capabilities": ["audit"], "clearance": "special_care"}],
    )  # fmt: skip
    assert grants.status_code == 200, grants.content
    return apis


def test_the_starter_definition_holds_every_field_of_the_city_ledger() -> None:
    """DV_LEDGER.md's record screen, field for field (the starter had no header but 管理番号
    and 区分, 7 of the 13 departments, no 本籍 rows, no 状況/本人確認書類/日中の連絡先, and
    only the perpetrators' name, birth date and relation)."""
    fields = {f["key"]: f for f in DV_DEFINITION["fields"]}
    labels = {f["label"] for f in DV_DEFINITION["fields"]}
    for label in ["年度", "収受番号", "管理番号", "区分", "決定／変更", "文書番号", "起案者", "通知日",
                  "照会可否", "生年月日", "性別", "住民番号", "開始日", "終了日", "状況",
                  "本人確認書類", "日中の連絡先"]:  # fmt: skip
        assert label in labels, label
    assert fields["name"]["type"] == "person_name"  # カナ氏名 and 漢字氏名
    assert fields["name"]["options"]["require_kana"] is True
    assert any(label.startswith("その他氏名") for label in labels)
    assert set(DEPARTMENTS) == {
        "市民課", "市民税課", "資産税課", "保険課", "保障課", "生活福祉課", "健康福祉課",
        "子ども支援課", "子ども育成課", "選挙管理委員会事務局", "学務課", "児童青少年課", "企画経営課",
    }  # fmt: skip
    assert fields["disclosure"]["options"]["departments"] == list(DEPARTMENTS.values())
    places = {sub["label"]: sub for sub in fields["places"]["fields"]}
    assert fields["places"]["type"] == "group"
    assert places["種別"]["options"]["choices"] == PLACE_KINDS == [
        "現住所", "前住所", "前々住所", "現本籍", "前本籍", "前々本籍"
    ]  # fmt: skip
    assert {sub["type"] for sub in fields["places"]["fields"]} >= {"address"}
    assert {"世帯主／筆頭者", "支援措置", "備考"} <= set(places)
    related = {sub["key"]: sub for sub in fields["related"]["fields"]}
    assert fields["related"]["type"] == "group"
    assert related["name"]["type"] == "person_name"
    assert {"other_names", "birth_date", "sex", "resident_no", "remarks"} <= set(related)
    screens = {s["name"]: s for s in DV_DEFINITION["search_screens"]}
    assert set(screens) == {"本人検索（最新）", "本人検索（過去）", "加害者検索"}
    offender = screens["加害者検索"]
    paths = field_paths([{**f, "options": {**f.get("options", {}), "fields": f.get("fields", [])}}
                         for f in DV_DEFINITION["fields"]])  # fmt: skip
    dates = {p for p, spec in paths.items() if spec["type"] == "date"}
    hidden = {p for p, spec in paths.items() if spec["type"] == "address"} | dates | {"places"}
    excluded = set(offender["excluded_fields"])
    assert all(p in excluded or p.split(".")[0] in excluded for p in hidden), hidden - excluded
    for screen in screens.values():
        assert screen["reason_required"] is True


def test_the_city_ledger_end_to_end(dv: dict[str, Api]) -> None:
    clerk, zei, hoken, auditor = dv["clerk"], dv["zei"], dv["hoken"], dv["auditor"]

    # 1. 市民課 registers the victim: 市民課 可, every other department 不可 (left out).
    created = clerk.post(URL + "records/", {"values": {
        "fiscal_year": 2024, "receipt_no": "収-2024-118", "control_no": "DV-2024-0007",
        "received_on": "令和6年4月10日", "category": "新規", "decision": "決定",
        "document_no": "三市民第118号", "drafter": "市民課 鈴木", "notified_on": "R6.4.15",
        "disclosure": {"shimin": "可"},
        "name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"}, "other_names": "",
        "birth_date": "昭和60年3月3日", "sex": "女", "resident_no": "1234567890",
        "support_start": "2024-04-15", "support_end": "2025-04-14", "status": "支援中",
        "id_document": "運転免許証", "daytime_contact": "090-1111-2222（日中のみ）",
        "places": [
            _place("現住所", OLD_ADDRESS, head="山田 太郎", measure="対象"),
            _place("前住所", OLDEST_ADDRESS, head="山田 太郎"),
            {"kind": "現本籍", "address": {"text": DOMICILE, "postal_code": "181-0013"}, "head": "山田 太郎"},
        ],
        "related": [
            {"role": "加害者", "name": {"kanji": "山田 太郎", "kana": "ヤマダ タロウ"}, "sex": "男",
             "birth_date": "1978-07-07", "relation": "配偶者"},
            {"role": "同伴者", "name": {"kanji": "山田 陽菜", "kana": "ヤマダ ヒナ"}, "relation": "子"},
        ],
    }})  # fmt: skip
    assert created.status_code == 201, created.content
    record_id = created.json()["id"]
    record = URL + f"records/{record_id}/"
    flags = created.json()["values"]["disclosure"]
    assert flags == {code: code == "shimin" for code in DEPARTMENTS.values()}

    # 2. Support renewed for a year: a new generation with new dates.
    renewed = clerk.patch(record, {"values": {
        "category": "更新", "decision": "変更", "support_start": "2025-04-15", "support_end": "2026-04-14",
    }, "reason": "支援措置の延長"}, HTTP_IF_MATCH='"1"')  # fmt: skip
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["generation"] == 2

    # 3. Divorce and a move: new name, the old one kept as その他氏名; the old 前住所 dropped.
    moved = clerk.patch(record, {"values": {
        "name": {"kanji": "佐藤 花子", "kana": "サトウ ハナコ"}, "other_names": "山田（旧姓）",
        "places": [_place("現住所", NEW_ADDRESS, head="佐藤 花子", measure="対象"),
                   _place("前住所", OLD_ADDRESS, head="山田 太郎"),
                   {"kind": "現本籍", "address": {"text": DOMICILE, "postal_code": "181-0013"}, "head": "佐藤 花子"}],
    }, "reason": "離婚・転居"}, HTTP_IF_MATCH='"2"')  # fmt: skip
    assert moved.status_code == 200, moved.content
    assert moved.json()["generation"] == 3

    def search(api: Api, screen: str, criteria: dict[str, Any]) -> Any:
        return api.post(URL + f"search/{screen}/", {"criteria": criteria, "reason": REASON})

    # 4. 本人検索（最新）: the current name and address only.
    assert [
        h["id"] for h in search(clerk, "latest", {"name": "サトウ ハナコ"}).json()["results"]
    ] == [record_id]
    assert search(clerk, "latest", {"name": "ヤマダ ハナコ"}).json()["results"] == []
    assert search(clerk, "latest", {"places.address": "宮西町"}).json()["results"] == []
    ranged = search(
        clerk,
        "latest",
        {"support_start": {"from": "2025-04-01"}, "support_end": {"to": "2026-12-31"}},
    )
    assert [h["id"] for h in ranged.json()["results"]] == [record_id]

    # 5. 本人検索（過去）: the old name and the dropped address, with the generation matched.
    by_old_name = search(clerk, "past", {"name": "ヤマダ ハナコ"}).json()["results"]
    assert [h["id"] for h in by_old_name] == [record_id]
    assert by_old_name[0]["matched"] == [{"field": "name", "generation": 2}]
    assert by_old_name[0]["values"]["name"]["family"] == "佐藤"  # the current content
    by_old_place = search(clerk, "past", {"places.address": "府中市宮西町"}).json()["results"]
    assert [h["id"] for h in by_old_place] == [record_id]
    assert by_old_place[0]["matched"] == [{"field": "places.address", "generation": 2}]
    by_now = search(clerk, "past", {"name": "佐藤"}).json()["results"]
    assert by_now[0]["matched"] == [{"field": "name", "generation": 3}]
    first_term = search(clerk, "past", {"support_end": {"to": "2025-04-30"}}).json()["results"]
    assert first_term[0]["matched"] == [{"field": "support_end", "generation": 1}]

    # 6. 加害者検索 by the perpetrator's name (any form): found, no address, 本籍 or date.
    for form in ["山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだたろう"]:
        found = search(clerk, "offender", {"related.name": form})
        assert found.status_code == 200
        assert [h["id"] for h in found.json()["results"]] == [record_id], form
        body = found.content.decode()
        assert not [s for s in SECRETS if s in body], body
        values = found.json()["results"][0]["values"]
        assert set(values) <= {"control_no", "name", "other_names", "sex", "related"}
        assert all(set(row).isdisjoint({"birth_date", "remarks"}) for row in values["related"])
    for hidden in ["places.address", "birth_date", "support_start", "support_end", "related.birth_date",
                   "notified_on", "places"]:  # fmt: skip
        refused = search(clerk, "offender", {hidden: "下連雀", "related.name": "山田"})
        assert refused.status_code == 400, hidden
        assert not [s for s in SECRETS if s in refused.content.decode()], refused.content
    schema = clerk.get(URL).content.decode()  # the screen itself names no excluded field as usable
    offender = next(s for s in json.loads(schema)["search_screens"] if s["code"] == "offender")
    assert {c["field"] for c in offender["criteria"]} == {
        "related.name", "related.other_names", "related.sex", "related.resident_no"
    }  # fmt: skip

    # 7. 市民税課 and 保険課 (不可) cannot learn that the record exists.
    for outsider in (zei, hoken):
        for path in [
            "",
            "versions/",
            "versions/1/",
            "diff/?from=1&to=3",
            "?as_of=2030-01-01T00:00:00%2B09:00",
        ]:
            assert outsider.get(record + path).status_code == 404, path
        listed = outsider.get(URL + "records/", {"count": "true"}).json()
        assert listed["results"] == []
        assert listed["count"] == 0
        assert (
            outsider.get(URL + "records/", {"control_no": "DV-2024-0007", "count": "true"}).json()[
                "count"
            ]
            == 0
        )
        for screen, criteria in [("latest", {"name": "佐藤 花子"}), ("past", {"name": "山田 花子"}),
                                 ("offender", {"related.name": "山田 太郎"})]:  # fmt: skip
            answer = search(outsider, screen, criteria)
            assert answer.status_code == 200, screen
            assert answer.json()["results"] == [], screen
        if outsider is zei:
            patch = outsider.patch(record, {"values": {"status": "x"}}, HTTP_IF_MATCH='"3"')
            assert patch.status_code == 404
            assert outsider.delete(record, {"reason": "x"}, HTTP_IF_MATCH='"3"').status_code == 404
            restore = outsider.post(record + "restore/", {"generation": 1}, HTTP_IF_MATCH='"3"')
            assert restore.status_code == 404

    # 8. The generation navigation: 全 03 世代 / 03 世代目, and the 履歴一覧.
    now = clerk.get(record)
    assert now.json()["generation"] == 3
    assert now["ETag"] == '"3"'
    versions = clerk.get(record + "versions/").json()["results"]
    assert [(v["generation"], v["action"]) for v in versions] == [
        (1, "create"),
        (2, "update"),
        (3, "update"),
    ]
    assert [v["reason"] for v in versions][1:] == ["支援措置の延長", "離婚・転居"]
    first = clerk.get(record + "versions/1/").json()
    assert first["values"]["name"]["family"] == "山田"

    # 9. Every look is in the audit trail, the outsiders' searches too.
    events = auditor.get("/api/v1/audit/events/", {"record": record_id, "page_size": 100}).json()[
        "results"
    ]
    actions = {(e["action"], e["actor"]) for e in events}
    assert {("record.create", "clerk"), ("record.update", "clerk"), ("record.view", "clerk"),
            ("record.versions", "clerk"), ("record.version_view", "clerk"),
            ("search.run", "clerk")} <= actions  # fmt: skip
    searches = auditor.get(
        "/api/v1/audit/events/", {"action": "search.run", "page_size": 100}
    ).json()["results"]
    outsiders = [e for e in searches if e["actor"] in {"zei", "hoken"}]
    assert len(outsiders) == 6
    assert all(
        e["details"]["results"] == [] and e["details"]["reason"] == REASON for e in outsiders
    )


def test_a_department_marked_fuka_is_answered_as_for_a_missing_record(dv: dict[str, Api]) -> None:
    """Every read and write of the record by 市民税課 (不可) answers byte for byte what the
    same request answers for an id no record has, whatever If-Match, body or generation."""
    clerk, zei = dv["clerk"], dv["zei"]
    rid = clerk.post(URL + "records/", {"values": {
        "control_no": "DV-1", "name": {"kanji": "山田 花子", "kana": "ヤマダ ハナコ"},
        "disclosure": {"shimin": True}, "places": [_place("現住所", OLD_ADDRESS)]}}).json()["id"]  # fmt: skip
    clerk.patch(URL + f"records/{rid}/", {"values": {"status": "支援中"}}, HTTP_IF_MATCH='"1"')
    other = str(uuid.uuid4())
    rows = []
    for target in (rid, other):
        rec = URL + f"records/{target}/"
        answers = [
            zei.get(rec),
            zei.head(rec),
            zei.get(rec + "versions/"),
            zei.get(rec + "versions/1/"),
            zei.get(rec + "versions/9/"),
            zei.get(rec + "diff/"),
            zei.get(rec + "diff/?from=1&to=9"),
            zei.get(rec + "diff/?from=x"),
            zei.get(rec + "?as_of=bad"),
            zei.get(rec + "?as_of=1999-01-01"),
            zei.patch(rec, {"values": {"status": "x"}}),
            zei.patch(rec, {"values": {"status": "x"}}, HTTP_IF_MATCH='"1"'),
            zei.patch(rec, {"values": {"status": "x"}}, HTTP_IF_MATCH='"2"'),
            zei.patch(rec, {"values": {"nope": "x"}}, HTTP_IF_MATCH='"2"'),
            zei.patch(rec, {"values": {"disclosure": {"shiminzei": True}}}, HTTP_IF_MATCH='"2"'),
            zei.patch(rec, {"values": {"status": "x"}}, HTTP_IF_MATCH='"x"'),
            zei.delete(rec),
            zei.delete(rec, {"reason": "x"}, HTTP_IF_MATCH='"1"'),
            zei.delete(rec, {"reason": "x"}, HTTP_IF_MATCH='"2"'),
            zei.post(rec + "restore/", {"generation": 1}),
            zei.post(rec + "restore/", {"generation": 1}, HTTP_IF_MATCH='"1"'),
            zei.post(rec + "restore/", {"generation": 1}, HTTP_IF_MATCH='"2"'),
            zei.post(rec + "restore/", {}, HTTP_IF_MATCH='"2"'),
            zei.get(URL + "records/", {"id": target, "count": "true"}),
        ]
        rows.append([(a.status_code, a.content.replace(target.encode(), b"ID")) for a in answers])
    for i, (mine, missing) in enumerate(zip(*rows, strict=True)):
        assert mine == missing, (i, mine, missing)
    # 市民課 deletes; the deleted list of a 不可 department stays empty.
    clerk.delete(URL + f"records/{rid}/", {"reason": "誤登録"}, HTTP_IF_MATCH='"2"')
    assert zei.get(URL + "records/", {"deleted": "true", "count": "true"}).json()["count"] == 0


def test_a_victim_registered_without_touching_the_flags_stays_with_shimin(
    dv: dict[str, Api],
) -> None:
    """DV_LEDGER.md: 市民課 可, the others 不可 by default. A 市民課 clerk who registered a
    victim without filling in 照会可否 got 201 and a record nobody could open or find again,
    市民課 included: 加害者検索 at the counter then missed the victim."""
    clerk, zei = dv["clerk"], dv["zei"]
    created = clerk.post(URL + "records/", {"values": {
        "control_no": "DV-2024-0009", "name": {"kanji": "高橋 幸子", "kana": "タカハシ サチコ"},
        "related": [{"role": "加害者", "name": {"kanji": "高橋 健", "kana": "タカハシ ケン"}}],
    }})  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["values"]["disclosure"] == {
        code: code == "shimin" for code in DEPARTMENTS.values()
    }
    record = URL + f"records/{created.json()['id']}/"
    assert clerk.get(record).status_code == 200
    found = clerk.post(
        URL + "search/offender/", {"criteria": {"related.name": "タカハシ ケン"}, "reason": REASON}
    )
    assert [h["id"] for h in found.json()["results"]] == [created.json()["id"]]
    assert zei.get(record).status_code == 404
    # What a clerk chooses stands: flags given are the flags kept, the default only fills in.
    chosen = clerk.post(URL + "records/", {"values": {
        "control_no": "DV-2024-0010", "name": {"kanji": "高橋 幸子", "kana": "タカハシ サチコ"},
        "disclosure": {"shimin": "可", "hoken": "可"},
    }})  # fmt: skip
    assert chosen.json()["values"]["disclosure"] == {
        code: code in {"shimin", "hoken"} for code in DEPARTMENTS.values()
    }
    # A change that does not name the flags keeps them.
    kept = clerk.patch(record, {"values": {"status": "支援中"}}, HTTP_IF_MATCH='"1"')
    assert kept.json()["values"]["disclosure"]["shimin"] is True
    # The bulk path (an import's) likewise.
    bulk = clerk.post(URL + "records/bulk/", {"records": [{"values": {
        "control_no": "DV-2024-0011", "name": {"kanji": "高橋 幸子", "kana": "タカハシ サチコ"}}}]})  # fmt: skip
    assert bulk.status_code == 201, bulk.content
    assert clerk.get(URL + f"records/{bulk.json()['results'][0]['id']}/").status_code == 200


def test_a_window_desk_granted_the_offender_search_only(dv: dict[str, Api]) -> None:
    """保険課 as a 窓口 that checks whether a requester is a registered perpetrator: its grant
    runs 加害者検索 only. Before grants named screens it ran 本人検索 too, and read the
    victim's addresses and birth date (special care, disclosed to it)."""
    designer, clerk, hoken = dv["designer"], dv["clerk"], dv["hoken"]
    grants = designer.get(URL + "grants/").json()
    for grant in grants:
        if grant["department"] == "hoken":
            grant.update(capabilities=["search"], search_screens=["offender"])
    assert designer.put(URL + "grants/", grants).status_code == 200
    created = clerk.post(URL + "records/", {"values": {
        "control_no": "DV-2024-0012", "name": {"kanji": "高橋 幸子", "kana": "タカハシ サチコ"},
        "birth_date": "1985-03-03", "disclosure": {"shimin": "可", "hoken": "可"},
        "places": [_place("現住所", OLD_ADDRESS)],
        "related": [{"role": "加害者", "name": {"kanji": "高橋 健", "kana": "タカハシ ケン"}}],
    }})  # fmt: skip
    assert created.status_code == 201, created.content

    def search(screen: str, criteria: dict[str, Any]) -> Any:
        return hoken.post(URL + f"search/{screen}/", {"criteria": criteria, "reason": REASON})

    found = search("offender", {"related.name": "タカハシ ケン"})
    assert found.status_code == 200, found.content
    assert [h["id"] for h in found.json()["results"]] == [created.json()["id"]]
    assert not any(secret in found.content.decode() for secret in SECRETS)
    for screen in ("latest", "past"):
        refused = search(screen, {"name": "タカハシ サチコ"})
        assert refused.status_code == 403, refused.content
        assert refused.json()["code"] == "ERROR_SEARCH_SCREEN_NOT_GRANTED"
        assert not any(secret in refused.content.decode() for secret in SECRETS)
    assert hoken.get(URL).json()["runnable_search_screens"] == ["offender"]
    assert clerk.get(URL).json()["runnable_search_screens"] == ["latest", "past", "offender"]
