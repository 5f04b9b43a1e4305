"""/api/v1/ledgers/{code}/webhooks/: who may manage subscriptions, and what the API shows."""

from __future__ import annotations

import socket
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from daicho.accounts.models import Department, Membership, Role
from ledgers.access.models import Grant
from ledgers.access.services import grant_describe, grants_replace
from ledgers.audit.models import AuditEvent
from ledgers.audit.selectors import audit_events
from ledgers.webhooks.exceptions import WebhookUrlRefused
from ledgers.webhooks.models import WebhookDelivery, WebhookSubscription
from ledgers.webhooks.services import webhook_deliver, webhook_url_resolve
from tests.api.conftest import records_url
from tests.webhooks.conftest import Receiver, designs_own_view

WEBHOOKS = "/api/v1/ledgers/dv/webhooks/"


def _body(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"url": receiver.url, "events": ["record.created", "record.updated"], **extra}


def test_a_designer_subscribes_and_sees_the_secret_once(api: Any, receiver: Receiver) -> None:
    designer = api("designer")
    created = designer.post(WEBHOOKS, _body(receiver, description="福祉システム連携"))
    assert created.status_code == 201, created.json()
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert body["owner"] == "designer"  # the creator: payloads carry the creator's view
    assert body["events"] == ["record.created", "record.updated"]
    assert body["active"] is True

    detail = designer.get(f"{WEBHOOKS}{body['id']}/")
    listing = designer.get(WEBHOOKS)
    for response in (detail, listing):
        assert response.status_code == 200
        assert secret.encode() not in response.content
        assert b"secret" not in response.content
    assert [w["id"] for w in listing.json()["results"]] == [body["id"]]
    with schema_context("mitaka"):
        event = AuditEvent.objects.get(action="webhook.create")
        assert event.details["webhook"] == body["id"]
        assert event.details["owner"] == "designer"
        assert secret not in str(event.details)
        assert WebhookSubscription.objects.get(pk=body["id"]).secret == secret


@pytest.mark.parametrize("who", ["clerk", "zei", "auditor"])
def test_only_ledger_designers_may_manage_webhooks(api: Any, receiver: Receiver, who: str) -> None:
    refused = api(who).post(WEBHOOKS, _body(receiver))
    assert refused.status_code == 403
    assert refused.json()["code"] == "ERROR_PERMISSION_DENIED"
    assert api(who).get(WEBHOOKS).status_code == 403
    created = api("designer").post(WEBHOOKS, _body(receiver)).json()
    url = f"{WEBHOOKS}{created['id']}/"
    assert api(who).get(url).status_code == 403
    assert api(who).patch(url, {"active": False}).status_code == 403
    assert api(who).delete(url).status_code == 403
    assert api(who).get(f"{url}deliveries/").status_code == 403
    with schema_context("mitaka"):
        assert WebhookSubscription.objects.get(pk=created["id"]).active is True


def test_writes_need_the_design_scope(api: Any, receiver: Receiver) -> None:
    reader = api("designer", scopes=["records:read"])
    assert reader.post(WEBHOOKS, _body(receiver)).status_code == 403
    assert reader.get(WEBHOOKS).status_code == 403  # reading them needs ledgers:design too


def test_the_owner_must_be_able_to_view_the_ledger(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    with schema_context("mitaka"):
        outsider = get_user_model().objects.create_user(username="outsider", password="x" * 12)
        Membership.objects.create(
            user=outsider, department=Department.objects.create(code="kankyo", name="環境政策課"),
            role=Role.EDITOR, valid_from=date(2026, 4, 1),
        )  # fmt: skip
    response = api("designer").post(WEBHOOKS, _body(receiver, owner="outsider"))
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_WEBHOOK_INVALID"
    assert "owner" in response.json()["detail"]["errors"]
    # A username no account holds: the same answer (tests/webhooks/test_owner_rules.py).
    missing = api("designer").post(WEBHOOKS, _body(receiver, owner="nobody"))
    assert (missing.status_code, missing.json()) == (400, response.json())
    with schema_context("mitaka"):
        assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://example.com/hook",
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://[::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://user:password@93.184.216.34/hook",
        # Not globally reachable, yet "global" to ipaddress on Python 3.11 (before 3.11.10):
        "http://192.0.0.192/hook",  # 192.0.0.0/24, Oracle Cloud's legacy metadata service
        "http://[64:ff9b:1::a9fe:a9fe]/hook",  # local-use NAT64 (RFC 8215) to 169.254.169.254
        "http://[::a9fe:a9fe]/hook",  # IPv4-compatible (::/96)
        "http://[::ffff:0:a9fe:a9fe]/hook",  # IPv4-translated (::ffff:0:0:0/96)
        "http://[fec0::1]/hook",  # site-local (fec0::/10)
    ],
)
def test_the_ssrf_guard_refuses_internal_urls(api: Any, settings: Any, url: str) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api("designer").post(WEBHOOKS, {"url": url, "events": ["record.created"]})
    assert response.status_code == 400
    assert response.json()["code"] == "ERROR_WEBHOOK_URL_REFUSED"
    with schema_context("mitaka"):
        assert not WebhookSubscription.objects.exists()


