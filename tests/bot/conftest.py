"""Fixtures for the poll tests here: the fake CRMs and usage API over real HTTP (HubSpot's burst
window out of the way: these tests are about what a poll writes, not pacing; tests/sources
covers the pacing), and re-scoring in helper processes however small the queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.poll import parallel
from tests.fakes import FakeHubSpot
from tests.sources.conftest import HS_TOKEN
from tests.sources.conftest import salesforce as salesforce  # the same fakes as there
from tests.sources.conftest import usage as usage


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as fake:
        yield fake


@pytest.fixture
def helper_starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Re-scoring goes to helper processes even for a small queue; the list collects how many
    helpers each re-score started."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    started: list[int] = []
    real = parallel.score_in_parallel

    def counting(*args: Any, **kwargs: Any) -> None:
        started.append(kwargs["helpers"])
        real(*args, **kwargs)

    monkeypatch.setattr("bot.poll.run.score_in_parallel", counting)
    return started
