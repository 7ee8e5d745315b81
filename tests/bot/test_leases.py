from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import db.runs
from bot.infra.leases import SqliteProcessLock, run_exclusively
from db.engine import SessionFactory, transaction
from db.models import utcnow


def test_only_one_holder_until_the_lease_expires(factory: SessionFactory) -> None:
    now = utcnow()
    ttl = timedelta(minutes=5)
    with transaction(factory) as s:
        assert db.runs.acquire_lease(s, name="poll", holder="a", now=now, ttl=ttl)
    with transaction(factory) as s:
        assert not db.runs.acquire_lease(s, name="poll", holder="b", now=now, ttl=ttl)
        assert db.runs.acquire_lease(s, name="poll", holder="a", now=now, ttl=ttl)  # renew
    later = now + timedelta(minutes=6)  # "a" died and stopped renewing
    with transaction(factory) as s:
        assert db.runs.acquire_lease(s, name="poll", holder="b", now=later, ttl=ttl)
        lease = db.runs.lease_holder(s, "poll")
        assert lease is not None and lease.holder == "b"


def test_released_lease_is_free_at_once(factory: SessionFactory) -> None:
    now = utcnow()
    with transaction(factory) as s:
        assert db.runs.acquire_lease(s, name="send", holder="a", now=now, ttl=timedelta(hours=1))
        db.runs.release_lease(s, name="send", holder="a", now=now)
    with transaction(factory) as s:
        assert db.runs.acquire_lease(s, name="send", holder="b", now=now, ttl=timedelta(hours=1))


def test_concurrent_replicas_run_a_job_once(factory: SessionFactory) -> None:
    runs: list[str] = []
    gate = threading.Barrier(2)
    release = threading.Event()

    def job(who: str) -> str:
        runs.append(who)
        release.wait(5)
        return who

    def replica(who: str) -> None:
        gate.wait()
        run_exclusively(factory, "poll", lambda: job(who), holder=who)

    threads = [threading.Thread(target=replica, args=(w,)) for w in ("r1", "r2")]
    for t in threads:
        t.start()
    threading.Event().wait(0.5)
    release.set()
    for t in threads:
        t.join(10)
    assert len(runs) == 1
    assert run_exclusively(factory, "poll", lambda: "again", holder="r3") == "again"  # released


def test_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    lock = SqliteProcessLock(url)
    lock.acquire()
    try:
        code = textwrap.dedent(f"""
            from bot.infra.leases import AlreadyRunning, SqliteProcessLock
            try:
                SqliteProcessLock({url!r}).acquire()
            except AlreadyRunning as exc:
                print(exc)
            else:
                print("acquired")
        """)
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).parents[2],
        ).stdout
        assert "already running Expansion Radar" in out and "PostgreSQL" in out
    finally:
        lock.release()
    again = SqliteProcessLock(url)
    again.acquire()  # free once released
    again.release()
