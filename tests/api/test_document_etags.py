"""ETag and If-Match on the administrative documents: a ledger's definition (and its
fields), its grants, a department, a staff member.

They were last-writer-wins: an administrator who had read one before another's change
wrote over it unseen (on the DV ledger, a department's grant taken away came back with a
colleague's next change of another grant). Each read now answers an ``ETag``; a write sent
with a stale ``If-Match`` is 412 ``ERROR_VERSION_CONFLICT`` and changes nothing; one
without it goes through, as before (concurrent writers: ``test_document_races.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import schema_context

from daicho.accounts.models import Membership
from ledgers.audit.models import AuditEvent
from tests.api.conftest import DV_DOCUMENT, assert_documented, records_url

ETAG = re.compile(r'^"[0-9a-f]{32}"$')
LEDGER = "/api/v1/ledgers/dv/"
GRANTS = "/api/v1/ledgers/dv/grants/"
DV_GRANTS = [
    {"department": "soumu", "capabilities": ["view", "search", "design", "audit"], "clearance": "special_care"},
    {"department": "shimin", "capabilities": ["view", "search", "create", "update", "delete", "export"], "clearance": "special_care"},
    {"department": "shiminzei", "capabilities": ["view", "search", "create", "update"], "clearance": "personal"},
    {"role": "auditor", "capabilities": ["view", "search", "audit"], "clearance": "personal"},
]  # fmt: skip


@dataclass(frozen=True)
class Write:
    """A change of one document: who sends it, where the document is read, and the write."""

    who: str
    read: str  # the document's URL (its GET answers the ETag)
    method: str
    url: str
    body: Any
    status: int = 200


WRITES = {
    "ledger PATCH": Write("designer", LEDGER, "patch", LEDGER, {"description": "DV等の支援措置"}),
    "ledger PUT": Write("designer", LEDGER, "put", LEDGER, {**DV_DOCUMENT, "name": "DV支援台帳"}),
    "field POST": Write(
        "designer", f"{LEDGER}fields/", "post", f"{LEDGER}fields/",
        {"key": "note", "label": "備考", "type": "text"}, 201,
    ),
    "field PATCH": Write(
        "designer", f"{LEDGER}fields/amount/", "patch", f"{LEDGER}fields/amount/",
        {"label": "支援金額"},
    ),
    "field DELETE": Write(
        "designer", f"{LEDGER}fields/amount/", "delete", f"{LEDGER}fields/amount/", None, 204
    ),
    "grants PUT": Write("designer", GRANTS, "put", GRANTS, DV_GRANTS[1:] + DV_GRANTS[:1]),
    "department PATCH": Write(
        "admin", "/api/v1/departments/soumu/", "patch", "/api/v1/departments/soumu/",
        {"name": "総務部総務課"},
    ),
    "staff PATCH": Write(
        "admin", "/api/v1/staff/zei/", "patch", "/api/v1/staff/zei/",
        {"memberships": [{"department": "shimin", "role": "viewer", "valid_from": "2026-04-01"}]},
    ),
    "staff DELETE": Write("admin", "/api/v1/staff/zei/", "delete", "/api/v1/staff/zei/", None),
}  # fmt: skip


def _send(client: Any, write: Write, if_match: str | None) -> Any:
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    return getattr(client, write.method)(write.url, write.body, **headers)


def _state(client: Any, write: Write) -> tuple[bytes, ...]:
    """The document as read, and the ledger's definition (a field removed reads as 404)."""
    return tuple(client.get(url).content for url in (write.read, LEDGER))


@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_with_the_etag_read_goes_through_and_a_stale_one_is_412(
    api: Any, name: str
) -> None:
    write = WRITES[name]
    client = api(write.who)
    read = client.get(write.read)
    assert read.status_code == 200
    assert ETAG.match(read["ETag"]), read.get("ETag")

    written = _send(client, write, read["ETag"])
    assert written.status_code == write.status, written.content
    assert ETAG.match(written["ETag"])
    assert written["ETag"] != read["ETag"]
    after = client.get(write.read)
    # The write answers the tag a read answers now (a field removed: the definition's).
    reread = after if after.status_code == 200 else client.get(LEDGER)
    assert written["ETag"] == reread["ETag"]

    # Sent again with the tag read before it: the document changed since.
    before = _state(client, write)
    stale = _send(client, write, read["ETag"])
    assert stale.status_code == 412, stale.content
    assert stale.json()["code"] == "ERROR_VERSION_CONFLICT"
    assert stale.json()["detail"]["current_etag"] == written["ETag"]
    assert "他の操作で変更されています" in stale.json()["message"]
    assert _state(client, write) == before


