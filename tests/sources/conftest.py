"""Fixtures for source tests: the local fakes over real HTTP, and fast retry settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest

from sources.config import UsageConfig, UsageMetric
from sources.config_base import HttpConfig
from tests.fakes import FakeHubSpot, FakeSalesforce, FakeUsageAPI

HS_TOKEN = "pat-na1-fake-token"
SF_TOKEN = "00DFAKE0000000001!AQ0AQFakeSessionToken"
USAGE_TOKEN = "usage-test-token"
TODAY = date(2026, 11, 22)

# Real retries and timeouts, scaled down so the suite stays fast.
FAST = HttpConfig(
    timeout_seconds=0.5,
    connect_timeout_seconds=0.5,
    max_attempts=4,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    max_retry_after_seconds=5,
    rate_limit_wait_seconds=0.01,
)

USAGE_METRICS = UsageConfig(
    metrics={
        "api_calls": UsageMetric(usage="usage.api_calls_30d", limit="limits.api_calls_per_month"),
        "storage_gb": UsageMetric(usage="usage.storage_gb", limit="limits.storage_gb"),
    }
)


class Sleeps(list[float]):
    """A ``sleep`` that records the waits instead of waiting (Retry-After of seconds)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(auth_token=HS_TOKEN) as fake:
        yield fake


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(auth_token=SF_TOKEN) as fake:
        yield fake


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(auth_token=USAGE_TOKEN) as fake:
        yield fake


@contextmanager
def hubspot_and_usage(
    accounts: int, seed: int, *, hubspot_token: str = HS_TOKEN, usage_token: str = USAGE_TOKEN
) -> Iterator[tuple[FakeHubSpot, FakeUsageAPI]]:
    """A fake HubSpot (its burst window out of the way) and usage API holding the same
    ``accounts`` synthetic accounts, for a poll of both."""
    with (
        FakeHubSpot(auth_token=hubspot_token, burst_limit=100_000) as hubspot,
        FakeUsageAPI(auth_token=usage_token) as usage,
    ):
        hubspot.populate(accounts, seed=seed)
        usage.populate(accounts, seed=seed)
        yield hubspot, usage