INTERNAL, NOWHERE = "db.internal.example.jp", "nowhere.example.jp"


def test_a_host_name_is_no_probe_of_the_internal_dns(
    api: Any, city: dict[str, Any], enqueue: Any, settings: Any, monkeypatch: Any
) -> None:
    """Found by a review: registering a URL resolved its host name during the request, and
    the refusal told a name that does not resolve (``unresolvable``) from one that resolves
    to an internal address (``private_address``): a city administrator, or a stolen token
    with the scope, mapped the data centre's internal DNS names a request at a time. A name
    is resolved at delivery only, where the two read the same in the delivery log."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host == INTERNAL:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]
        if host == NOWHERE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    designs_own_view(city, "clerk")
    owner = api("clerk")
    created = {
        host: owner.post(WEBHOOKS, {"url": f"https://{host}/hook", "events": ["record.updated"]})
        for host in (INTERNAL, NOWHERE)
    }
    assert {host: answer.status_code for host, answer in created.items()} == {
        INTERNAL: 201, NOWHERE: 201
    }  # fmt: skip
    assert asked == []  # nor a lookup's time to tell them apart

    enqueue("record.updated")
    with schema_context("mitaka"):
        for delivery_id in WebhookDelivery.objects.values_list("id", flat=True):
            webhook_deliver(delivery_id=str(delivery_id))
    logs = {
        host: [
            (row["status"], row["response_status"], row["error"])
            for row in owner.get(f"{WEBHOOKS}{answer.json()['id']}/deliveries/").json()["results"]
        ]
        for host, answer in created.items()
    }
    assert sorted(asked) == [INTERNAL, NOWHERE]
    assert logs[INTERNAL] == logs[NOWHERE]
    [(status, response_status, error)] = logs[INTERNAL]
    assert (status, response_status) == ("failed", None)
    assert "no_public_address" in error


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://93.184.216.34:22/hook", "port"),  # a service that is not a web server
        ("https://93.184.216.34:6379/hook", "port"),
        ("https://93.184.216.34:8443/hook", "port"),  # allowed only when the operator says
        ("http://93.184.216.34/hook", "scheme"),  # personal data in clear text
        ("http://93.184.216.34:443/hook", "scheme"),
    ],
)
def test_a_webhook_url_is_https_on_a_web_port_by_default(
    api: Any, settings: Any, url: str, reason: str
) -> None:
    """Found by a review: any port was accepted (the webhook a probe of every service on a
    public address, a status or error for each), and http:// sent records in clear text."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_PORTS = (443, 80)
    response = api("designer").post(WEBHOOKS, {"url": url, "events": ["record.created"]})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "ERROR_WEBHOOK_URL_REFUSED"
    assert response.json()["detail"]["reason"] == reason
    with schema_context("mitaka"):
        assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    ("url", "setting", "value"),
    [
        ("https://93.184.216.34/hook", "WEBHOOK_ALLOWED_PORTS", (443, 80)),
        ("https://93.184.216.34:443/hook", "WEBHOOK_ALLOWED_PORTS", (443, 80)),
        ("https://93.184.216.34:8443/hook", "WEBHOOK_ALLOWED_PORTS", (443, 80, 8443)),
        ("http://93.184.216.34/hook", "WEBHOOK_ALLOW_HTTP", True),
    ],
)
def test_the_operator_may_allow_more_ports_and_http(
    api: Any, settings: Any, url: str, setting: str, value: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_PORTS = (443, 80)
    setattr(settings, setting, value)
    response = api("designer").post(WEBHOOKS, {"url": url, "events": ["record.created"]})
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https:///hook",
        "https://exa mple.jp/hook",
        "https://[::1/hook",
        "https://example.jp:99999/hook",
        "https://-example.jp/hook",
        "https://example..jp/hook",
        "https://127.1/hook",  # IPv4 shorthand: a client reads 127.0.0.1
        "https://2130706433/hook",  # the same as one number
        "https://0x7f.0.0.1/hook",
    ],
)
def test_a_malformed_url_gets_a_clear_error(api: Any, settings: Any, url: str) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api("designer").post(WEBHOOKS, {"url": url, "events": ["record.created"]})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "ERROR_WEBHOOK_URL_REFUSED"
    assert response.json()["detail"]["reason"] == "host"
    assert "URL" in response.json()["message"]


