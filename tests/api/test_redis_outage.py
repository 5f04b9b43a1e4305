"""The API while Redis fails: requests are answered from the database, a hung Redis costs
a process one timeout rather than one per request, and no security control that lives in
the database lets anything by (tests/conftest.py ``redis_down``)."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import records_url
from tests.conftest import SilentServer


def test_a_hung_redis_costs_a_process_one_timeout_not_one_per_request(
    api: Any, city: dict[str, Any], hung_redis: SilentServer
) -> None:
    """Found by the review of degraded dependencies: every request asked Redis for the
    cache generations (and the API's rate counters) and waited out the socket timeout
    (redis-py's 5 s) each time, two or three times a request: a Redis that hangs made every
    page and call take 10 s or more, and the web's workers were soon all waiting. After a
    failure a process leaves Redis alone for ``REDIS_SKIP_SECONDS``: requests then are
    answered from the database at once."""
    clerk = api("clerk")
    assert clerk.get(records_url(city["record"].pk)).status_code == 200
    sent = hung_redis.received
    started = time.monotonic()
    answers = [clerk.get(records_url(city["record"].pk)).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert hung_redis.received == sent  # nothing more was asked of the hung server
    assert time.monotonic() - started < 0.5 * 3  # nor waited on once per request
