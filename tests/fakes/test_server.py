"""Tests of the shared fake machinery (server, faults, synthetic data) over real HTTP."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import pytest

from tests.fakes import (
    FakeUsageAPI,
    synthetic_accounts,
)
from tests.fakes.conftest import NOW


def test_binds_loopback_ephemeral_port_and_records_requests(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    assert usage.url.startswith("http://127.0.0.1:")
    assert usage.port > 0
    usage_client.get("/accounts", params={"limit": 5})
    method, path, query, headers, body = usage.requests[-1]
    assert (method, path, query) == ("GET", "/accounts", {"limit": "5"})
    assert headers["authorization"] == f"Bearer {usage.auth_token}"
    assert body == b""
    assert usage.request_count == 1


def test_keep_alive_many_requests_one_connection(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    usage.populate(10, seed=1, now=NOW)
    for _ in range(50):
        assert usage_client.get("/accounts").status_code == 200
    assert usage.request_count == 50
    assert not usage.errors


def test_fail_after_n_successes_then_recovers(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    usage.populate(10, seed=1, now=NOW)
    usage.fail_after(3, "/accounts", status=502)
    statuses = [usage_client.get("/accounts").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 502, 200]


def test_delay_fault_causes_client_timeout(usage: FakeUsageAPI) -> None:
    usage.inject("/accounts", delay=5.0)
    headers = {"Authorization": f"Bearer {usage.auth_token}"}
    with httpx.Client(base_url=usage.url, headers=headers, timeout=0.3) as client:
        with pytest.raises(httpx.TimeoutException):
            client.get("/accounts")
        # the fault was consumed; the next call is served normally
        assert client.get("/accounts").status_code == 200


def test_drop_fault_closes_connection(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    usage.inject("/accounts", drop=True)
    with pytest.raises(httpx.TransportError):
        usage_client.get("/accounts")
    assert usage_client.get("/accounts").status_code == 200


def test_stop_does_not_hang_on_pending_delay() -> None:
    fake = FakeUsageAPI().start()
    fake.inject("/", delay=30.0)
    started = time.monotonic()
    with httpx.Client(base_url=fake.url, timeout=5) as client:

        def call() -> None:
            with contextlib.suppress(httpx.HTTPError):
                client.get("/accounts")

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.2)
        fake.stop()
        t.join(5)
    assert time.monotonic() - started < 5


def test_synthetic_accounts_deterministic() -> None:
    a = synthetic_accounts(50, seed=7, now=NOW)
    b = synthetic_accounts(50, seed=7, now=NOW)
    assert a == b
    assert len({x.domain for x in a}) == 50
    assert any(x.seats_used > x.seats_purchased for x in a)
