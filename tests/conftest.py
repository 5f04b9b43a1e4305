"""Test fixtures: two cities provisioned once per session in the test database.

Everything runs against real PostgreSQL and Redis (the URLs from the environment, or the
embedded servers). Cities are committed once; each test runs in a transaction that is
rolled back, so tests may write freely inside ``schema_context``.
"""

from __future__ import annotations

import copy
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from daicho.accounts.models import Department
from ledgers.api.tokens.services import token_issue
from ledgers.audit.services import audit_seal
from tenants.models import Municipality
from tenants.services import municipality_provision

ADMIN_PASSWORD = "S3cret!pass-for-tests"


@dataclass(frozen=True)
class City:
    slug: str
    name: str
    code: str
    domain: str

    @property
    def municipality(self) -> Municipality:
        return Municipality.objects.get(schema_name=self.slug)


MITAKA = City("mitaka", "三鷹市", "132047", "mitaka.localhost")
MUSASHINO = City("musashino", "武蔵野市", "132039", "musashino.localhost")
#: A city whose rows commit, for requests on threads of their own (``fuchu``).
FUCHU = City("fuchu", "府中市", "132063", "fuchu.localhost")


def test_database_url() -> str:
    """``DATABASE_URL`` for a process of its own on the database the tests run on (its
    password too: the embedded PostgreSQL wants one over TCP)."""
    settings = connection.settings_dict
    user = quote(settings["USER"]) + (
        f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    )
    return (
        f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        f"/{settings['NAME']}"
    )


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def provision(city: City, *, changed_password: bool = True) -> None:
    """Provision ``city`` with the test administrator (committed when the caller unblocks
    the database: session and module fixtures of cities of their own). With
    ``changed_password`` the administrator is taken to have changed the password the
    operator typed already (``User.must_change_password`` cleared), as every city in use
    has; ``tests/accounts/test_operator_boundary.py`` covers the first sign-in. The trail's
    first event (``operator.municipality_provisioned``) is sealed, as the beat does within
    30 s: a test counting what a sealing pass seals counts its own events."""
    municipality_provision(
        actor=None, slug=city.slug, name=city.name, code=city.code,
        domain=city.domain, admin_username="admin", admin_password=ADMIN_PASSWORD,
    )  # fmt: skip
    audit_seal(schema=city.slug)
    if changed_password:
        with schema_context(city.slug):
            get_user_model().objects.filter(username="admin").update(must_change_password=False)


def fuchu_client(user: Any) -> APIClient:
    """A client on Fuchu's host with a token of ``user``'s own (each writer its own)."""
    with schema_context(FUCHU.slug):
        token = token_issue(actor=user, user=user, scopes=["*"]).token
    client = APIClient(HTTP_HOST=FUCHU.domain)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def first_holds(schema: str, insert: Callable[[], Any], then: Callable[[], Any]) -> Any:
    """``insert`` in a transaction of its own on another thread (in ``schema``), kept open
    until ``then`` (on this thread, in ``schema``) has passed every check and waits on a
    unique index behind it; what ``then`` raised or answered. The connection is back on
    public after."""
    inserted, go = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with schema_context(schema), transaction.atomic():
                insert()
                inserted.set()
                assert go.wait(timeout=10)
        finally:
            inserted.set()
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert inserted.wait(timeout=10)
    threading.Timer(0.5, go.set).start()  # while ``then`` waits on the index
    try:
        with schema_context(schema):
            return then()
    except Exception as exc:
        return exc
    finally:
        holder.join(timeout=10)
        connection.set_schema_to_public()


def queued_behind(hold: Callable[[], Any], sends: list[Callable[[], Any]]) -> list[Any]:
    """Run each of ``sends`` (a request) on a thread of its own while ``hold``, in a
    transaction in Fuchu on another thread, holds a lock; let it go once all of them wait
    on a lock (or after ten seconds: a write that takes none does not wait); their answers,
    in the order they came. A check made before the lock, which every sender passes while
    none has written, is caught every time, not only when the threads happen to meet."""
    held, go = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with schema_context(FUCHU.slug), transaction.atomic():
                hold()
                held.set()
                assert go.wait(timeout=20)
        finally:
            held.set()
            connection.close()

    answers: list[Any] = []

    def sender(send: Callable[[], Any]) -> None:
        try:
            answers.append(send())
        finally:
            connection.close()

    holding = threading.Thread(target=holder)
    holding.start()
    assert held.wait(timeout=10)
    threads = [threading.Thread(target=sender, args=(send,)) for send in sends]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while _waiting_on_locks() < len(sends) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.set()
    for thread in [holding, *threads]:
        thread.join(timeout=30)
    return answers


