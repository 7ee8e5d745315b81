"""The shared HTTP client over real HTTP: retries, Retry-After, timeouts, auth errors."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sources.config_base import HttpConfig
from sources.http import AuthError, HttpClient, RequestFailed, retry_after
from tests.fakes import FakeUsageAPI
from tests.sources.conftest import FAST, USAGE_TOKEN, Sleeps


def client(fake: FakeUsageAPI, sleeps: Sleeps | None = None, **overrides: float) -> HttpClient:
    config = FAST.model_copy(update=overrides) if overrides else FAST
    return HttpClient(fake.url, name="Usage API", token=USAGE_TOKEN, config=config, sleep=sleeps)


def test_502_then_success(usage: FakeUsageAPI) -> None:
    usage.populate(3)
    usage.inject("/accounts", status=502)
    with client(usage) as http:
        data = http.get_json("/accounts")
    assert len(data["data"]) == 3
    assert usage.request_count == 2


def test_429_waits_for_retry_after(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    usage.populate(3)
    usage.rate_limit(retry_after=3)
    with client(usage, sleeps) as http:
        http.get_json("/accounts")
    assert usage.request_count == 2
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.3  # Retry-After, plus a little jitter


def test_timeout_is_retried(usage: FakeUsageAPI) -> None:
    usage.populate(2)
    usage.inject("/accounts", delay=1.5)  # one slow answer, longer than the 0.5 s timeout
    with client(usage) as http:
        assert len(http.get_json("/accounts")["data"]) == 2
    assert usage.request_count == 2


def test_dropped_connection_is_retried(usage: FakeUsageAPI) -> None:
    usage.populate(2)
    usage.inject("/accounts", drop=True)
    with client(usage) as http:
        assert len(http.get_json("/accounts")["data"]) == 2


def test_connection_reused(usage: FakeUsageAPI) -> None:
    usage.populate(2)
    with client(usage) as http:
        for _ in range(5):
            http.get_json("/accounts")
        assert len(usage._conns) == 1  # five requests, one kept-alive connection


def test_gives_up_with_a_clear_message(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    usage.inject("/accounts", status=503, times=None)
    with client(usage, sleeps) as http, pytest.raises(RequestFailed) as caught:
        http.get_json("/accounts")
    assert usage.request_count == FAST.max_attempts
    assert "failed after 4 attempts: HTTP 503" in str(caught.value)
    assert len(sleeps) == FAST.max_attempts - 1
    assert sleeps == sorted(sleeps) or max(sleeps) <= FAST.backoff_max_seconds  # backs off


def test_backoff_is_exponential_with_jitter(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    usage.inject("/accounts", status=500, times=None)
    with (
        client(usage, sleeps, backoff_initial_seconds=1, backoff_max_seconds=100) as http,
        pytest.raises(RequestFailed),
    ):
        http.get_json("/accounts")
    for attempt, wait in enumerate(sleeps, 1):
        base = 2 ** (attempt - 1)
        assert base / 2 <= wait <= base


def test_retry_after_longer_than_allowed_stops(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    usage.rate_limit(retry_after=3600)
    with client(usage, sleeps) as http, pytest.raises(RequestFailed) as caught:
        http.get_json("/accounts")
    assert sleeps == []
    assert "asked to wait" in str(caught.value)


def test_401_is_an_auth_error_without_the_token(usage: FakeUsageAPI) -> None:
    http = HttpClient(usage.url, name="Usage API", token="expired-secret-123", config=FAST)
    with http, pytest.raises(AuthError) as caught:
        http.get_json("/accounts")
    assert usage.request_count == 1  # no retries on bad credentials
    assert "rejected the access token" in str(caught.value)
    assert "expired-secret-123" not in str(caught.value)
    assert "expired-secret-123" not in repr(http)


def test_error_body_echoing_the_token_is_scrubbed(usage: FakeUsageAPI) -> None:
    usage.inject("/accounts", status=400, body={"error": f"bad token {USAGE_TOKEN}"})
    with client(usage) as http, pytest.raises(RequestFailed) as caught:
        http.get_json("/accounts")
    assert USAGE_TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_not_json_is_a_clear_error(usage: FakeUsageAPI) -> None:
    usage.inject("/accounts", status=200, body="<html>maintenance</html>")
    with client(usage) as http, pytest.raises(RequestFailed) as caught:
        http.get_json("/accounts")
    assert "not JSON" in str(caught.value)


def test_retry_after_parsing() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(response("7")) == 7.0
    assert retry_after(response("0.5")) == 0.5
    when = datetime.now(UTC) + timedelta(seconds=30)
    parsed = retry_after(response(email.utils.format_datetime(when, usegmt=True)))
    assert parsed is not None and 25 <= parsed <= 31
    assert retry_after(response("soon")) is None
    assert retry_after(httpx.Response(429)) is None


def test_pacing_spaces_requests(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    http = HttpClient(usage.url, name="x", token=None, config=HttpConfig(), sleep=sleeps)
    http.pace("search", 0.25)
    http.pace("search", 0.25)
    assert len(sleeps) == 1 and 0.2 <= sleeps[0] <= 0.25
    http.close()
