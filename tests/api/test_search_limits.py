"""What a search screen refuses before it costs anything: date criteria and terms past
their length (a date of 16,000 dashes took 20 s to refuse, 600 kB of kanji 11–19 s to
search), pages past the screen's max_results (加害者検索 could page through the whole
ledger), a term with nothing to look for (a server error), an invisible 照会理由."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from ledgers.audit.models import AuditEvent
from ledgers.search.services import MAX_TERM

REASON = "窓口での本人確認のため"


def search(client: Any, screen: str, criteria: dict, reason: str = REASON, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/ledgers/dv/search/{screen}/", {"criteria": criteria, "reason": reason, **extra}
    )


def _searches() -> int:
    with schema_context("mitaka"):
        return AuditEvent.objects.filter(action="search.run").count()


@pytest.mark.parametrize("dash", ["-", "ー", "－"])
def test_a_date_of_many_dashes_is_refused_by_its_length(api: Any, dash: str) -> None:
    response = search(api("clerk"), "latest", {"birth_date": dash * 100})
    assert response.status_code == 400
    assert "40文字まで" in str(response.json()["detail"])
    # Past a term's length, the term's own cap answers first.
    assert search(api("clerk"), "latest", {"birth_date": dash * 8000}).status_code == 400


def test_a_term_past_its_length_is_refused(api: Any) -> None:
    before = _searches()
    response = search(api("clerk"), "latest", {"name": "山" * (MAX_TERM + 1)})
    assert response.status_code == 400
    assert f"{MAX_TERM}文字まで" in str(response.json()["detail"])
    assert _searches() == before
    assert search(api("clerk"), "latest", {"name": "山" * MAX_TERM}).status_code == 200


def test_no_page_reaches_past_the_screen_s_max_results(api: Any) -> None:
    clerk = api("clerk")
    items = [
        {"values": {"name": {"kanji": f"山田 {i:02d}", "kana": "ヤマダ"}, "disclosure": {"shimin": True},
                    "offenders": [{"name": {"kanji": "山田 一郎", "kana": "ヤマダ イチロウ"}}]}}
        for i in range(60)
    ]  # fmt: skip
    assert clerk.post("/api/v1/ledgers/dv/records/bulk/", {"records": items}).status_code == 201
    first = search(clerk, "offender", {"offenders.name": "山田"}, page=1, page_size=50).json()
    assert len(first["results"]) == 50
    assert first["next"] is None  # max_results: 50
    beyond = search(clerk, "offender", {"offenders.name": "山田"}, page=2, page_size=50)
    assert beyond.status_code == 400
    assert beyond.json()["detail"]["max_results"] == 50
    # Pages of 20: the third is cut at the cap (10 of the 61 matches), with no next.
    third = search(clerk, "offender", {"offenders.name": "山田"}, page=3, page_size=20).json()
    assert len(third["results"]) == 10
    assert third["next"] is None


@pytest.mark.parametrize("term", ["　", "・", "\u200b"])
def test_a_term_with_nothing_to_look_for_is_a_400(api: Any, term: str) -> None:
    response = search(api("clerk"), "latest", {"name": term})
    assert response.status_code == 400, response.content
    assert "検索できる文字" in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("reason", "refused"),
    [
        ("\u200b\u200b", "invalid_character"),
        ("\u2800\u2800", "invalid_character"),
        ("\u3164\u3164", "invalid_character"),
        ("・・", "required"),
        # Modifier letters alone: a dash, a ditto (passed as two letters until 2026-11-30)
        ("ーー", "required"),
        ("ｰｰ", "required"),
        ("々々", "required"),
        ("ゝヽ", "required"),
        ("ー確", "required"),
    ],
)
def test_an_invisible_reason_is_no_reason(api: Any, reason: str, refused: str) -> None:
    """A reason that shows nothing is none (required); one of characters no stored text may
    hold (zero widths, Hangul fillers, the braille blank) is refused for them first
    (40b80c8, which left this test expecting ``required`` for every one). Marks that only
    lengthen or repeat a letter (ー, 々) are no letters of a reason by themselves."""
    response = search(api("clerk"), "latest", {"name": "山田"}, reason=reason)
    assert response.status_code == 400
    assert response.json()["detail"] == {"reason": refused}


@pytest.mark.parametrize("reason", ["メール", "佐々木", "いすゞ", "確認", "12"])
def test_a_reason_with_its_marks_after_letters_is_taken(api: Any, reason: str) -> None:
    response = search(api("clerk"), "latest", {"name": "山田"}, reason=reason)
    assert response.status_code == 200, response.content