def test_the_ssrf_guard_admits_public_addresses_and_pins_the_checked_one(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    destination = webhook_url_resolve("https://93.184.216.34:8443/in?x=1")
    assert destination.addresses == ("93.184.216.34",)
    assert destination.pinned_url("93.184.216.34") == "https://93.184.216.34:8443/in?x=1"
    assert destination.host_header == "93.184.216.34:8443"
    # Allowing private networks never allows other schemes.
    with pytest.raises(WebhookUrlRefused) as refused:
        webhook_url_resolve("file:///etc/passwd", allow_private=True)
    assert refused.value.reason == "scheme"


def test_patch_delete_and_the_delivery_log(
    api: Any, receiver: Receiver, enqueue: Any, city: dict[str, Any]
) -> None:
    designs_own_view(city, "clerk")  # 市民課 sees the DV record
    owner = api("clerk")
    created = owner.post(WEBHOOKS, _body(receiver)).json()
    url = f"{WEBHOOKS}{created['id']}/"
    changed = owner.patch(url, {"events": ["record.deleted"], "description": "転出の通知"})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["record.deleted"]
    bad = owner.patch(url, {"events": ["record.viewed"]})
    assert bad.status_code == 400

    [delivery] = enqueue("record.deleted")
    log = owner.get(f"{url}deliveries/")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert row["id"] == str(delivery.pk)
    assert row["record_id"] == str(city["record"].pk)
    assert row["status"] == "pending"
    assert b"\xe5\xb1\xb1\xe7\x94\xb0" not in log.content  # 山田: ids only
    assert owner.get(f"{url}deliveries/?status=dead").json()["results"] == []
    assert owner.get(f"{url}deliveries/?status=bogus").status_code == 400
    # A filter the log does not take was ignored: ?state=dead answered every delivery.
    misspelt = owner.get(f"{url}deliveries/?state=dead")
    assert misspelt.status_code == 400
    assert "state" in misspelt.json()["detail"]
    # 総務課's designer manages the ledger's webhooks but may not see the DV record: the log
    # does not tell it that the record exists or was deleted (found by a review).
    assert api("designer").get(records_url(city["record"].pk)).status_code == 404
    assert api("designer").get(f"{url}deliveries/").json()["results"] == []

    paused = owner.patch(url, {"active": False})
    assert paused.json()["active"] is False
    assert owner.delete(url).status_code == 204
    assert owner.get(url).status_code == 404
    assert owner.get(f"{WEBHOOKS}not-a-uuid/").json()["code"] == "ERROR_WEBHOOK_DOES_NOT_EXIST"
    with schema_context("mitaka"):
        actions = list(
            AuditEvent.objects.filter(action__startswith="webhook.")
            .order_by("seq")
            .values_list("action", flat=True)
        )
    assert actions == ["webhook.create", "webhook.update", "webhook.disable", "webhook.delete"]


def test_a_subscription_reads_as_its_creator_only(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """Found by a review: a designer who may not view records named 市民課's clerk as the
    owner (or moved the clerk's subscription to a URL of its own) and received the DV
    address, the trail naming the clerk as the reader."""
    designer = api("designer")
    named = designer.post(WEBHOOKS, _body(receiver, owner="clerk"))
    assert named.status_code == 400
    assert "owner" in named.json()["detail"]["errors"]
    designs_own_view(city, "clerk")
    theirs = api("clerk").post(WEBHOOKS, _body(receiver)).json()
    url = f"{WEBHOOKS}{theirs['id']}/"
    moved = designer.patch(url, {"url": "http://127.0.0.1:9/elsewhere"})
    assert moved.status_code == 400
    assert "owner" in moved.json()["detail"]["errors"]
    handed = designer.patch(url, {"owner": "clerk", "url": "http://127.0.0.1:9/elsewhere"})
    assert handed.status_code == 400
    # Taking it over is allowed, as the designer's own view: what it may see, no more.
    taken = designer.patch(url, {"owner": "designer", "url": "http://127.0.0.1:9/elsewhere"})
    assert taken.status_code == 200, taken.json()
    assert taken.json()["owner"] == "designer"
    with schema_context("mitaka"):
        kept = WebhookSubscription.objects.get(pk=theirs["id"])
        assert (kept.owner.username, kept.url) == ("designer", "http://127.0.0.1:9/elsewhere")


def test_a_token_without_records_read_may_not_point_a_subscription(
    api: Any, receiver: Receiver, city: dict[str, Any]
) -> None:
    """Found by a review: a ledgers:design token, refused a GET, subscribed its own URL and
    received every change with its values."""
    designs_own_view(city, "clerk")
    design_only = api("clerk", scopes=["ledgers:design"])
    assert design_only.get(records_url(city["record"].pk)).status_code == 403
    refused = design_only.post(WEBHOOKS, _body(receiver))
    assert refused.status_code == 403
    assert "records:read" in refused.json()["message"]
    created = api("clerk").post(WEBHOOKS, _body(receiver)).json()
    url = f"{WEBHOOKS}{created['id']}/"
    assert design_only.patch(url, {"url": "http://127.0.0.1:9/x"}).status_code == 403
    assert design_only.patch(url, {"active": False}).status_code == 200  # no values move
    with schema_context("mitaka"):
        assert WebhookSubscription.objects.count() == 1


@pytest.mark.parametrize("position", ["notadate", "2024-01-01T00:00:00-18:24", "2024-02-30T00:00"])
def test_a_forged_delivery_log_cursor_is_a_404(
    api: Any, receiver: Receiver, city: dict[str, Any], position: str
) -> None:
    """The delivery log's cursor went to the query as the client wrote it, as the records'
    and the audit trail's once did: a made-up position that is no time (or one PostgreSQL
    cannot read) was a server error that logged the statement (found by fuzzing)."""
    import base64
    from urllib.parse import urlencode

    designer = api("designer")
    designer.client.raise_request_exception = False
    created = designer.post(WEBHOOKS, _body(receiver)).json()
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    log = designer.get(f"{WEBHOOKS}{created['id']}/deliveries/", {"cursor": cursor})
    assert log.status_code in (200, 404), log.content[:200]
    assert log.json().get("code", "ERROR_NOT_FOUND") == "ERROR_NOT_FOUND"
    # And a page size that is no count is refused, not read as none at all.
    sized = designer.get(f"{WEBHOOKS}{created['id']}/deliveries/", {"page_size": "-1"})
    assert sized.status_code == 400


@pytest.mark.parametrize("owner", ["a\u0000", "\u0000", "clerk\u0000"])
def test_an_owner_holding_a_nul_is_400(api: Any, receiver: Receiver, owner: str) -> None:
    """The owner's username went into the lookup before any check of its characters, and
    PostgreSQL refuses a NUL in text: a server error (found by schemathesis)."""
    designer = api("designer")
    designer.client.raise_request_exception = False
    created = designer.post(WEBHOOKS, _body(receiver, owner=owner))
    assert created.status_code == 400, created.content[:200]
    assert "owner" in created.json()["detail"]
    existing = designer.post(WEBHOOKS, _body(receiver)).json()
    changed = designer.patch(f"{WEBHOOKS}{existing['id']}/", {"owner": owner})
    assert changed.status_code == 400
    assert "owner" in changed.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "https://fukushi.example.jp\n.evil.example/hook",  # the guard read one host,
        "https://fukushi.example.jp\t.evil.example/hook",  # the list showed another
        "https://example.jp/hook\r\nX-Injected: 1",
        "https://example.jp/ho\x01ok",
        "https://example.jp/\u202ekoob",  # shown reversed
        "https://example.jp/ho\u200bok",  # invisible
    ],
)
def test_a_url_holding_a_control_or_invisible_character_is_400(
    api: Any, receiver: Receiver, settings: Any, url: str
) -> None:
    """Python's URL parser drops tabs and line breaks, so the guard checked (and deliveries
    went to) ``fukushi.example.jp.evil.example`` while the subscription list, which ledger
    administrators read to know where records go, showed the URL as typed: on two lines,
    the first a trusted host. Other control and bidirectional characters were stored too."""
    designer = api("designer")
    existing = designer.post(WEBHOOKS, _body(receiver)).json()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    created = designer.post(WEBHOOKS, {"url": url, "events": ["record.created"]})
    assert created.status_code == 400, created.content[:300]
    assert created.json()["code"] == "ERROR_WEBHOOK_INVALID"
    assert "url" in created.json()["detail"]["errors"]
    changed = designer.patch(f"{WEBHOOKS}{existing['id']}/", {"url": url})
    assert changed.status_code == 400, changed.content[:300]
    assert "url" in changed.json()["detail"]["errors"]
    with schema_context("mitaka"):
        assert list(WebhookSubscription.objects.values_list("url", flat=True)) == [receiver.url]


