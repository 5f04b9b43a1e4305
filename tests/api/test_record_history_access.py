"""A record's history (``versions/``, ``diff/``, ``?as_of=``, ``restore/``) as the access
rules change over time: the record's current 照会可否 decides who reads any generation,
and a field's sensitivity, raised since, masks every generation."""

from typing import Any

from tests.api.conftest import records_url

GROUP_URL = "/api/v1/ledgers/dv/fields/offenders/"
NAME = {"key": "name", "label": "氏名", "type": "person_name", "sensitivity": "personal"}
RELATION = {"key": "relation", "label": "続柄", "type": "choice",
            "options": {"choices": ["配偶者", "元配偶者", "その他"]}}  # fmt: skip


def _open_to_shiminzei(api: Any, city: dict[str, Any]) -> str:
    """Generation 2: 市民税課 (cleared up to personal data) 可 as well."""
    record_id = city["record"].pk
    opened = api("clerk").patch(
        records_url(record_id),
        {"values": {"disclosure": {"shimin": True, "shiminzei": True}}},
        HTTP_IF_MATCH='"1"',
    )
    assert opened.status_code == 200, opened.content
    return record_id


def test_a_sub_field_raised_then_dropped_from_its_group_stays_masked_in_old_generations(
    api: Any, city: dict[str, Any]
) -> None:
    """The designer raises 加害者.続柄 to special_care: 市民税課 (personal) sees it masked in
    every generation. Then the designer drops it from the group (a group's sub-fields are
    replaced whole, so nothing of it stays in the definition): an old generation was masked
    by its own definition (internal then) and the current one, which no longer knew it,
    and showed 「配偶者」 plain again, in versions/ and in the diff."""
    record_id = _open_to_shiminzei(api, city)
    designer, zei = api("designer"), api("zei")
    raised = designer.patch(
        GROUP_URL, {"fields": [NAME, {**RELATION, "sensitivity": "special_care"}]}
    )
    assert raised.status_code == 200, raised.content
    assert zei.get(records_url(record_id, "versions/1/")).json()["values"]["offenders"][0][
        "relation"
    ] == {"masked": True}
    dropped = designer.patch(GROUP_URL, {"fields": [NAME]})
    assert dropped.status_code == 200, dropped.content
    for path in ["versions/1/", "versions/2/"]:
        shown = zei.get(records_url(record_id, path))
        assert shown.status_code == 200, path
        assert "配偶者" not in shown.content.decode(), path
        assert shown.json()["values"]["offenders"][0]["relation"] == {"masked": True}, path
    # A diff whose ends differ in that sub-field shows the change masked, never the values.
    changed = api("clerk").patch(
        records_url(record_id),
        {"values": {"offenders": [{"name": "山田 太郎"}]}},
        HTTP_IF_MATCH='"2"',
    )
    assert changed.status_code == 200, changed.content
    diff = zei.get(records_url(record_id, "diff/"), {"from": 1, "to": 3})
    assert diff.status_code == 200
    assert "配偶者" not in diff.content.decode()
    # The clerk (市民課, special_care) still reads it.
    assert "配偶者" in api("clerk").get(records_url(record_id, "versions/1/")).content.decode()


def test_a_sub_field_dropped_without_a_raise_shows_as_it_was_written(
    api: Any, city: dict[str, Any]
) -> None:
    """Only a raise since is kept: a sub-field dropped at the level it always had shows in
    its old generations at that level (the fix reads its last level, not its strictest)."""
    record_id = _open_to_shiminzei(api, city)
    dropped = api("designer").patch(GROUP_URL, {"fields": [NAME]})
    assert dropped.status_code == 200, dropped.content
    shown = api("zei").get(records_url(record_id, "versions/1/")).json()
    assert shown["values"]["offenders"][0]["relation"] == "配偶者"


def test_a_generation_restores_after_a_sub_field_was_dropped_from_its_group(
    api: Any, city: dict[str, Any]
) -> None:
    """Generation 1's 加害者 rows hold 続柄, dropped from the group since: restoring it was
    400 「1行目: 不明な項目があります: relation」, and no generation written before the drop
    could be restored. A value of a sub-field dropped since is left out, as a field's."""
    clerk, record_id = api("clerk"), city["record"].pk
    dropped = api("designer").patch(GROUP_URL, {"fields": [NAME]})
    assert dropped.status_code == 200, dropped.content
    changed = clerk.patch(
        records_url(record_id),
        {"values": {"offenders": [{"name": "佐藤 次郎"}], "amount": 7}},
        HTTP_IF_MATCH='"1"',
    )
    assert changed.status_code == 200, changed.content
    restored = clerk.post(
        records_url(record_id, "restore/"), {"generation": 1}, HTTP_IF_MATCH='"2"'
    )
    assert restored.status_code == 200, restored.content
    values = restored.json()["values"]
    assert values["amount"] == 1000
    assert [row["name"]["kanji"] for row in values["offenders"]] == ["山田 太郎"]
    assert "relation" not in values["offenders"][0]
