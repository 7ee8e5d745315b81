"""The client-side rolling window: on a virtual clock, then against a fake HubSpot that
enforces its burst limit for real (429 TEN_SECONDLY_ROLLING, no Retry-After)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.base import dump_cursor
from sources.crm_config import HubSpotConfig
from sources.hubspot import HubSpotSource
from sources.ratelimit import RollingWindow
from tests.fakes import FakeHubSpot
from tests.sources.conftest import FAST, HS_TOKEN, TODAY

# -- the window on a virtual clock ---------------------------------------------------------


class Clock:
    """Virtual time: sleeping moves it on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def window(clock: Clock, limit: int = 3, seconds: float = 10.0) -> RollingWindow:
    return RollingWindow(limit, seconds, clock=clock, sleep=clock.sleep)


def request(win: RollingWindow, clock: Clock, takes: float = 0.0) -> float:
    """One request that takes ``takes`` seconds to answer; returns when it was sent."""
    win.acquire()
    sent = clock.now
    clock.now += takes
    win.release()
    return sent


def test_the_window_lets_a_burst_through_then_waits_for_the_oldest_slot(clock: Clock) -> None:
    win = window(clock)
    sent = [request(win, clock, takes=0.5) for _ in range(5)]
    # Three at once (each answered 0.5 s later); the fourth waits until the first answer is
    # a full window old, the fifth until the second's is.
    assert sent == [1000.0, 1000.5, 1001.0, 1010.5, 1011.0]


def test_a_slot_counts_from_the_answer_not_the_send(clock: Clock) -> None:
    win = window(clock, limit=1, seconds=1.0)
    request(win, clock, takes=0.4)  # sent at 1000.0, answered at 1000.4
    assert request(win, clock) == pytest.approx(1001.4)


def test_headers_resize_the_window_and_count_what_others_spent(clock: Clock) -> None:
    win = window(clock, limit=3)
    win.acquire()
    win.update(limit=5, window=2.0, remaining=4)  # the answer to this very request
    win.release()
    assert (win.limit, win.window) == (5, 2.0)
    assert [request(win, clock) for _ in range(4)] == [1000.0] * 4  # 5 per 2 s now

    clock.now = 1003.0  # the window has passed: one request of ours in it, then
    win.acquire()
    win.update(limit=5, window=2.0, remaining=0)  # the API says all 5 are spent:
    win.release()
    # another process spent them; counted as spent just now, so the wait is a window
    assert request(win, clock) == pytest.approx(1005.0)


def test_a_429_holds_everything_back_for_the_window(clock: Clock) -> None:
    win = window(clock, limit=100, seconds=10.0)
    request(win, clock)
    assert win.saturate() == 10.0
    assert request(win, clock) == pytest.approx(1010.0)
    assert win.saturate(2.5) == 2.5  # a shorter wait when one is configured
    assert request(win, clock) == pytest.approx(1012.5)


def test_queued_requests_take_successive_slots(clock: Clock) -> None:
    win = window(clock, limit=2, seconds=10.0)
    request(win, clock, takes=1.0)
    request(win, clock, takes=1.0)  # answered at 1001 and 1002
    win.acquire()  # waits for the first slot: 1011
    win.acquire()  # queued behind it, waits for the second: 1012 (not 1011 again)
    assert clock.slept == [9.0, 1.0]


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 12),
    seconds=st.floats(0.5, 20.0),
    requests=st.lists(
        st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 5.0)),  # (answer time, idle after)
        max_size=60,
    ),
    headers=st.lists(st.integers(0, 12), max_size=60),
)
def test_never_more_than_the_limit_in_any_window_the_api_could_count(
    limit: int, seconds: float, requests: list[tuple[float, float]], headers: list[int]
) -> None:
    """Whenever the API stamps a request (somewhere between its send and its answer), the
    requests it still counts, this one included, are never more than the limit."""
    clock = Clock()
    win = window(clock, limit=limit, seconds=seconds)
    spans: list[tuple[float, float]] = []
    for n, (takes, idle) in enumerate(requests):
        win.acquire()
        sent = clock.now
        if n < len(headers):  # what the API says is spent (others may spend too)
            win.update(limit, seconds, remaining=max(0, limit - headers[n]))
        clock.now += takes
        win.release()
        spans.append((sent, clock.now))
        clock.now += idle
    for i, (sent, _) in enumerate(spans):
        # Requests before this one that the API may still count when it sees this one.
        counted = [j for j in range(i) if spans[j][1] > sent - seconds + 1e-9]  # float sums
        assert len(counted) < limit


