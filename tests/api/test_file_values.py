"""添付ファイル through the API: a reader whose clearance masks the field learns neither the
file's name (保護命令_山田花子.pdf is personal data), nor its size, kind or storage key,
through any output path; and the values a client may not store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.access.services import grants_replace
from ledgers.definitions.services import ledger_create
from tests.api.conftest import Api

URL = "/api/v1/ledgers/att/records/"
ORDER = {
    "name": "保護命令_山田花子.pdf",
    "size": 48213,
    "content_type": "application/pdf",
    "storage_key": "att/7f3a9c/hogo-meirei.pdf",
}
FIELDS = [
    {"key": "title", "label": "件名", "type": "text"},
    {"key": "doc", "label": "保護命令", "type": "file", "sensitivity": "special_care"},
    {"key": "parties", "label": "関係者", "type": "group", "fields": [
        {"key": "memo", "label": "備考", "type": "text"},
        {"key": "doc", "label": "書類", "type": "file", "sensitivity": "special_care"},
    ]},
]  # fmt: skip
SCREEN = {
    "code": "s", "name": "件名検索", "generations": "all",
    "criteria": [{"field": "title", "match": "contains"}],
    "result_fields": ["title", "doc", "parties"],
}  # fmt: skip
SECRETS = ("保護命令_山田花子", "48213", "hogo-meirei", "7f3a9c", "application/pdf")


@pytest.fixture
def attached(city: dict[str, Any]) -> dict[str, Any]:
    people = city["people"]
    with schema_context("mitaka"):
        ledger = ledger_create(
            actor=people["designer"], code="att", name="添付台帳", fields=FIELDS,
            search_screens=[SCREEN],
        )  # fmt: skip
        grants_replace(
            actor=people["designer"], ledger=ledger,
            grants=[
                {"department": "shimin", "capabilities": ["view", "search", "create", "update"], "clearance": "special_care"},
                {"department": "shiminzei", "capabilities": ["view", "search", "create", "update"], "clearance": "personal"},
            ],
        )  # fmt: skip
    clerk, zei = Api(people["clerk"]), Api(people["zei"])
    created = clerk.post(
        URL,
        {"values": {"title": "申立て", "doc": ORDER, "parties": [{"memo": "本人", "doc": ORDER}]}},
    )
    assert created.status_code == 201, created.content
    record_id = created.json()["id"]
    changed = clerk.patch(
        f"{URL}{record_id}/",
        {"values": {"doc": {**ORDER, "name": "保護命令_山田花子_更新.pdf"}}, "reason": "更新"},
        HTTP_IF_MATCH='"1"',
    )
    assert changed.status_code == 200, changed.content
    return {"clerk": clerk, "zei": zei, "id": record_id}


def _text(response: Any) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def test_a_masked_file_shows_nothing_of_the_file_on_any_output(attached: dict[str, Any]) -> None:
    zei, record_id = attached["zei"], attached["id"]
    base = f"{URL}{record_id}/"
    answers = {
        "detail": zei.get(base),
        "list": zei.get(URL),
        "versions": zei.get(f"{base}versions/"),
        "version 1": zei.get(f"{base}versions/1/"),
        "diff": zei.get(f"{base}diff/", {"from": 1, "to": 2}),
        "search": zei.post(
            "/api/v1/ledgers/att/search/s/", {"criteria": {"title": "申立"}, "reason": "確認"}
        ),
        "patch": zei.patch(base, {"values": {"title": "申立て2"}}, HTTP_IF_MATCH='"2"'),
    }
    for path, answer in answers.items():
        assert answer.status_code in (200, 201), (path, answer.content)
        text = _text(answer)
        for secret in SECRETS:
            assert secret not in text, (path, secret, text)
    # The reader with the clearance sees it (the probe above did reach the values).
    assert "保護命令_山田花子_更新.pdf" in _text(attached["clerk"].get(base))


@pytest.mark.parametrize("name", ["doc", "doc__contains"])
def test_a_masked_file_cannot_be_filtered_on(attached: dict[str, Any], name: str) -> None:
    answer = attached["zei"].get(URL, {name: "保護命令"})
    assert answer.status_code == 400, answer.content


def test_a_groups_contains_filter_does_not_read_its_masked_file(attached: dict[str, Any]) -> None:
    # The group filter reads the sub-fields the reader may read, not the file's name.
    query = {"parties__contains": "保護命令"}
    assert len(attached["clerk"].get(URL, query).json()["results"]) == 1
    assert attached["zei"].get(URL, query).json()["results"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "保護命令\u202efdp.exe"}, "表示順"),  # shows as 保護命令exe.pdf
        ({"name": "a\x00.pdf"}, "制御文字"),
        ({"name": "a\n.pdf"}, "改行"),
        ({"name": "../../etc/passwd"}, "フォルダの区切り"),
        ({"name": "あ" * 256}, "長すぎます"),
        ({"storage_key": "../musashino/hogo.pdf"}, "保存先が正しくありません"),
        ({"storage_key": "/srv/daicho/files/musashino/hogo.pdf"}, "保存先が正しくありません"),
        ({"storage_key": "a\\..\\b"}, "保存先が正しくありません"),
        ({"size": 2**64}, "サイズは0以上の整数"),
        ({"content_type": "text/html\r\nX-Injected: 1"}, "種類（content_type）"),
        ({"url": "https://evil.example/x.pdf"}, "不明な項目があります: url"),
    ],
)
def test_a_file_value_the_server_cannot_store_is_400_and_nothing_is_written(
    attached: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    clerk = attached["clerk"]
    before = len(clerk.get(URL).json()["results"])
    answer = clerk.post(URL, {"values": {"doc": {**ORDER, **change}}})
    assert answer.status_code == 400, answer.content
    assert message in answer.json()["detail"]["errors"]["doc"][0]
    assert len(clerk.get(URL).json()["results"]) == before
