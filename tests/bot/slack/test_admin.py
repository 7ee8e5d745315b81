"""Admin-only commands over real HTTP: ``/expansion admin reload`` and ``admin poll``, and
reassigning someone else's alert. Only ``slack.admins`` may; every attempt is audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

import db.runs
from bot.infra.settings import AppConfig, Settings
from bot.scheduler import LEASE, POLL_JOB, add_source_jobs, build_scheduler
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AuditLog, utcnow
from sources.config import SourcesConfig
from tests.bot.slack.conftest import (
    BOSS,
    JONAS,
    MAYA,
    action_body,
    form,
    post,
    signed,
    slash,
    view_submission,
    wait_for,
)
from tests.fakes import FakeSlack

GOOD = """
slack:
  admins: [U0BOSS0001]
  top_default: 3
routing:
  rules:
    - segment: Enterprise
      channel: "#expansion-enterprise"
"""
BAD = """
slack:
  admins: [U0BOSS0001]
  hourly_cap_per_channel: 0
"""


@pytest.fixture
def admins() -> tuple[str, ...]:
    return (BOSS,)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "radar.yml"
    path.write_text("slack:\n  admins: [U0BOSS0001]\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(slack: FakeSlack, config_file: Path) -> Settings:
    return Settings(
        slack_bot_token=slack.auth_token,
        slack_signing_secret="test-signing-secret-0123456789",
        slack_api_url=slack.url,
        expansion_radar_config=config_file,
    )


@pytest.fixture
def config(admins: tuple[str, ...]) -> AppConfig:
    return AppConfig(
        slack=SlackConfig(admin_channel="#radar-admin", hourly_cap_per_channel=50, admins=admins),
        routing=RoutingConfig(),
        sources=SourcesConfig.model_validate({"demo": {"enabled": True}}),
    )


def _say(url: str, slack: FakeSlack, text: str, user: str) -> str:
    answer = slash(url, slack, text, user=user)
    assert answer["response_type"] == "ephemeral"
    return json.dumps(answer, ensure_ascii=False)


def _audits(factory: SessionFactory, prefix: str = "admin.") -> list[tuple[str | None, str, Any]]:
    with factory() as session:
        rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()  # type: ignore[arg-type]
        return [(r.user_id, r.action, r.detail) for r in rows if r.action.startswith(prefix)]


def test_non_admins_are_refused_kindly_with_the_admins_named(server, slack, factory) -> None:
    url, deps = server
    before = deps.config
    for text in ("admin reload", "admin poll"):
        said = _say(url, slack, text, MAYA)
        assert "only Expansion Radar admins" in said and f"<@{BOSS}>" in said
    assert deps.config is before
    assert _audits(factory) == [
        (MAYA, "admin.reload", {"outcome": "refused"}),
        (MAYA, "admin.poll", {"outcome": "refused"}),
    ]
    with factory() as session:
        assert db.runs.lease_holder(session, LEASE) is None  # no poll was started


@pytest.mark.parametrize("admins", [()])
def test_without_admins_configured_admin_commands_are_off(server, slack, factory) -> None:
    url, _ = server
    said = _say(url, slack, "admin reload", BOSS)
    assert "Admin commands are off" in said and "slack.admins" in said
    assert _audits(factory)[-1] == (BOSS, "admin.reload", {"outcome": "refused"})


def test_an_unknown_admin_action_gets_the_help(server, slack) -> None:
    url, _ = server
    said = _say(url, slack, "admin drop-tables", BOSS)
    assert "takes `reload`" in said and "What I can do" in said


def test_reload_swaps_in_a_valid_file_and_keeps_the_old_config_on_a_bad_one(
    server, slack, factory, config_file: Path
) -> None:
    url, deps = server
    config_file.write_text(BAD, encoding="utf-8")
    before = deps.config
    said = _say(url, slack, "admin reload", BOSS)
    assert "*not* reloaded" in said and "slack.hourly_cap_per_channel" in said
    assert deps.config is before and deps.sender.config is before

    config_file.write_text(GOOD, encoding="utf-8")
    said = _say(url, slack, "admin reload", BOSS)
    assert "Reloaded" in said
    assert deps.config.slack.top_default == 3
    assert deps.router.routing.rules[0].channel == "#expansion-enterprise"
    assert deps.sender.config is deps.config
    outcomes = [detail["outcome"] for _, action, detail in _audits(factory)]
    assert outcomes == ["invalid", "reloaded"]


def test_reload_reschedules_the_poll_with_the_new_config(
    server, slack, factory, settings: Settings, config: AppConfig, config_file: Path
) -> None:
    """What ``run`` wires up: the scheduled poll takes the reloaded config (sources, schedule)."""
    url, deps = server
    scheduler = build_scheduler(settings, config, factory)
    scheduler.start(paused=True)
    try:
        deps.on_reload.append(lambda new: add_source_jobs(scheduler, settings, new, factory))
        assert scheduler.get_job(POLL_JOB).args[1] is config
        config_file.write_text(GOOD, encoding="utf-8")
        assert "Reloaded" in _say(url, slack, "admin reload", BOSS)
        assert scheduler.get_job(POLL_JOB).args[1] is deps.config is not config
    finally:
        scheduler.shutdown(wait=False)


def test_poll_runs_in_the_background_behind_the_poll_lease(server, slack, factory) -> None:
    url, _ = server
    said = _say(url, slack, "admin poll", BOSS)
    assert "Started a poll" in said

    def finished() -> bool:
        with factory() as session:
            lease = db.runs.lease_holder(session, LEASE)
            return lease is not None and lease.expires_at.replace(tzinfo=None) < utcnow().replace(
                tzinfo=None
            )

    wait_for(finished, timeout=60)
    with factory() as session:
        accounts = session.exec(select(func.count()).select_from(Account)).one()
    assert accounts == 30  # the demo source was polled
    assert _audits(factory) == [(BOSS, "admin.poll", {"outcome": "started"})]


def test_poll_says_so_when_one_is_already_running(server, slack, factory) -> None:
    url, _ = server
    with transaction(factory) as session:
        assert db.runs.acquire_lease(
            session, name=LEASE, holder="other-replica", now=utcnow(), ttl=timedelta(minutes=5)
        )
    said = _say(url, slack, "admin poll", BOSS)
    assert "already running" in said
    assert _audits(factory) == [(BOSS, "admin.poll", {"outcome": "busy"})]
    with factory() as session:
        lease = db.runs.lease_holder(session, LEASE)
        assert lease is not None and lease.holder == "other-replica"


# --- reassigning someone else's alert --------------------------------------------------------


def _reassign(url: str, slack: FakeSlack, alert: Alert, *, by: str, to: str) -> None:
    meta = ActionValue(alert=alert.id, account=alert.account_id).dump()
    chosen = {"reassign_user_block": {"reassign_user": {"selected_user": to}}}
    body = form(view_submission("reassign_modal", meta, chosen, user=by))
    assert post(url, body, signed(body)).status_code == 200


def _alert_owned_by(factory: SessionFactory, user: str) -> Alert:
    with factory() as session:
        for alert in session.exec(select(Alert)).all():
            if alert.owner_slack_id == user and alert.status == "open":
                return alert
    raise AssertionError(f"no open alert owned by {user}")


def _owner(factory: SessionFactory, alert_id: int | None) -> str | None:
    with factory() as session:
        found = session.get(Alert, alert_id)
        assert found is not None
        return found.owner_slack_id


@pytest.mark.usefixtures("seeded")
def test_only_the_owner_or_an_admin_may_reassign_an_alert(server, slack, factory) -> None:
    url, deps = server
    deps.sender.run_once(limit=500)  # delivery resolves each alert's owner to a Slack user
    alert = _alert_owned_by(factory, MAYA)

    _reassign(url, slack, alert, by=JONAS, to=JONAS)  # not his alert, not an admin
    told = wait_for(lambda: [c for c in slack.calls("chat.postMessage") if "owner" in c["text"]])
    assert "owner or an Expansion Radar admin" in told[-1]["text"]
    assert _owner(factory, alert.id) == MAYA

    _reassign(url, slack, alert, by=BOSS, to=JONAS)  # an admin may
    wait_for(lambda: _owner(factory, alert.id) == JONAS)
    assert _audits(factory, "alert.reassign")[-1][:2] == (BOSS, "alert.reassign")

    # the button does not even open the picker for someone who may not use it
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.REASSIGN.value, value=value, user=MAYA, rid="r")
    assert post(url, body, signed(body)).status_code == 200
    said = wait_for(lambda: slack.responses("r"))
    assert "owner or an Expansion Radar admin" in said[-1]["text"]
    assert not slack.calls("views.open")
