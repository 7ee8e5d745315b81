"""The one wrapper every scheduled job runs in (the poll, the re-scoring and the Slack jobs).

A job runs behind a database lease (one replica at a time), with its name on every log line,
and never raises into APScheduler: a failure is logged and the job simply runs again at its
next tick. Inside a job, ``each`` gives per-item isolation: every item gets its own short
transaction (the caller's ``work``), and one failing item is logged while the others still go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TypeVar

from bot.infra.leases import run_exclusively
from bot.infra.logs import log_context
from db.engine import SessionFactory

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

LEASE_TTL = timedelta(seconds=30)  # renewed every 10 s while the job runs


def run_job(
    factory: SessionFactory,
    name: str,
    job: Callable[[], T],
    *,
    lease: str | None = None,
    ttl: timedelta = LEASE_TTL,
) -> T | None:
    """Run ``job`` under the lease ``lease`` (default: the job's name). None when another
    replica holds the lease or the job failed (logged, never raised)."""
    with log_context(job=name):
        try:
            return run_exclusively(factory, lease or name, job, ttl=ttl)
        except Exception:
            log.exception("job %s failed; it runs again at its next tick", name)
            return None


def guarded(
    factory: SessionFactory,
    name: str,
    job: Callable[[], object],
    *,
    lease: str | None = None,
    ttl: timedelta = LEASE_TTL,
) -> Callable[[], None]:
    """``job`` as a no-argument callable for ``scheduler.add_job``, run by ``run_job``."""

    def run() -> None:
        run_job(factory, name, job, lease=lease, ttl=ttl)

    return run


def each(items: Iterable[T], work: Callable[[T], R], *, what: str) -> list[R]:
    """``work`` on every item, one at a time; a failing item is logged (and retried at the
    next tick, its transaction having rolled back) and the others still go. The results of
    the items that succeeded, in order."""
    done: list[R] = []
    for item in items:
        try:
            done.append(work(item))
        except Exception:
            log.exception("%s %s failed; will retry", what, item)
    return done
