"""Fixtures shared by the tests of the fake servers: one running fake and a client for each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from slack_sdk import WebClient

from tests.fakes import (
    FakeHubSpot,
    FakeSalesforce,
    FakeServer,
    FakeSlack,
    FakeUsageAPI,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def client_of(fake: FakeServer) -> httpx.Client:
    """An HTTP client of ``fake``, sending its token as a bearer token."""
    headers = {"Authorization": f"Bearer {fake.auth_token}"}
    return httpx.Client(base_url=fake.url, headers=headers, timeout=10)


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def hs_client(hubspot: FakeHubSpot) -> Iterator[httpx.Client]:
    with client_of(hubspot) as client:
        yield client


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(today=NOW.date()) as fake:
        yield fake


@pytest.fixture
def sf_client(salesforce: FakeSalesforce) -> Iterator[httpx.Client]:
    with client_of(salesforce) as client:
        yield client


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(page_size=50) as fake:
        yield fake


@pytest.fixture
def usage_client(usage: FakeUsageAPI) -> Iterator[httpx.Client]:
    with client_of(usage) as client:
        yield client


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.auth_token, base_url=slack.url, timeout=10)
