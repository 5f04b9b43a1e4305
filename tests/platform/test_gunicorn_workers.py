"""What gunicorn refuses before Django sees it is answered in the API's error shape under
/api/, and neither the answer nor the log quotes the request (``daicho.gunicorn_workers``).

gunicorn's own ``handle_error`` answered an over-long request line (414), too many or too
large header fields (431) and a malformed request line, header or version (400) with an
English HTML page quoting the offending line or header, and logged it: the request line
with its query string (a list filter holds a name), a header line with its value (an
``Authorization`` line without its colon holds the token). A real gunicorn serves the
application on 127.0.0.1 here, with the worker class and logger of infra/entrypoint.sh,
once with one thread (gunicorn's sync worker) and once with two (its gthread worker); raw
sockets send what no HTTP client library would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from gunicorn.config import Config
from gunicorn.glogging import Logger

from daicho import gunicorn_workers

# The server reads the test database (the module's tests ask for it, so that it is made).
pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a request may carry that must not be written back or logged.
NAME_QUERY = "name__contains=%E5%B1%B1%E7%94%B0&kana=yamada"
SECRET = "dch_0a1b2c3d4e5f_SeCrEtSeCrEtSeCrEt"
QUOTED = ("yamada", "%E5%B1%B1", "山田", "name__contains", "SeCrEt", "dch_")
API_PATH = "/api/v1/ledgers/dv/records/"
HOST = "mitaka.localhost"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    address: tuple[str, int]
    logs: list[Path]

    def exchange(self, raw: bytes, *, half_close: bool = False) -> bytes:
        """Send ``raw`` on a new connection (then, with ``half_close``, say it has no more to
        send) and read what comes back until the server closes it."""
        with socket.create_connection(self.address, timeout=30) as conn:
            conn.sendall(raw)
            if half_close:
                conn.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        return data

    def send(self, raw: bytes) -> Answer:
        """The answer to ``raw``."""
        head, _, body = self.exchange(raw).partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        return Answer(int(status_line.split()[1]), headers, body)

    def log(self) -> str:
        return "".join(path.read_text(encoding="utf-8") for path in self.logs)


@pytest.fixture(scope="module", params=[1, 2], ids=["sync", "gthread"])
def server(
    request: Any, tmp_path_factory: pytest.TempPathFactory, cities: dict[str, Any]
) -> Iterator[Server]:
    """gunicorn serving the application on the test database (Mitaka committed there) with
    one worker process of ``param`` threads, as infra/entrypoint.sh starts it (its worker
    and logger classes, its access format), the log at debug level. It listens on a socket
    made here and handed over (``fd://``): connections wait in its backlog until the
    worker is up, and no port is guessed."""
    threads = request.param
    where = tmp_path_factory.mktemp(f"gunicorn-{threads}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    logs = [where / "error.log", where / "access.log"]
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
        "DATABASE_URL": urlsplit(settings.DATABASE_URL)
        ._replace(path=f"/{connection.settings_dict['NAME']}").geturl(),
        "REDIS_URL": settings.REDIS_URL,
    }  # fmt: skip
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "daicho.wsgi:application",
            "--bind", f"fd://{listener.fileno()}", "--workers", "1", "--threads", str(threads),
            "--worker-class", "daicho.gunicorn_workers.Worker",
            "--logger-class", "daicho.logs.GunicornLogger",
            "--access-logformat", '%({host}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms',
            "--error-logfile", str(logs[0]), "--access-logfile", str(logs[1]),
            "--log-level", "debug", "--no-control-socket",
        ],
        cwd=REPO_ROOT, env=env, pass_fds=[listener.fileno()], start_new_session=True,
    )  # fmt: skip
    try:
        yield Server(listener.getsockname(), logs)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        listener.close()


def _request(line: str, *headers: str) -> bytes:
    return "\r\n".join([line, f"Host: {HOST}", *headers, "", ""]).encode("latin-1")


REFUSED = {
    # gunicorn's limit_request_line: 4,094 bytes.
    "line too long": (
        _request(f"GET {API_PATH}?{NAME_QUERY}&pad={'x' * 5000} HTTP/1.1"),
        414, "ERROR_URI_TOO_LONG", "LimitRequestLine (5",
    ),
    # limit_request_fields: 100.
    "too many headers": (
        _request(f"GET {API_PATH}?{NAME_QUERY} HTTP/1.1", *(f"X-Field-{i}: {SECRET}" for i in range(101))),
        431, "ERROR_HEADERS_TOO_LARGE", "LimitRequestHeaders (limit request headers fields) GET /api/",
    ),
    # limit_request_field_size: 8,190 bytes.
    "header too large": (
        _request(f"GET {API_PATH}?{NAME_QUERY} HTTP/1.1", f"Authorization: Bearer {SECRET}{'x' * 9000}"),
        431, "ERROR_HEADERS_TOO_LARGE", "(limit request headers fields size) GET /api/",
    ),
    # A header line without its colon: gunicorn quoted the whole line, the token with it.
    "header malformed": (
        _request(f"GET {API_PATH}?{NAME_QUERY} HTTP/1.1", f"Authorization Bearer {SECRET}"),
        400, "ERROR_REQUEST_MALFORMED", "InvalidHeader GET /api/v1/ledgers/dv/records/",
    ),
    "version invalid": (
        _request(f"GET {API_PATH}?{NAME_QUERY} HTTP/3.0", f"Authorization: Bearer {SECRET}"),
        400, "ERROR_REQUEST_MALFORMED", "InvalidHTTPVersion GET /api/v1/ledgers/dv/records/",
    ),
    # No version: the line cannot be read, so where it was going is not known.
    "line malformed": (
        _request(f"GET {API_PATH}?{NAME_QUERY}", f"Authorization: Bearer {SECRET}"),
        400, "ERROR_REQUEST_MALFORMED", "InvalidRequestLine",
    ),
    "method invalid": (
        _request(f"G(E)T {API_PATH}?{NAME_QUERY} HTTP/1.1"),
        400, "ERROR_REQUEST_MALFORMED", "InvalidRequestMethod",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED)
def test_a_request_gunicorn_refuses_under_the_api_is_answered_in_the_error_shape(
    server: Server, case: str
) -> None:
    raw, status, code, logged = REFUSED[case]
    answer = server.send(raw)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"code", "message", "detail"}
    assert answer.json()["code"] == code
    assert answer.json()["detail"] == {}
    assert re.search(r"[ぁ-んァ-ン一-龥]", answer.json()["message"])  # Japanese
    # The API's headers: kept by no cache (ApiNoStoreMiddleware), Django's security ones.
    assert "no-store" in answer.headers["cache-control"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["connection"] == "close"
    assert int(answer.headers["content-length"]) == len(answer.body)
    text = answer.body.decode("utf-8") + json.dumps(answer.headers)
    for quoted in QUOTED:
        assert quoted not in text
    # The refusal is logged, by its kind and the path gunicorn read (no query string).
    assert f"Invalid request from ip=127.0.0.1: {status} " in server.log()
    assert logged in server.log()


@pytest.mark.parametrize(
    "path", ["/%61pi/v1/staff/", "//api/v1/staff/", "/api/v1/%E5%B1%B1%E7%94%B0/"]
)
def test_a_path_under_the_api_is_recognised_as_django_will_read_it(
    server: Server, path: str
) -> None:
    answer = server.send(_request(f"GET {path} HTTP/1.1", f"Authorization {SECRET}"))
    if path.startswith("//"):  # not under /api/ for Django either: a page's answer
        assert answer.headers["content-type"] == "text/html"
    else:
        assert answer.json()["code"] == "ERROR_REQUEST_MALFORMED"
    assert SECRET.encode() not in answer.body


def test_a_pages_refusal_stays_gunicorns_page_without_the_request_in_it(server: Server) -> None:
    answer = server.send(
        _request(f"GET /accounts/login/?next=/search/%3F{NAME_QUERY} HTTP/1.1", f"Cookie {SECRET}")
    )
    assert answer.status == 400
    assert answer.headers["content-type"] == "text/html"
    assert b"Bad Request" in answer.body
    for quoted in QUOTED:
        assert quoted.encode() not in answer.body
    assert "400 InvalidHeader GET /accounts/login/" in server.log()


def test_nothing_the_refused_requests_carried_is_in_the_log(server: Server) -> None:
    """The error and access logs (at debug level), after every refusal above and a client
    that left halfway through its request line (gunicorn wrote the bytes it had read:
    "Ignored premature client disconnection. No more data after: b'GET /api/…?…'")."""
    for raw, *_ in REFUSED.values():
        server.send(raw)
    assert server.exchange(f"GET {API_PATH}?{NAME_QUERY} HTT".encode(), half_close=True) == b""
    log = server.log()
    assert "Invalid request from ip=127.0.0.1: 414 LimitRequestLine" in log
    assert "Ignored premature client disconnection. NoMoreData" in log
    # The access lines of the refusals whose path was read: the path, no query string (and
    # no host: the headers were refused).
    assert f'- "GET {API_PATH} HTTP/1.1" 431' in log
    assert f'- "GET {API_PATH} HTTP/3.0" 400' in log
    for quoted in QUOTED:
        assert quoted not in log


def test_the_worker_still_serves_the_application(server: Server) -> None:
    answer = server.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert answer.status == 200


def test_a_request_django_answers_is_logged_without_its_query_or_a_typed_name(
    server: Server,
) -> None:
    """The access line, and at debug level gunicorn's own line of each request's method and
    path (its ``pre_request`` hook), name the path without its query string and without a
    segment that is not plain ASCII (a name typed where the id goes)."""
    answer = server.send(
        _request(f"GET {API_PATH}%E5%B1%B1%E7%94%B0/?{NAME_QUERY} HTTP/1.1", "Connection: close")
    )
    assert answer.status == 401  # no token: the API's answer, from Django
    log = server.log()
    assert f'{HOST} "GET {API_PATH}…/ HTTP/1.1" {answer.status}' in log
    assert f"[DEBUG] GET {API_PATH}…/" in log
    for quoted in QUOTED:
        assert quoted not in log


@pytest.mark.parametrize(("threads", "kind"), [(1, "SyncWorker"), (2, "ThreadWorker")])
def test_the_worker_is_gunicorns_own_choice_for_the_threads(threads: int, kind: str) -> None:
    """gunicorn runs its gthread worker for ``sync`` with threads; ``Worker`` does the same
    with ours (a class whose name ends in SyncWorker would be swapped for gunicorn's own
    gthread worker, without our handle_error)."""
    config = Config()
    config.set("threads", threads)
    config.set("worker_class", "daicho.gunicorn_workers.Worker")
    assert config.worker_class is gunicorn_workers.Worker
    worker = config.worker_class(0, os.getpid(), [], None, 30, config, Logger(config))
    assert type(worker) is getattr(gunicorn_workers, kind)
    assert isinstance(worker, gunicorn_workers.ApiErrorsMixin)


def test_a_chunked_body_reaches_the_api_as_411_not_as_an_empty_body(server: Server) -> None:
    """gunicorn dechunks the body but passes it on without a Content-Length, and Django
    read it as empty (a PATCH changed nothing and answered 200):
    ``ledgers.api.middleware.ApiUrlCheckMiddleware`` answers 411 before any view."""
    body = b'{"values": {"name": "x"}}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    raw = _request(
        f"POST {API_PATH} HTTP/1.1", "Content-Type: application/json",
        "Transfer-Encoding: chunked", "Connection: close",
    ) + chunked  # fmt: skip
    answer = server.send(raw)
    assert answer.status == 411, answer.body[:300]
    assert answer.headers["transfer-encoding"] == "chunked"  # the answer: no length either
    size, _, rest = answer.body.partition(b"\r\n")
    assert json.loads(rest[: int(size, 16)])["code"] == "ERROR_LENGTH_REQUIRED"
