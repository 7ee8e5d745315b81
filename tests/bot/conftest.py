"""Fixtures for the end-to-end poll tests here: the fake CRMs and usage API over real HTTP
(HubSpot's burst window out of the way: these tests are about what a poll writes, not pacing;
tests/sources covers the pacing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import FakeHubSpot, FakeSalesforce, FakeUsageAPI
from tests.sources.conftest import HS_TOKEN, SF_TOKEN, USAGE_TOKEN


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as fake:
        yield fake


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(auth_token=SF_TOKEN) as fake:
        yield fake


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(auth_token=USAGE_TOKEN) as fake:
        yield fake
