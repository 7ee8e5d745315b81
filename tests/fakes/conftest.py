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
    FakeSlack,
    FakeUsageAPI,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def hs_client(hubspot: FakeHubSpot) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {hubspot.auth_token}"}
    with httpx.Client(base_url=hubspot.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(today=NOW.date()) as fake:
        yield fake


@pytest.fixture
def sf_client(salesforce: FakeSalesforce) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {salesforce.auth_token}"}
    with httpx.Client(base_url=salesforce.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(page_size=50) as fake:
        yield fake


@pytest.fixture
def usage_client(usage: FakeUsageAPI) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {usage.auth_token}"}
    with httpx.Client(base_url=usage.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.auth_token, base_url=slack.url, timeout=10)
