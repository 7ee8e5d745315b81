"""Re-scoring in helper processes: a first sync queues every account, and scoring them is pure
CPU work that one Python process does on one core while the machine's others sit idle.

The main process hands out chunks of queued account ids; each helper scores a chunk exactly as
the main process would (``score_chunk``: facts, scores, episodes, alerts, outbox rows and the
removal from the queue, in one transaction) against the same database, and the main process
scores chunks of its own between handing them out. A chunk is all or nothing wherever it runs,
so a crashed helper loses nothing: its chunk stays queued for the next poll.

Helpers are started fresh for each large re-scoring (from the fork server, see
``bot.poll.helpers``) and only when the queue is big enough to pay for their start.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import date
from typing import Any

from sqlalchemy.exc import OperationalError

import db.runs
from bot.infra.settings import AppConfig
from bot.poll.cycle import CycleResult, evaluate_many
from bot.poll.helpers import HelperLogs, LogLevels, helper_context, log_levels, start_helper
from db.engine import SessionFactory, is_sqlite, make_engine, session_factory, transaction

log = logging.getLogger(__name__)

MIN_PARALLEL = 5000  # queued accounts below which helpers cost more to start than they save
MAX_HELPERS = 4
MAX_SQLITE_HELPERS = 2  # SQLite takes one writer at a time: more would mostly wait for it
LOCKED_ATTEMPTS = 3  # a chunk that found SQLite locked past its busy timeout is tried again


def score_chunk(
    factory: SessionFactory,
    account_ids: Sequence[int],
    today: date,
    config: AppConfig,
    *,
    reoffer: bool = False,
) -> CycleResult:
    """Score some queued accounts and take them off the queue: one transaction (tried again
    when SQLite stayed locked by the other scorers past its busy timeout). ``reoffer``: see
    ``evaluate_many`` (an explicit re-score of every account)."""
    for attempt in range(1, LOCKED_ATTEMPTS + 1):
        result = CycleResult()
        try:
            with transaction(factory) as session:
                evaluate_many(
                    session,
                    account_ids,
                    today,
                    config,
                    result,
                    keep_assessments=False,
                    reoffer=reoffer,
                )
                db.runs.clear_pending(session, account_ids=account_ids)
            return result
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == LOCKED_ATTEMPTS:
                raise
            log.warning("re-scoring: the database stayed locked; chunk tried again")
    raise AssertionError("unreachable")


def helper_count(configured: int | None, queued: int, *, sqlite: bool = False) -> int:
    """How many helper processes to start: none for a small queue or a single CPU."""
    if queued < MIN_PARALLEL:
        return 0
    wanted = configured if configured is not None else max(0, min(MAX_HELPERS, cpus() - 1))
    return min(wanted, MAX_SQLITE_HELPERS) if sqlite else wanted


def plan_helpers(
    factory: SessionFactory, configured: int | None, queued: int
) -> tuple[int, str | None]:
    """How many helpers to start for this queue, and the database URL they open (0 and None:
    score here, e.g. a small queue or an in-memory database)."""
    if helper_count(configured, queued) == 0:
        return 0, None
    url = shareable_url(factory)
    if url is None:
        return 0, None
    return helper_count(configured, queued, sqlite=is_sqlite(url)), url


def cpus() -> int:
    """CPUs this process may use: its affinity, and a container's CPU quota (cgroup v2)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/sys/fs/cgroup/cpu.max") as limit:
            quota, period = limit.read().split()[:2]
        if quota != "max":
            count = min(count or 1, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return count or 1


def shareable_url(factory: SessionFactory) -> str | None:
    """The database URL another process can open (None for an in-memory SQLite database)."""
    session = factory()
    try:
        url = session.get_bind().engine.url
    finally:
        session.close()
    if url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or "mode=memory" in str(url)
    ):
        return None
    return url.render_as_string(hide_password=False)


# --- in the helper process ---------------------------------------------------------------


_HELPER: tuple[SessionFactory, date, AppConfig, bool] | None = None


def _start_helper(
    url: str, today: date, config: AppConfig, reoffer: bool, logs: Any, levels: LogLevels
) -> None:
    global _HELPER
    start_helper(logs, levels)
    _HELPER = (session_factory(make_engine(url)), today, config, reoffer)


def _helper_chunk(account_ids: list[int]) -> CycleResult:
    assert _HELPER is not None, "helper started without its initializer"
    factory, today, config, reoffer = _HELPER
    return score_chunk(factory, account_ids, today, config, reoffer=reoffer)


# --- in the main process -----------------------------------------------------------------


def score_in_parallel(
    factory: SessionFactory,
    url: str,
    chunks: Sequence[list[int]],
    *,
    helpers: int,
    today: date,
    config: AppConfig,
    on_chunk: Callable[[CycleResult, int], None],
    reoffer: bool = False,
) -> None:
    """Score every chunk, ``helpers`` processes and this one sharing the work.

    Each helper keeps two chunks queued so it never waits on this process; this process
    scores the next chunk itself whenever every helper is busy. ``on_chunk`` hears each
    chunk's result as it lands. The first error stops handing out work and is raised once
    the chunks already running have finished."""
    todo = deque(chunks)
    running: set[Future[CycleResult]] = set()
    sizes: dict[Future[CycleResult], int] = {}
    context = helper_context()
    with (
        HelperLogs(context) as logs,
        ProcessPoolExecutor(
            max_workers=helpers,
            mp_context=context,
            initializer=_start_helper,
            initargs=(url, today, config, reoffer, logs.queue, log_levels()),
        ) as pool,
    ):

        def collect(finished: set[Future[CycleResult]]) -> None:
            for future in finished:
                running.discard(future)
                on_chunk(future.result(), sizes.pop(future))

        try:
            while todo or running:
                while todo and len(running) < 2 * helpers:
                    ids = todo.popleft()
                    future = pool.submit(_helper_chunk, ids)
                    running.add(future)
                    sizes[future] = len(ids)
                if todo:
                    ids = todo.popleft()
                    on_chunk(score_chunk(factory, ids, today, config, reoffer=reoffer), len(ids))
                else:
                    wait(running, return_when=FIRST_COMPLETED)
                collect({f for f in running if f.done()})
        except BaseException:
            # Stop handing out work; chunks already running finish (each commits on its
            # own), and those that succeeded are still counted before the error is raised.
            todo.clear()
            for future in running:
                future.cancel()
            wait(running)
            for future in list(running):
                if not future.cancelled() and future.exception() is None:
                    collect({future})
            raise
