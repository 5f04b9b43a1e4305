"""The operator admin on the public host: provision, suspend and resume cities."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from tenants.models import Municipality
from tests.conftest import ADMIN_PASSWORD, City

User = get_user_model()


def test_operator_lists_cities_but_not_the_platform_row(operator_client: Client) -> None:
    response = operator_client.get("/admin/tenants/municipality/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "三鷹市" in body
    assert "武蔵野市" in body
    assert "運用基盤" not in body


def test_operator_provisions_a_city_from_the_admin(operator_client: Client) -> None:
    response = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132080", "slug": "chofu", "domain": "chofu.localhost",
         "admin_username": "admin", "admin_password": ADMIN_PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert schema_exists("chofu")
    with schema_context("chofu"):
        assert User.objects.get(username="admin").is_city_admin


def test_admin_add_form_shows_the_reason_and_creates_nothing(operator_client: Client) -> None:
    response = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132081", "slug": "chofu", "domain": "chofu.localhost",
         "admin_username": "admin", "admin_password": ADMIN_PASSWORD},
    )  # fmt: skip
    assert response.status_code == 200
    assert "検査数字" in response.content.decode()
    assert not schema_exists("chofu")


def test_a_slug_that_is_an_sql_keyword_is_refused_on_the_form(operator_client: Client) -> None:
    """A city named ``user`` (or ``select``, ``all`` …) was a server error (500): the
    schema's clone wrote ``CREATE FUNCTION user.…``, which PostgreSQL cannot read."""
    response = operator_client.post(
        "/admin/tenants/municipality/add/",
        {"name": "調布市", "code": "132080", "slug": "user", "domain": "chofu.localhost",
         "admin_username": "admin", "admin_password": ADMIN_PASSWORD},
    )  # fmt: skip
    assert response.status_code == 200
    assert "予約語" in response.content.decode()
    assert not schema_exists("user")
    assert not Municipality.objects.filter(schema_name="user").exists()


def test_operator_suspends_and_resumes_with_the_actions(
    operator_client: Client, musashino: City
) -> None:
    pk = musashino.municipality.pk
    operator_client.post(
        "/admin/tenants/municipality/",
        {"action": "suspend", "_selected_action": [pk]},
    )
    assert Municipality.objects.get(pk=pk).status == "suspended"
    assert Client().get("/accounts/login/", HTTP_HOST=musashino.domain).status_code == 403
    operator_client.post(
        "/admin/tenants/municipality/",
        {"action": "resume", "_selected_action": [pk]},
    )
    assert Municipality.objects.get(pk=pk).status == "active"
    assert Client().get("/accounts/login/", HTTP_HOST=musashino.domain).status_code == 200


def test_city_staff_cannot_sign_in_to_the_operator_admin(mitaka: City) -> None:
    client = Client(HTTP_HOST="localhost")
    assert not client.login(username="admin", password=ADMIN_PASSWORD)
    assert client.get("/admin/").status_code == 302


def test_operators_have_no_delete_action(operator_client: Client, mitaka: City) -> None:
    response = operator_client.get(f"/admin/tenants/municipality/{mitaka.municipality.pk}/delete/")
    assert response.status_code == 403


def test_an_operator_account_is_deactivated_not_deleted(operator_client: Client) -> None:
    """Deleting an operator's account from the admin was a server error: Django's delete
    collector follows every foreign key to the user model, and those of the cities' tables
    (audit events, records, tokens) are not in the public schema. Operators' accounts are
    kept (deactivated, 「有効」 off), as the record of who operated: no delete, no
    「選択された 利用者 の削除」 action."""
    other = User.objects.create_superuser(username="leaving", password=ADMIN_PASSWORD, email="")
    operator_client.raise_request_exception = False
    page = operator_client.get(f"/admin/accounts/user/{other.pk}/delete/")
    assert page.status_code == 403
    listed = operator_client.get("/admin/accounts/user/")
    assert "delete_selected" not in listed.content.decode()
    deactivated = operator_client.post(
        f"/admin/accounts/user/{other.pk}/change/",
        {"username": "leaving", "display_name": "", "email": "", "is_active": "",
         "is_staff": "on", "is_superuser": "on", "date_joined_0": "2026-11-30",
         "date_joined_1": "09:00:00", "last_login_0": "", "last_login_1": ""},
    )  # fmt: skip
    assert deactivated.status_code == 302, deactivated.content.decode()[:3000]
    other.refresh_from_db()
    assert other.is_active is False