def test_a_stale_write_is_not_audited(api: Any) -> None:
    designer = api("designer")
    changes = AuditEvent.objects.filter(action="grant.change").order_by("seq")
    with schema_context("mitaka"):
        before = changes.count()
    etag = designer.get(GRANTS)["ETag"]
    assert designer.put(GRANTS, DV_GRANTS[:3], HTTP_IF_MATCH=etag).status_code == 200
    assert designer.put(GRANTS, DV_GRANTS[:2], HTTP_IF_MATCH=etag).status_code == 412
    with schema_context("mitaka"):
        assert changes.count() == before + 1
        assert len(changes.last().details["after"]) == 3


def test_a_grant_taken_away_does_not_come_back_with_a_colleagues_change(
    api: Any, city: dict[str, Any]
) -> None:
    """The DV ledger's fault: ledger administrators A and B read the grants; A takes
    市民課's away; B, from the list read before, changes 市民税課's clearance. B's list held
    市民課's grant: written, 市民課 could read the victims' records again, and nobody had
    seen it come back."""
    a, b = api("designer"), api("admin")
    read_by_a, read_by_b = a.get(GRANTS), b.get(GRANTS)
    assert read_by_a["ETag"] == read_by_b["ETag"]
    without_shimin = [g for g in read_by_a.json() if g["department"] != "shimin"]
    assert a.put(GRANTS, without_shimin, HTTP_IF_MATCH=read_by_a["ETag"]).status_code == 200

    from_before = [
        {**g, "clearance": "internal"} if g["department"] == "shiminzei" else g
        for g in read_by_b.json()
    ]
    refused = b.put(GRANTS, from_before, HTTP_IF_MATCH=read_by_b["ETag"])
    assert refused.status_code == 412
    assert refused.json()["detail"]["document"] == "grants"
    assert "shimin" not in [g["department"] for g in b.get(GRANTS).json()]
    assert api("clerk").get(records_url(city["record"].pk)).status_code == 404


def test_a_field_changed_by_another_designer_is_not_written_over(api: Any) -> None:
    """A field's ``If-Match`` is the definition's tag: one read before another designer's
    change of the definition (here, of another field) is stale."""
    designer, admin = api("designer"), api("admin")
    etag = designer.get(f"{LEDGER}fields/address/")["ETag"]
    assert etag == designer.get(LEDGER)["ETag"] == designer.get(f"{LEDGER}fields/")["ETag"]
    options = {"departments": ["shimin"]}
    changed = admin.patch(
        f"{LEDGER}fields/disclosure/", {"options": options}, HTTP_IF_MATCH=admin.get(LEDGER)["ETag"]
    )
    assert changed.status_code == 200, changed.json()
    refused = designer.patch(
        f"{LEDGER}fields/address/", {"sensitivity": "personal"}, HTTP_IF_MATCH=etag
    )
    assert refused.status_code == 412
    assert refused.json()["detail"]["document"] == "ledger"
    assert designer.get(f"{LEDGER}fields/address/").json()["sensitivity"] == "special_care"


def test_the_definitions_etag_follows_its_name_and_the_readers_capabilities(
    api: Any, city: dict[str, Any]
) -> None:
    """What the ledger's answer shows beside the definition: the name, description and
    retention change no ``definition_version``, and the capabilities answered are the
    reader's, which the grants decide."""
    designer = api("designer")
    first = designer.get(LEDGER)
    renamed = designer.patch(LEDGER, {"name": "DV支援台帳"}, HTTP_IF_MATCH=first["ETag"])
    assert renamed.json()["definition_version"] == first.json()["definition_version"]
    assert renamed["ETag"] != first["ETag"]

    grants = designer.get(GRANTS)
    widened = [
        {**g, "capabilities": [*g["capabilities"], "export"]} if g["department"] == "soumu" else g
        for g in grants.json()
    ]
    assert designer.put(GRANTS, widened, HTTP_IF_MATCH=grants["ETag"]).status_code == 200
    now = designer.get(LEDGER)
    assert "export" in now.json()["capabilities"]
    assert now["ETag"] != renamed["ETag"]
    assert (
        designer.patch(LEDGER, {"category": "x"}, HTTP_IF_MATCH=renamed["ETag"]).status_code == 412
    )


