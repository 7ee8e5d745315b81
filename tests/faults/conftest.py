"""Fault-test machinery: ``expansion-radar run`` as real processes on PostgreSQL, fakes over
real HTTP on 127.0.0.1, a TCP proxy that can cut the database away, and the post counter.

These tests need PostgreSQL (several processes share one database); without it they skip,
saying why (``pg_base_url`` in tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import col, select

from bot.slack.outgoing import source_health_text
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from db.models import Alert, OutboxMessage, PollRun
from db.outbox_payloads import AdminNote, OutboxPayload, SourceHealthNote, parse
from tests.cli import ROOT
from tests.fakes import FakeSlack, sign_request
from tests.fakes.slack import command_body as slash_command_body
from tests.waiting import wait_until

SECRET = "fault-test-signing-secret-0123456789"
MAYA = "U0MAYA0001"
ADMIN_CHANNEL = "#radar-admin"
PG_ENV = "EXPANSION_RADAR_TEST_PG_URL"

# The bot's config from "alerts:" on: every alert goes to a channel, the sender ticks each second.
POST_EVERY_ALERT = f"""
alerts:
  post_bands: [priority, ready, candidate]
  digest_bands: []
  flood_after: 100000  # each alert's own post is counted here (the summary: test_flood.py)
slack:
  sender_interval_seconds: 1
  hourly_cap_per_channel: 1000
  admin_channel: "{ADMIN_CHANNEL}"
"""


def demo_config(*, interval_minutes: int) -> str:
    """The bot's config: the demo portfolio polled every ``interval_minutes`` (no re-scoring
    job), every alert posted."""
    sources = f"""
sources:
  demo:
    enabled: true
  schedule:
    interval_minutes: {interval_minutes}
    rescore_cron: null"""
    return sources + POST_EVERY_ALERT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL, or a skip saying why there is none."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set; the fault tests need PostgreSQL (CI sets it)")
    admin = make_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {exc.orig}")
    finally:
        admin.dispose()
    return url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database of its own, migrated (no shared template: other test sessions may
    be creating and dropping theirs at the same time)."""
    name = f"er_fault_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = str(make_url(pg_server).set(database=name))
    engine = make_engine(url, poolclass=NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_factory(pg_url: str) -> Iterator[SessionFactory]:
    """The test's own way into the database (direct, never through a proxy)."""
    engine = make_engine(pg_url, poolclass=NullPool)
    yield session_factory(engine)
    engine.dispose()


# --- Slack -----------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(MAYA, "maya.chen@example.com", "maya", "Maya Chen", tz="Europe/Berlin")
        fake.add_user("U0JONAS001", "jonas.weber@example.com", "jonas", "Jonas Weber")
        yield fake


def alert_posts(slack: FakeSlack) -> Counter[int]:
    """Top-level chat.postMessage calls per alert id (read from the alert's buttons)."""
    seen: Counter[int] = Counter()
    for args in slack.posts():
        if args.get("thread_ts"):
            continue
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        for alert_id in set(_alert_ids(blocks)):
            seen[alert_id] += 1
    return seen


def _alert_ids(node: Any) -> Iterator[int]:
    if isinstance(node, dict):
        value = node.get("value")
        if isinstance(value, str) and value.startswith("{"):
            try:
                alert = json.loads(value).get("alert")
            except ValueError:
                alert = None
            if isinstance(alert, int):
                yield alert
        for child in node.values():
            yield from _alert_ids(child)
    elif isinstance(node, list):
        for child in node:
            yield from _alert_ids(child)


def posted_alert_ids(factory: SessionFactory) -> set[int]:
    """Alerts the bot owes a channel post: those with a ``post`` row in the outbox."""
    with factory() as session:
        rows = session.exec(
            select(OutboxMessage.alert_id).where(OutboxMessage.kind == "post")
        ).all()
    return {int(a) for a in rows if a is not None}


def pending_posts(factory: SessionFactory) -> int:
    """Alert posts not delivered yet: waiting, or claimed by a sender (perhaps a dead one)."""
    with factory() as session:
        return len(
            session.exec(
                select(OutboxMessage.id).where(
                    OutboxMessage.kind == "post",
                    col(OutboxMessage.status).in_(["pending", "sending"]),
                )
            ).all()
        )


def hubspot_runs(factory: SessionFactory) -> list[PollRun]:
    """HubSpot's poll runs, oldest first."""
    with factory() as session:
        return list(
            session.exec(
                select(PollRun).where(PollRun.source == "hubspot").order_by(col(PollRun.id))
            ).all()
        )


def admin_rows(factory: SessionFactory) -> list[str]:
    """The texts queued for the admin channel, oldest first."""
    with factory() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "admin")
            .order_by(col(OutboxMessage.id))
        ).all()
    return [_admin_text(parse(r.kind, r.payload)) for r in rows]


def _admin_text(note: OutboxPayload | None) -> str:
    """What the admin channel is told for a queued note, worded as the sender words it."""
    if isinstance(note, SourceHealthNote):
        return source_health_text(note)
    return note.text if isinstance(note, AdminNote) else ""


def alert_ts(factory: SessionFactory) -> dict[int, str | None]:
    with factory() as session:
        return {
            int(a.id): a.ts
            for a in session.exec(select(Alert).order_by(col(Alert.id))).all()
            if a.id is not None
        }


@dataclass
class Tally:
    owed: int
    posted: int
    lost: int
    doubled: int

    def line(self) -> str:
        return f"posted {self.posted}, lost {self.lost}, doubled {self.doubled}"