def test_the_delivery_log_leaves_out_records_a_designer_may_only_search(
    api: Any, receiver: Receiver, enqueue: Any, city: dict[str, Any]
) -> None:
    """総務課's designer (view and design) joins 市民課, which may search the DV ledger but
    not view it; the DV record is 可 for 市民課 alone. The API reads it by id as no record
    (404) and the records list leaves it out (``LedgerPolicy.viewing``); the delivery log
    read through the search right, and named the record, its events and generations,
    outside any search screen, its reason and its audit."""
    designs_own_view(city, "clerk")
    created = api("clerk").post(WEBHOOKS, _body(receiver)).json()
    with schema_context("mitaka"):
        Membership.objects.create(
            user=city["people"]["designer"], department=city["departments"]["shimin"],
            role=Role.EDITOR, valid_from=date(2026, 4, 1),
        )  # fmt: skip
    [delivery] = enqueue("record.updated")
    # While 市民課 may view it, the designer reads the record and its delivery alike.
    before = api("designer").get(f"{WEBHOOKS}{created['id']}/deliveries/").json()["results"]
    assert [row["id"] for row in before] == [str(delivery.pk)]
    with schema_context("mitaka"):
        grants = [grant_describe(g) for g in Grant.objects.filter(ledger=city["ledger"])]
        for grant in grants:
            if grant["department"] == "shimin" and not grant["role"]:
                grant["capabilities"] = ["search"]
        grants_replace(actor=city["people"]["designer"], ledger=city["ledger"], grants=grants)
    designer = api("designer")
    assert designer.get(records_url(city["record"].pk)).status_code == 404
    log = designer.get(f"{WEBHOOKS}{created['id']}/deliveries/")
    assert log.status_code == 200
    assert log.json()["results"] == []


def test_reading_the_delivery_log_is_audited_as_a_list_of_its_records(
    api: Any, receiver: Receiver, enqueue: Any, city: dict[str, Any]
) -> None:
    """The log names records and when each was created, changed or deleted: read
    unaudited, a ledger administrator could follow a DV victim's record (a change of
    address) by polling it, and the auditors' "who looked this person up" never found it."""
    designs_own_view(city, "clerk")
    owner = api("clerk")
    created = owner.post(WEBHOOKS, _body(receiver)).json()
    enqueue("record.updated")
    log = owner.get(f"{WEBHOOKS}{created['id']}/deliveries/?status=pending")
    assert log.status_code == 200
    with schema_context("mitaka"):
        [event] = AuditEvent.objects.filter(action="record.list")
        assert event.actor_id == city["people"]["clerk"].pk
        assert event.ledger_code == "dv"
        assert event.details["records"] == [str(city["record"].pk)]
        assert event.details["via"] == "webhook.deliveries"
        assert event.details["webhook"] == created["id"]
        assert event in audit_events(record_id=city["record"].pk)
