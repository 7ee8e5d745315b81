"""What ``GET /healthz`` reports: the database, each source's last good poll and last run, the
outbox. A run left "running" by a process that is gone shows as "abandoned" (no process holds
the poll lease), so a killed poll never looks like one still in progress.

The check runs in a daemon thread of its own with a short timeout, so a database that hangs
(rather than refusing connections) still gets a quick 503 instead of a stuck probe. At most
``workers`` checks may wait on the database at once; beyond that the answer is 503 at once.
Daemon threads never hold up the process's exit.

The endpoint needs no authentication, so a failure says only what kind it was: the driver's
message (host, port, database, user) goes to the log, where secrets are redacted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import db.outbox
import db.runs
from bot.poll.runs import poll_in_progress, shown_status
from db.engine import SessionFactory
from db.models import PollRun, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class _Reading:
    successes: dict[str, datetime | None]
    backlog: int
    runs: dict[str, dict[str, Any]]


class HealthCheck:
    def __init__(
        self,
        factory: SessionFactory,
        sources: Sequence[str] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
        workers: int = 2,
    ) -> None:
        self.factory = factory
        self.sources = list(sources)
        self.timeout = timeout
        self.clock = clock
        self._slots = threading.BoundedSemaphore(workers)

    def _read(self) -> _Reading:
        with self.factory() as session:
            db.runs.ping(session)
            polling = poll_in_progress(session)
            runs = {
                name: _run(run, polling)
                for name, run in db.runs.last_run_per_source(session).items()
            }
            return _Reading(
                db.runs.last_success_per_source(session), db.outbox.outbox_backlog(session), runs
            )

    def check(self) -> tuple[int, dict[str, Any]]:
        """``(200, body)`` when the database answers, else ``(503, body)`` saying why."""
        started = time.monotonic()
        if not self._slots.acquire(blocking=False):
            log.warning("health check: earlier checks are still waiting for the database")
            return 503, self._down("earlier checks are still waiting for it", started)
        outcome: list[_Reading | BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                outcome.append(self._read())
            except Exception as exc:
                outcome.append(exc)
            finally:
                self._slots.release()
                done.set()

        threading.Thread(target=work, name="healthz", daemon=True).start()
        if not done.wait(self.timeout):
            log.warning("health check: the database gave no answer within %g s", self.timeout)
            return 503, self._down(f"no answer within {self.timeout:g} s", started)
        reading = outcome[0]
        if isinstance(reading, BaseException):
            log.warning("health check: the database is unreachable: %s", _first_line(reading))
            return 503, self._down("it refused the connection or the query failed", started)
        now = self.clock()
        names = list(dict.fromkeys([*self.sources, *sorted(reading.successes)]))
        sources = {}
        for name in names:
            when = reading.successes.get(name)
            sources[name] = {
                "last_success_at": _iso(when),
                "age_seconds": round((now - _aware(when)).total_seconds(), 1) if when else None,
                "last_run": reading.runs.get(name),
            }
        return 200, {
            "status": "ok",
            "database": "ok",
            "sources": sources,
            "outbox_backlog": reading.backlog,
            "checked_in_ms": round((time.monotonic() - started) * 1000, 1),
        }

    def _down(self, why: str, started: float) -> dict[str, Any]:
        return {
            "status": "unhealthy",
            "database": "unreachable",
            "error": f"the database is unreachable: {why}",
            "sources": None,
            "outbox_backlog": None,
            "checked_in_ms": round((time.monotonic() - started) * 1000, 1),
        }


def _run(run: PollRun, polling: bool) -> dict[str, Any]:
    return {
        "status": shown_status(run, polling),
        "started_at": _iso(run.started_at),
        "error": run.errors[0].removeprefix("error: ")[:300]
        if run.errors and run.errors[0].startswith("error: ")
        else None,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _aware(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(orig or exc).__name__}: {text[0] if text else ''}"[:300]