def test_a_request_waits_for_one_still_in_flight(clock: Clock) -> None:
    win = window(clock, limit=1, seconds=5.0)
    sent: list[float] = []

    def second() -> None:
        win.acquire()  # every slot is in flight: waits for the answer, then the window
        sent.append(clock.now)
        win.release()

    win.acquire()
    other = threading.Thread(target=second)
    other.start()
    clock.now += 2.0  # the first request's answer takes 2 s
    win.release()
    other.join(timeout=10)
    assert sent == [pytest.approx(1007.0)]


def test_impossible_windows_are_refused(clock: Clock) -> None:
    with pytest.raises(ValueError):
        RollingWindow(0, 10.0)
    win = window(clock)
    win.update(limit=0, window=10.0, remaining=0)  # nonsense headers change nothing
    assert (win.limit, win.window) == (3, 10.0)


# -- against a HubSpot that enforces its burst limit ----------------------------------------

LIMIT, WINDOW = 50, 1.0  # HubSpot's is 100 per 10 s; scaled down to keep the test short


@pytest.fixture
def strict_hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(
        auth_token=HS_TOKEN,
        burst_limit=LIMIT,
        burst_window_seconds=WINDOW,
        enforce_rate_limit=True,
        search_in_burst_window=True,
    ) as fake:
        yield fake


def hubspot_source(fake: FakeHubSpot, **config: Any) -> HubSpotSource:
    # Seeded with HubSpot's real 100 per 10 s: the fake's headers must bring it down.
    config = {"page_size": 5, "search_requests_per_second": 1000, "overlap_seconds": 0, **config}
    return HubSpotSource(url=fake.url, token=HS_TOKEN, config=HubSpotConfig(**config), http=FAST)


def test_a_first_sync_of_hundreds_of_pages_is_never_refused(strict_hubspot: FakeHubSpot) -> None:
    ids = strict_hubspot.populate(600, seed=13)
    src = hubspot_source(strict_hubspot)
    try:
        read = {a.external_id for b in src.fetch(None, TODAY) for a in b.accounts}
    finally:
        src.close()
    assert strict_hubspot.rate_limited == 0  # not one 429
    assert read == set(ids)
    pages = strict_hubspot.request_count
    assert pages > 5 * LIMIT  # a few hundred pages: the window filled over and over
    assert src.request_stats.rate_limited == 0
    assert src.request_stats.waited_seconds > 0  # it was the client that held back


def test_searches_count_against_the_same_window(strict_hubspot: FakeHubSpot) -> None:
    ids = strict_hubspot.populate(400, seed=14, now=datetime(2025, 1, 1, tzinfo=UTC))
    since = datetime.now(UTC) - timedelta(minutes=10)
    strict_hubspot.touch(ids, since + timedelta(minutes=1))
    src = hubspot_source(strict_hubspot, search_page_size=5)
    cursor = dump_cursor({"since": int(since.timestamp() * 1000)})
    try:
        read = {a.external_id for b in src.fetch(cursor, TODAY) for a in b.accounts}
    finally:
        src.close()
    assert strict_hubspot.rate_limited == 0
    assert read == set(ids)
    searches = len(strict_hubspot.requests_to("/crm/v3/objects/companies/search"))
    assert searches >= 80  # none of them carries rate headers


def test_a_429_that_still_comes_is_waited_out_and_counted(strict_hubspot: FakeHubSpot) -> None:
    ids = strict_hubspot.populate(30, seed=15)
    strict_hubspot.rate_limit("TEN_SECONDLY_ROLLING", path_prefix="/crm/v3/objects/companies")
    src = HubSpotSource(
        url=strict_hubspot.url,
        token=HS_TOKEN,
        config=HubSpotConfig(page_size=10),
        http=FAST.model_copy(update={"rate_limit_wait_seconds": None}),
    )
    try:
        read = {a.external_id for b in src.fetch(None, TODAY) for a in b.accounts}
    finally:
        src.close()
    assert read == set(ids)
    assert src.request_stats.rate_limited == 1
    assert src.request_stats.waited_seconds >= 0.9 * WINDOW  # the fake's window, from headers