def test_a_staff_members_etag_follows_their_memberships(api: Any, city: dict[str, Any]) -> None:
    """Memberships changed elsewhere (the web UI, a command) change the tag too: it is a
    digest of what is answered, not a counter some writer might forget."""
    admin = api("admin")
    etag = admin.get("/api/v1/staff/zei/")["ETag"]
    with schema_context("mitaka"):
        Membership.objects.filter(user=city["people"]["zei"]).update(role="viewer")
    assert admin.get("/api/v1/staff/zei/")["ETag"] != etag
    refused = admin.patch("/api/v1/staff/zei/", {"display_name": "税"}, HTTP_IF_MATCH=etag)
    assert refused.status_code == 412
    assert refused.json()["detail"]["document"] == "staff"


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        (None, 200),  # optional: clients written before it keep working
        ("*", 200),  # any version
        ("W/{etag}", 200),  # weakened by a proxy, as for records
        ("{etag}", 200),
        ('"0", {etag}', 200),  # one of the tags listed
        ("{bare}", 200),  # unquoted, as records accept it
        ('"0"', 412),
        ("garbage", 412),
        (",", 412),  # names no tag: matches none, never all
        ("", 412),  # sent empty (a client's variable unset): names no tag either
        ("  ", 412),
    ],
)
def test_if_match_forms(api: Any, if_match: str | None, status: int) -> None:
    admin = api("admin")
    etag = admin.get("/api/v1/departments/soumu/")["ETag"]
    headers = (
        {}
        if if_match is None
        else {"HTTP_IF_MATCH": if_match.format(etag=etag, bare=etag.strip('"'))}
    )
    response = admin.patch("/api/v1/departments/soumu/", {"name": "総務部総務課"}, **headers)
    assert response.status_code == status, response.content
    name = admin.get("/api/v1/departments/soumu/").json()["name"]
    assert name == ("総務部総務課" if status == 200 else "総務課")


def test_a_refusal_for_the_caller_comes_before_the_version(api: Any) -> None:
    """403 for one who may not write, whatever the tag (a 412 would tell the current one)."""
    refused = api("clerk").put(GRANTS, DV_GRANTS, HTTP_IF_MATCH='"0"')
    assert refused.status_code == 403
    assert "current_etag" not in refused.content.decode()


def test_the_412_is_answered_as_the_schema_says(api: Any) -> None:
    designer = api("designer")
    stale = designer.patch(f"{LEDGER}fields/amount/", {"label": "額"}, HTTP_IF_MATCH='"0"')
    assert stale.status_code == 412
    assert_documented(stale, "/api/v1/ledgers/{code}/fields/{key}/", "patch")


def test_the_schema_declares_if_match_and_etag(api: Any) -> None:
    from rest_framework.test import APIClient

    from tests.api.conftest import HOST

    paths = (
        APIClient(HTTP_HOST=HOST)
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()["paths"]
    )
    writes = {
        "/api/v1/ledgers/{code}/": ["put", "patch"],
        "/api/v1/ledgers/{code}/fields/": ["post"],
        "/api/v1/ledgers/{code}/fields/{key}/": ["put", "patch", "delete"],
        "/api/v1/ledgers/{code}/grants/": ["put"],
        "/api/v1/departments/{code}/": ["put", "patch"],
        "/api/v1/staff/{username}/": ["put", "patch", "delete"],
    }
    for path, methods in writes.items():
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"], path
        for method in methods:
            operation = paths[path][method]
            (if_match,) = [p for p in operation["parameters"] if p["name"] == "If-Match"]
            assert if_match["in"] == "header"
            assert not if_match.get("required", False)  # no 428 here
            assert "412" in operation["responses"], (path, method)
            answered = operation["responses"][next(iter(sorted(operation["responses"])))]
            assert "ETag" in answered["headers"], (path, method)
