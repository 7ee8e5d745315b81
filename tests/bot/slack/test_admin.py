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
from bot.slack.admin import MAX_LISTED, reload_note
from bot.slack.blocks.base import SECTION_TEXT
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AuditLog, OutboxMessage, utcnow
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
def admin_channel() -> str | None:
    return "#radar-admin"


@pytest.fixture
def config(admins: tuple[str, ...], admin_channel: str | None) -> AppConfig:
    return AppConfig(
        slack=SlackConfig(admin_channel=admin_channel, hourly_cap_per_channel=50, admins=admins),
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
    assert _queued(factory) == []
    deps.sender.run_once()
    assert slack.posts() == []  # nothing reached the admin channel either


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


# --- what a reload changed, for review -----------------------------------------------------

BEFORE = """
slack:
  admins: [U0BOSS0001]
  admin_channel: "#radar-admin"
  escalation: {bands: [priority]}
scoring:
  triggers: {capacity_fire: 0.85, capacity_rearm: 0.75}
"""
AFTER = BEFORE.replace("0.85", "0.80").replace("[priority]", "[priority, ready]")
CAPACITY = "Capacity trigger: fires at 80% of what they bought (was 85%)"
ESCALATING = "Bands that escalate: Priority, Ready (was Priority)"


def _queued(factory: SessionFactory) -> list[str]:
    with factory() as session:
        return [r.kind for r in session.exec(select(OutboxMessage)).all()]


def _admin_posts(slack: FakeSlack) -> list[str]:
    return [p["text"] for p in slack.posts() if p["channel"] == "#radar-admin"]


def test_reload_posts_what_changed_to_the_admin_channel_once(
    server, slack, factory, config_file: Path
) -> None:
    url, deps = server
    config_file.write_text(BEFORE, encoding="utf-8")
    assert "Reloaded" in _say(url, slack, "admin reload", BOSS)  # from the fixture's config
    deps.sender.run_once()
    seen = len(_admin_posts(slack))

    config_file.write_text(AFTER, encoding="utf-8")
    said = _say(url, slack, "admin reload", BOSS)
    assert f"Reloaded `{config_file}`: 2 changes, listed in #radar-admin." in said
    assert "at the next restart" in said  # what takes effect when
    assert deps.config.scoring.triggers.capacity_fire == 0.80
    deps.sender.run_once()
    [note] = _admin_posts(slack)[seen:]
    assert note.startswith(f"<@{BOSS}> reloaded the config from `{config_file}`: 2 changes.")
    assert f"• {CAPACITY}" in note and f"• {ESCALATING}" in note
    assert _audits(factory)[-1] == (
        BOSS,
        "admin.reload",
        {"outcome": "reloaded", "path": str(config_file), "changes": 2},
    )

    said = _say(url, slack, "admin reload", BOSS)  # the same file again
    assert f"Reloaded `{config_file}`: no changes." in said
    deps.sender.run_once()
    [note] = _admin_posts(slack)[seen + 1 :]
    assert ": nothing changed." in note and CAPACITY not in note
    assert _audits(factory)[-1][2]["changes"] == 0


def test_an_invalid_file_queues_no_note_and_keeps_the_old_config(
    server, slack, factory, config_file: Path
) -> None:
    url, deps = server
    before = deps.config
    config_file.write_text(AFTER.replace("0.80", "0.70"), encoding="utf-8")  # below re-arm
    said = _say(url, slack, "admin reload", BOSS)
    assert "*not* reloaded" in said and "capacity_rearm" in said
    assert deps.config is before and _queued(factory) == []
    deps.sender.run_once()
    assert slack.posts() == []


@pytest.mark.parametrize("admin_channel", [None])
def test_without_an_admin_channel_the_answer_lists_the_changes(
    server, slack, factory, config_file: Path
) -> None:
    url, deps = server
    config_file.write_text(BEFORE.replace('  admin_channel: "#radar-admin"\n', ""), "utf-8")
    _say(url, slack, "admin reload", BOSS)
    config_file.write_text(AFTER.replace('  admin_channel: "#radar-admin"\n', ""), "utf-8")
    said = json.loads(_say(url, slack, "admin reload", BOSS))["text"]
    assert said.startswith(f"Reloaded `{config_file}`: 2 changes (no `slack.admin_channel`")
    assert f"• {CAPACITY}\n• {ESCALATING}\n" in said and "at the next restart" in said
    assert _queued(factory) == []  # the sender could only have logged it
    deps.sender.run_once()
    assert slack.posts() == []


def test_a_long_diff_is_cut_to_whole_lines_and_counted_and_values_are_escaped() -> None:
    changes = [f"routing.owner_map: owner{i}@example.com added (U{i:08d})" for i in range(100)]
    note = reload_note(BOSS, "/etc/radar.yml", ["Escalations go to <!channel> @here", *changes])
    lines = note.split("\n")
    assert len(note) <= SECTION_TEXT and lines[0].endswith(": 101 changes.")
    assert "<!channel>" not in note and "&lt;!channel&gt;" in lines[1] and "@here" not in note
    assert 1 < len(lines) - 2 <= MAX_LISTED
    assert lines[-1] == f"…and {101 - (len(lines) - 2)} more"


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
    assert accounts == 32  # the demo source was polled
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