@pytest.mark.parametrize(
    ("app_label", "model", "object_id"),
    [
        ("ledgers", "record", "7d0e6a5e-4a8b-4f5e-9a57-0c4b3c2f1e01"),  # a city's table
        ("ledgers", "auditevent", "1"),
        ("ledgers", "ledger", "1"),
        ("tenants", "municipality", "1"),  # the admin's own, but it has no page on a site
        ("accounts", "user", "1"),
    ],
)
def test_the_view_on_site_shortcut_is_404_not_a_server_error(
    operator_client: Client, app_label: str, model: str, object_id: str
) -> None:
    """Django's 「サイトで表示」 shortcut (/admin/r/<content type>/<id>/) looked the object up
    in the public schema for any content type: one of a city's models (a ledger, a record,
    an audit event) has no table there, and the answer was a server error. It now answers
    404 for any model this admin does not register or that has no page on a site."""
    content_type = ContentType.objects.get(app_label=app_label, model=model)
    operator_client.raise_request_exception = False
    answer = operator_client.get(f"/admin/r/{content_type.pk}/{object_id}/")
    assert answer.status_code == 404


@pytest.mark.parametrize("content_type_id", ["999999", "99999999999999999999"])
def test_the_view_on_site_shortcut_of_no_content_type_is_404(
    operator_client: Client, content_type_id: str
) -> None:
    operator_client.raise_request_exception = False
    assert operator_client.get(f"/admin/r/{content_type_id}/1/").status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/tenants/municipality/?code=%00", None),  # a filter of the list
        ("/admin/tenants/municipality/?admin_username=a%00", None),
        ("/admin/admin/logentry/?object_id=%00", None),
        (
            "/admin/autocomplete/?app_label=tenants&model_name=domain&field_name=tenant&term=%00",
            None,
        ),
        ("/admin/tenants/municipality/", {"action": "suspend", "_selected_action": ["abc"]}),
        ("/admin/tenants/municipality/", {"action": "resume", "_selected_action": ["1\x00"]}),
        ("/admin/tenants/domain/", {"action": "delete_selected", "_selected_action": ["x"]}),
    ],
)
def test_a_malformed_request_to_the_admin_is_400_not_a_server_error(
    operator_client: Client, mitaka: City, path: str, data: dict | None
) -> None:
    """A NUL in a parameter reached PostgreSQL (which refuses it in text) and a selection
    of the list's actions that is no key was converted to one: both a server error."""
    operator_client.raise_request_exception = False
    answer = operator_client.get(path) if data is None else operator_client.post(path, data)
    assert answer.status_code == 400
    assert Municipality.objects.get(pk=mitaka.municipality.pk).status == "active"


@pytest.mark.parametrize("action", ["suspend", "resume"])
def test_an_operator_who_may_only_view_cities_cannot_suspend_or_resume_them(
    mitaka: City, action: str
) -> None:
    """Django offers an action that names no permission to whoever opens the list: an
    operator given only 「自治体の閲覧」 (support staff) suspended every city at once (its
    staff locked out) or resumed one an administrator had suspended. The actions are now
    for operators who may change cities; to the others they are neither listed nor run."""
    from django.contrib.auth.models import Permission

    municipality = Municipality.objects.get(pk=mitaka.municipality.pk)
    if action == "resume":
        Municipality.objects.filter(pk=municipality.pk).update(status="suspended")
    before = Municipality.objects.get(pk=municipality.pk).status
    viewer = User.objects.create_user(username="viewer", password=ADMIN_PASSWORD, is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_municipality"))
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="viewer", password=ADMIN_PASSWORD)
    listed = client.get("/admin/tenants/municipality/")
    assert listed.status_code == 200
    assert f'value="{action}"' not in listed.content.decode()
    client.post(
        "/admin/tenants/municipality/", {"action": action, "_selected_action": [municipality.pk]}
    )
    assert Municipality.objects.get(pk=municipality.pk).status == before
