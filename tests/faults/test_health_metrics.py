"""``GET /healthz`` and ``GET /metrics`` over real HTTP: what a probe and Prometheus see
after a poll, a slash command, a 429 and a failed delivery; and a database that is down or
hangs gives a quick 503 that says why."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

import db.outbox
from bot.infra import metrics
from bot.infra.health import HealthCheck
from bot.infra.settings import AlertPolicy, AppConfig, Settings
from bot.poll.run import poll
from bot.slack.app import create_app, deps_of
from bot.slack.client import make_client
from bot.slack.config import SlackConfig
from bot.slack.deps import Deps
from bot.slack.server import ServerThread, build_asgi
from db.engine import SessionFactory, make_engine, session_factory
from scoring.config import Gate, ScoringConfig
from tests.bot.test_poll import hs_source, usage_source
from tests.fakes import FakeHubSpot, FakeSlack, FakeUsageAPI, sign_request
from tests.faults.conftest import ADMIN_CHANNEL, SECRET, command_body
from tests.sources.conftest import HS_TOKEN, USAGE_TOKEN

TODAY = date.today()
CONFIG = AppConfig(
    scoring=ScoringConfig(gate=Gate(require_outcome=False)),  # synthetic data has no outcomes
    slack=SlackConfig(admin_channel=ADMIN_CHANNEL, hourly_cap_per_channel=1000),
    alerts=AlertPolicy(post_bands=("priority", "ready", "candidate"), digest_bands=()),
)


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from a Prometheus text page (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


@pytest.fixture
def served(
    factory: SessionFactory, slack: FakeSlack
) -> Iterator[tuple[str, SessionFactory, FakeSlack, Deps]]:
    settings = Settings(
        slack_bot_token=slack.auth_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url,
        expansion_channel="#expansion",
    )
    app = create_app(settings, CONFIG, factory, client=make_client(settings))

    def backlog() -> int:
        with factory() as session:
            return db.outbox.outbox_backlog(session)

    metrics.watch_outbox(backlog)
    thread = ServerThread(build_asgi(app, factory, ["hubspot", "usage"])).start()
    try:
        yield thread.url, factory, slack, deps_of(app)
    finally:
        thread.stop()


def test_healthz_and_metrics_after_a_poll_a_command_and_deliveries(
    served: tuple[str, SessionFactory, FakeSlack, Deps],
) -> None:
    url, factory, slack, deps = served
    before = httpx.get(url + "/metrics").text
    health = httpx.get(url + "/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert health.json()["sources"] == {
        "hubspot": {"last_success_at": None, "age_seconds": None, "last_run": None},
        "usage": {"last_success_at": None, "age_seconds": None, "last_run": None},
    }
    assert health.json()["outbox_backlog"] == 0

    with (
        FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as hubspot,
        FakeUsageAPI(auth_token=USAGE_TOKEN) as usage,
    ):
        hubspot.populate(60, seed=11)
        usage.populate(60, seed=11)
        usage.add_raw("not a record")  # one rejected record
        summary = poll(
            factory, [hs_source(hubspot), usage_source(usage)], today=TODAY, config=CONFIG
        )
    assert summary.ok and summary.scoring.new_alerts
    owed = len(summary.scoring.new_alerts)

    health = httpx.get(url + "/healthz").json()
    for name in ("hubspot", "usage"):
        assert health["sources"][name]["last_success_at"].endswith("Z")
        assert 0 <= health["sources"][name]["age_seconds"] < 120
        assert health["sources"][name]["last_run"]["status"] == "ok"
    assert health["outbox_backlog"] == owed

    body = command_body(slack, "zzzz-no-such-account", rid="metrics")
    resp = httpx.post(
        url + "/slack/events", content=body, headers=sign_request(SECRET, body), timeout=10
    )
    assert resp.status_code == 200
    deadline = time.monotonic() + 10  # answered (and timed) after the ack
    while not slack.responses("metrics"):
        assert time.monotonic() < deadline, "the command was not answered"
        time.sleep(0.05)

    slack.rate_limit("chat.postMessage", retry_after=1, times=1)  # waited out, then posted
    sender = deps.sender
    sender.run_once(limit=1)
    slack.set_channel_error("#expansion", "channel_not_found")  # the rest fail for good
    sender.run_once(limit=500)

    after = httpx.get(url + "/metrics").text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    for source in ("hubspot", "usage"):
        assert grew("expansion_radar_poll_duration_seconds_count", source=source) == 1
        assert grew("expansion_radar_records_fetched_total", source=source) >= 60
    assert grew("expansion_radar_records_rejected_total", source="usage") == 1
    assert (
        sum(
            grew("expansion_radar_alerts_total", band=b) for b in ("candidate", "ready", "priority")
        )
        == owed
    )
    assert grew("expansion_radar_slash_command_seconds_count") == 1
    assert grew("expansion_radar_slack_ratelimited_total") >= 1
    assert grew("expansion_radar_delivery_errors_total", error="channel_not_found") >= 1
    assert (
        sample(after, "expansion_radar_outbox_backlog")
        == httpx.get(url + "/healthz").json()["outbox_backlog"]
    )


def _broken_factory() -> Session:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_healthz_is_503_with_a_reason_when_the_database_is_down_or_hangs() -> None:
    status, body = HealthCheck(_broken_factory, ["hubspot"]).check()
    assert status == 503
    assert body["status"] == "unhealthy" and body["database"] == "unreachable"
    assert "refused the connection or the query failed" in body["error"]

    release = threading.Event()

    def hanging() -> Session:
        release.wait(30)
        raise OperationalError("SELECT 1", {}, Exception("late"))

    check = HealthCheck(hanging, timeout=0.5, workers=2)
    started = time.monotonic()
    status, body = check.check()
    assert status == 503 and "no answer within 0.5 s" in body["error"]
    assert time.monotonic() - started < 2.5
    status, body = check.check()  # the first is still waiting; one more may wait too
    assert status == 503
    status, body = check.check()  # but not a third: answered at once
    assert status == 503 and "still waiting" in body["error"]
    release.set()


def test_healthz_says_the_database_is_down_without_saying_where_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unauthenticated: no host, port, database name, user or driver text in the answer;
    the driver's words go to the log instead."""
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://radar_user:pw-s3cret@127.0.0.1:{port}/radar_books"
    engine = make_engine(url, poolclass=NullPool)
    thread = ServerThread(build_asgi(None, session_factory(engine), ["hubspot"])).start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.infra.health"):
            answer = httpx.get(thread.url + "/healthz", timeout=10)
    finally:
        thread.stop()
        engine.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unhealthy" and body["database"] == "unreachable"
    assert body["error"].startswith("the database is unreachable")
    for secret in ("127.0.0.1", str(port), "radar_books", "radar_user", "pw-s3cret"):
        assert secret not in answer.text
    for driver in ("psycopg", "OperationalError", "connection to server", "postgres"):
        assert driver.lower() not in answer.text.lower()
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "bot.infra.health")
    assert "OperationalError" in logged and str(port) in logged  # the detail is kept, server-side
    assert "pw-s3cret" in Settings(database_url=url).secret_values()  # so the log redacts it
