"""Run each scheduled job on exactly one replica at a time, and refuse a second process on a
SQLite file (SQLite is for one process; several replicas need PostgreSQL)."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, TypeVar

from sqlalchemy.engine import make_url

import db.runs
from db.engine import SessionFactory, is_sqlite, transaction
from db.models import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_exclusively(
    factory: SessionFactory,
    name: str,
    job: Callable[[], T],
    *,
    ttl: timedelta = timedelta(seconds=30),
    holder: str = HOLDER,
) -> T | None:
    """Run ``job`` if this process holds (or can take) the lease ``name``; else skip it.

    While the job runs, a heartbeat renews the lease every ``ttl / 3``, so a long job keeps it
    and a killed process (no ``finally``, no release) loses it within ``ttl``: another replica,
    or this one restarted, takes the job over then.
    """
    with transaction(factory) as session:
        if not db.runs.acquire_lease(session, name=name, holder=holder, now=utcnow(), ttl=ttl):
            log.debug("job %s is running on another replica; skipped here", name)
            return None
    done = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(factory, name, holder, ttl, done),
        name=f"lease-{name}",
        daemon=True,
    )
    beat.start()
    try:
        return job()
    finally:
        done.set()
        beat.join(timeout=5)
        with transaction(factory) as session:
            db.runs.release_lease(session, name=name, holder=holder, now=utcnow())


def _heartbeat(
    factory: SessionFactory, name: str, holder: str, ttl: timedelta, done: threading.Event
) -> None:
    every = max(ttl.total_seconds() / 3, 0.05)
    while not done.wait(every):
        try:
            with transaction(factory) as session:
                if not db.runs.acquire_lease(
                    session, name=name, holder=holder, now=utcnow(), ttl=ttl
                ):
                    log.warning("lease %s was taken over by another replica", name)
        except Exception as exc:  # the database is away: the next beat tries again
            log.warning("renewing lease %s failed: %s", name, exc)


class AlreadyRunning(RuntimeError):
    """Another process already serves this SQLite database."""


class SqliteProcessLock:
    """An advisory lock on ``<database>.lock`` held for the life of ``run``."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.path = Path(f"{url.database or 'memory'}.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"{other} is already running Expansion Radar on {self.path.with_suffix('')}."
                " SQLite supports a single process; stop it first, or use PostgreSQL"
                " (DATABASE_URL=postgresql+psycopg://…) to run several replicas."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def single_process_guard(database_url: str) -> SqliteProcessLock | None:
    """Take the SQLite lock when the database is SQLite; PostgreSQL needs none."""
    if not is_sqlite(database_url):
        return None
    lock = SqliteProcessLock(database_url)
    lock.acquire()
    return lock