def _asks_for_the_database(item: pytest.Item) -> bool:
    """Whether pytest-django sets up the test database for ``item`` (its rule: a
    ``django_db`` mark or the ``db``, ``transactional_db`` or ``live_server`` fixture)."""
    names = getattr(item, "fixturenames", ())
    return item.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(names)
    )


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: Any, django_db_keepdb: bool, request: Any
) -> Iterator[None]:
    """pytest-django's, and the test database in every run that touches a database.

    pytest-django sets up only the databases the collected tests ask for by its rule
    (``_asks_for_the_database``). A module whose tests commit through fixtures of their own
    (``django_db_blocker``: a city on threads with connections of their own) asks for none,
    and run by itself it wrote into the database ``DATABASE_URL`` names, a developer's own
    (``make run``'s), there finding no tables. Such a run gets the test database here."""
    from django.test.utils import setup_databases, teardown_databases

    if any(_asks_for_the_database(item) for item in request.session.items):
        yield
        return
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose, interactive=False,
            aliases={"default"}, keepdb=django_db_keepdb,
        )  # fmt: skip
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def cities(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> dict[str, City]:
    """Mitaka and Musashino, provisioned (and committed) once for the whole session."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for city in (MITAKA, MUSASHINO):
            provision(city)
    return {"mitaka": MITAKA, "musashino": MUSASHINO}


@pytest.fixture(scope="session")
def fuchu(django_db_setup: None, django_db_blocker: Any) -> None:
    """Fuchu with a 市民課, provisioned and committed once: real threads on connections of
    their own see its rows (the other tests' rows roll back). Whatever a test adds there
    stays for the session: usernames of their own per test."""
    with django_db_blocker.unblock():
        provision(FUCHU)
        with schema_context(FUCHU.slug):
            Department.objects.create(code="shimin", name="市民課")
        connection.set_schema_to_public()


@pytest.fixture
def mitaka(cities: dict[str, City], db: None) -> City:
    return cities["mitaka"]


@pytest.fixture
def musashino(cities: dict[str, City], db: None) -> City:
    return cities["musashino"]


@pytest.fixture(autouse=True)
def _no_failed_sign_ins_by_address() -> None:
    """Failed sign-ins per client address live in Redis, which no test's rollback takes
    back: every test starts with none (else the suite's failures from 127.0.0.1 would
    add up to a lock of the address some later test signs in from). So do the token
    endpoint's requests per address (``AuthRateThrottle``, 20 a minute): the suite's token
    requests from 127.0.0.1 in one minute answered a later test 429 (its key begins with
    the schema; ``throttle_auth_`` in the keys of the release before)."""
    from django.conf import settings

    from daicho.caching import redis_client

    client = redis_client()
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    keys = [
        key
        for pattern in (
            f"{prefix}:signin:*",
            f"*:{prefix}:*throttle_auth_*",
            f"*:{prefix}:*api_rate_auth_*",
        )
        for key in client.scan_iter(match=pattern, count=1000)
    ]
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _back_to_public() -> Iterator[None]:
    """Every test starts and ends on the public schema, as a fresh request would."""
    yield
    connection.set_schema_to_public()


@pytest.fixture
def operator_client(cities: dict, db: None) -> Any:
    """An operator (a public-schema superuser) signed in to the operators' admin."""
    from django.test import Client

    get_user_model().objects.create_superuser(
        username="operator", password=ADMIN_PASSWORD, email=""
    )
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="operator", password=ADMIN_PASSWORD)
    return client


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 server (moto), started once for the tests that ask for it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes."""
    (handler,) = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    out = io.StringIO()
    before = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(before)


@pytest.fixture
def redis_down() -> Iterator[None]:
    """Redis refuses every connection and command for the test, in every thread: the
    cache's client, the generation counters, the locks and the Celery broker alike (all
    redis-py). Only the third-party client is patched: our code meets the error it would
    meet with Redis stopped. After it, the process asks Redis again at once (it would after
    ``daicho.caching.REDIS_SKIP_SECONDS``)."""
    from unittest import mock

    import redis

    from daicho.caching import redis_failure_forget

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise redis.ConnectionError("Error 111 connecting to redis. Connection refused.")

    connection_class = redis.connection.AbstractConnection
    try:
        with (
            mock.patch.object(connection_class, "connect", refuse),
            mock.patch.object(connection_class, "send_packed_command", refuse),
        ):
            yield
    finally:
        redis_failure_forget()


class SilentServer:
    """A server on a free port that accepts connections and never answers (a Redis stuck
    in a fork, a database behind a network path that drops replies): what it was sent,
    counted."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.received = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self._held.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def close(self) -> None:
        self.server.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def hung_redis() -> Iterator[SilentServer]:
    """The cache's Redis replaced by a ``SilentServer`` (half a second's socket timeout)."""
    from django.conf import settings
    from django.test import override_settings

    from daicho import caching

    hung = SilentServer()
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{hung.port}/0"
    caches["default"]["OPTIONS"] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    try:
        with override_settings(CACHES=caches):
            caching.redis_client.cache_clear()
            yield hung
    finally:
        caching.redis_client.cache_clear()
        caching.redis_failure_forget()
        hung.close()