def tally(slack: FakeSlack, factory: SessionFactory) -> Tally:
    """Compare what Slack received with what the database says was owed."""
    owed = posted_alert_ids(factory)
    posts = alert_posts(slack)
    return Tally(
        owed=len(owed),
        posted=sum(1 for a in owed if posts[a] >= 1),
        lost=sum(1 for a in owed if posts[a] == 0),
        doubled=sum(1 for a in owed if posts[a] > 1) + sum(1 for a in posts if a not in owed),
    )


REPORTED: list[str] = []


def wait_delivered(
    slack: FakeSlack,
    factory: SessionFactory,
    *,
    timeout: float,
    what: str = "every alert to be delivered",
    settle: float = 3,
) -> None:
    """Wait until Slack has posts and no alert post is left to deliver, then ``settle``
    seconds more: a few more sender ticks, so a double would show."""
    wait_until(lambda: slack.posts() and pending_posts(factory) == 0, timeout=timeout, what=what)
    time.sleep(settle)


def posted_once(slack: FakeSlack, factory: SessionFactory, name: str) -> Tally:
    """The tally, reported under ``name``: every alert owed a post was posted exactly once."""
    result = tally(slack, factory)
    report(name, result)
    assert (result.posted, result.lost, result.doubled) == (result.owed, 0, 0)
    return result


def report(name: str, result: Tally) -> None:
    """Print the figures the issue asks for; they also close pytest's output (below)."""
    line = f"{name}: {result.line()} (alerts owed a post: {result.owed})"
    REPORTED.append(line)
    print(f"\n[faults] {line}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORTED:
        terminalreporter.section("fault tests: alerts posted, lost, doubled")
        for line in REPORTED:
            terminalreporter.write_line(line)


# --- the bot as a process --------------------------------------------------------------


class Bot:
    """``expansion-radar run`` in a child process, serving HTTP on its own port."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.workdir = workdir
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Bot:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n--- start #{self.starts} ---\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--host", "127.0.0.1"],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def health(self) -> httpx.Response | None:
        try:
            return httpx.get(self.url + "/healthz", timeout=5)
        except httpx.HTTPError:
            return None

    def wait_healthy(self, timeout: float = 90) -> None:
        def up() -> bool:
            assert self.alive(), f"{self.name} exited:\n{self.output()}"
            resp = self.health()
            return resp is not None and resp.status_code == 200

        wait_until(up, timeout=timeout, what=f"{self.name} to answer /healthz")

    def kill(self) -> None:
        """kill -9: no clean-up, no lease release, no rollback but the database's own."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def slash(self, slack: FakeSlack, query: str, *, timeout: float = 10) -> Slash:
        """``/expansion <query>`` as Slack sends it: the ack, and the answer the bot then
        posts to the response_url (None if none came within ``timeout`` seconds)."""
        rid = f"r{uuid.uuid4().hex[:8]}"
        body = command_body(slack, query, rid=rid)
        started = time.monotonic()
        resp = httpx.post(
            self.url + "/slack/events",
            content=body,
            headers=sign_request(SECRET, body),
            timeout=timeout,
        )
        acked_in = time.monotonic() - started
        answer = None
        if resp.status_code == 200:
            deadline = time.monotonic() + timeout
            while not (said := slack.responses(rid)) and time.monotonic() < deadline:
                time.sleep(0.05)
            answer = said[0] if said else None
        return Slash(resp.status_code, acked_in, answer)


@dataclass(frozen=True)
class Slash:
    """One /expansion round trip: the ack's status and time, then the answer."""

    status: int
    acked_in: float
    answer: dict[str, Any] | None

    @property
    def text(self) -> str:
        return str((self.answer or {}).get("text", ""))


def command_body(slack: FakeSlack, query: str, *, user: str = MAYA, rid: str | None = None) -> str:
    return slash_command_body(slack, query, user=user, rid=rid or f"r{uuid.uuid4().hex[:8]}")


def bot_env(
    workdir: Path, database_url: str, slack: FakeSlack, config: str, **extra: str
) -> dict[str, str]:
    path = workdir / "radar.yml"
    path.write_text(config, encoding="utf-8")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "EXPANSION_RADAR_CONFIG": str(path),
        "SLACK_BOT_TOKEN": slack.auth_token or "",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "EXPANSION_CHANNEL": "#expansion",
        "SECRETS_DIR": str(workdir / "no-secrets"),
        **extra,
    }


class Bots(list[Bot]):
    """The bots a test started, each working in the test's directory with its fake Slack."""

    def __init__(self, workdir: Path, slack: FakeSlack) -> None:
        super().__init__()
        self.workdir = workdir
        self.slack = slack

    def env(self, database_url: str, config: str, **extra: str) -> dict[str, str]:
        """A bot's environment: this database, ``config`` as its config file, and ``extra``."""
        return bot_env(self.workdir, database_url, self.slack, config, **extra)

    def start(self, env: dict[str, str], name: str = "radar") -> Bot:
        """A new bot process with ``env``, started (and stopped after the test)."""
        bot = Bot(name, self.workdir, env)
        self.append(bot)
        return bot.start()


@pytest.fixture
def bots(tmp_path: Path, slack: FakeSlack) -> Iterator[Bots]:
    """Bots a test started; stopped (and their logs shown on failure) afterwards."""
    started = Bots(tmp_path, slack)
    yield started
    for bot in started:
        bot.stop()


# --- a TCP proxy that can cut the database away ------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:port to ``target``. ``cut()`` drops every open connection and
    answers new ones by closing them at once (the database is gone); ``restore()`` forwards
    again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._down = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self.accepted = 0
        self.refused = 0
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with self._lock:
                    self._conns.discard(s)
                _close(s)

    def cut(self) -> None:
        self._down.set()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for s in conns:
            _close(s)

    def restore(self) -> None:
        self._down.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        _close(self._listener)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
