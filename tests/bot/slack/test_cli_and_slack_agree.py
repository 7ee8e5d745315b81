"""Issue 15, "CLI and Slack agree": ``expansion-radar plan start`` and Slack's Start plan
(``/expansion plan`` and the button, over signed HTTP) are one rule. Both refuse the same
accounts for the same reason, both tie a new plan to the account's open alert, and ``stats``
(CLI and ``/expansion stats``) counts each plan once, whichever surface started it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import bot.cli
import bot.cli_common
import db.accounts
import db.alerts
import db.plans
from bot.domain.errors import DomainError, GateBlocked, NothingToOffer
from bot.domain.plans import refuse_plan
from bot.domain.portfolio import assess_account
from bot.infra.settings import AppConfig
from bot.slack.deps import Deps
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from bot.slack.wording import word
from db.engine import SessionFactory
from db.models import Account, Alert, AlertStatus, AuditLog, OutboxMessage, Plan
from scoring.gate import GateCode
from tests.bot.slack.conftest import action_body, command_body, post, signed, slash, wait_for
from tests.fakes import FakeSlack

# The demo book's 15 posted alerts, each with its estimated expansion ARR (the digest-only
# ones, Summit Legal, Sapphire Dental, Cascade Apparel and Osprey Analytics, are not in the
# pipeline):
POSTED = {
    "BrightOps Agency": 5_760,
    "Northwind Logistics": 22_400,
    "Helios Health": 24_000,
    "Quillsoft": 1_440,
    "Lumen Analytics": 7_800,
    "Kestrel Media": 9_600,
    "Verdant Foods": 9_400,
    "Nimbus Cloudworks": 24_000,
    "Granite Manufacturing": 21_600,
    "Tidewater Energy": 30_800,
    "Falcon Freight": 10_800,
    "Aurora Fintech": 13_200,
    "Polar Data": 10_000,
    "Crescent Pharma": 62_500,
    "Solstice Gaming": 21_350,
}
PIPELINE = 274_650  # their sum, worked out by hand; a plan replaces its alert's estimate

# Each reason the rule refuses a plan, on the demo account that has it first.
REFUSALS = [
    pytest.param(
        "Meridian Bank",
        GateCode.RED_HEALTH,
        "*Meridian Bank* needs fixing first: Stabilise the account: find what turned health"
        " red and agree a recovery plan. No expansion plan until then.",
        id="red-health",
    ),
    pytest.param(
        "Ironclad Security",
        GateCode.URGENT_TICKET,
        "*Ironclad Security* needs fixing first: Get the open urgent issue resolved, then raise"
        " expansion on the next touch. No expansion plan until then.",
        id="urgent-ticket",
    ),
    pytest.param(
        "Atlas Robotics",
        GateCode.CHAMPION_GONE,
        "*Atlas Robotics* needs fixing first: Find and win over a new champion before proposing"
        " anything. No expansion plan until then.",
        id="champion-gone",
    ),
    pytest.param(
        "Pinecrest Schools",
        GateCode.NO_RECENT_CONTACT,
        "*Pinecrest Schools* needs fixing first: Reconnect with a value check-in that asks for"
        " nothing. No expansion plan until then.",
        id="no-recent-contact",
    ),
    pytest.param(
        "Redwood Partners",
        GateCode.NO_OUTCOME,
        "*Redwood Partners* needs fixing first: Help them reach a first measurable result tied"
        " to their goal, and log it; expansion follows value, not the other way round. No"
        " expansion plan until then.",
        id="no-outcome",
    ),
    pytest.param(
        "Cobalt Retail",
        None,
        "No expansion plan for *Cobalt Retail* yet. Activate first: Run an enablement session on"
        " the features they already pay for; revisit expansion once adoption passes 40%.",
        id="nothing-to-offer-activate-first",
    ),
    pytest.param(
        "Juniper Labs",
        None,
        "No expansion plan for *Juniper Labs* yet. Nothing to offer yet: keep building value.",
        id="nothing-to-offer",
    ),
]


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Cli:
    """``expansion-radar ARGS`` in this process, on the test's database: (exit code, what the
    user reads — stdout, or the one-line error ``main`` prints)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(bot.cli, "configure_logging", lambda *a, **k: None)  # keep pytest's

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(bot.cli.app, list(args))
        if isinstance(result.exception, bot.cli_common.CliError):
            return 1, str(result.exception)
        assert result.exception is None, result.exception
        return result.exit_code, result.output

    return run


def _account(factory: SessionFactory, name: str) -> Account:
    with factory() as session:
        account = session.exec(select(Account).where(Account.name == name)).one()
        session.expunge(account)
    return account


def _plans(factory: SessionFactory) -> list[Plan]:
    with factory() as session:
        plans = list(session.exec(select(Plan)).all())
        session.expunge_all()
    return plans


def _press_start_plan(url: str, slack: FakeSlack, value: ActionValue, rid: str) -> str:
    """The Start plan button, as Slack posts it; what the person is told."""
    body = action_body(slack, action_id=Action.START_PLAN.value, value=value.dump(), rid=rid)
    assert post(url, body, signed(body)).status_code == 200
    said: list[dict[str, Any]] = wait_for(lambda: slack.responses(rid))
    return str(said[0]["text"])


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("name", "code", "slack_words"), REFUSALS)
def test_cli_refuses_what_slack_refuses_for_the_same_reason(
    server: tuple[str, Deps],
    slack: FakeSlack,
    factory: SessionFactory,
    config: AppConfig,
    cli: Cli,
    today: date,
    name: str,
    code: GateCode | None,
    slack_words: str,
) -> None:
    url, _ = server
    account = _account(factory, name)
    assert account.id is not None
    with pytest.raises(DomainError) as refused, factory() as session:  # the one rule
        refuse_plan(account, assess_account(session, account, today, config).assessment)
    if code is None:
        assert isinstance(refused.value, NothingToOffer)
    else:
        assert isinstance(refused.value, GateBlocked) and refused.value.code is code
    assert word(refused.value) == slack_words

    by_command = slash(url, slack, f"plan {account.key}")
    by_button = _press_start_plan(url, slack, ActionValue(account=account.id), rid=account.key)
    status, by_cli = cli("plan", "start", account.key, "--today", today.isoformat())

    assert by_command["text"] == by_button == slack_words
    assert status == 1 and by_cli == slack_words.replace("*", "")  # the same words, plain
    assert _plans(factory) == []


def _stats_lines(cli: Cli, today: date) -> list[str]:
    status, out = cli("stats", "--today", today.isoformat())
    assert status == 0
    return out.splitlines()


def _slack_stats(url: str, slack: FakeSlack, rid: str) -> str:
    body = command_body(slack, "stats", rid=rid)
    assert post(url, body, signed(body)).status_code == 200
    said = wait_for(lambda: slack.responses(rid))[-1]
    return json.dumps(said["blocks"], ensure_ascii=False)


@pytest.mark.usefixtures("seeded")
def test_stats_count_each_plan_once_whichever_surface_started_it(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, cli: Cli, today: date
) -> None:
    url, _ = server
    assert sum(POSTED.values()) == PIPELINE
    before = _stats_lines(cli, today)
    assert f"Expansion pipeline: ${PIPELINE:,}" in before
    assert "Alerts that became plans: 0% (0/15)" in before

    # A plan from the CLI on one account, a plan from Slack on another.
    status, out = cli("plan", "start", "brightops", "--today", today.isoformat())
    assert status == 0 and out.startswith("Started the 90-day plan for BrightOps Agency:")
    assert "Started" in slash(url, slack, "plan nimbus")["text"]

    brightops = _account(factory, "BrightOps Agency")
    assert brightops.id is not None
    with factory() as session:  # the CLI's plan is tied to the alert as Slack's is
        alert = db.alerts.latest_alert(session, brightops.id)
        plan = db.plans.open_plan(session, brightops.id)
        assert alert is not None and plan is not None
        assert plan.alert_id == alert.id and plan.expected_arr == POSTED["BrightOps Agency"]
        assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_at is not None
        noted = session.exec(
            select(AuditLog).where(AuditLog.action == "alert.plan", AuditLog.target_id == alert.id)
        ).all()
        assert len(noted) == 1 and noted[0].detail["plan"] == plan.id
        updates = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.alert_id == alert.id, OutboxMessage.kind == "update"
            )
        ).all()
        assert len(updates) == 1  # its Slack message is redrawn as planned

    # Two plans out of 15 posted alerts: 2/15 = 13%. Each plan's expected ARR replaces its
    # alert's estimate, so the pipeline is unchanged (counted twice it would be $280,410).
    after_two = _stats_lines(cli, today)
    assert f"Expansion pipeline: ${PIPELINE:,}" in after_two
    assert "Alerts that became plans: 13% (2/15)" in after_two

    # Both surfaces on the same account: Slack then the CLI, and the CLI then Slack's button.
    assert "Started" in slash(url, slack, "plan polar data")["text"]
    status, out = cli("plan", "start", "polar data", "--today", today.isoformat())
    assert status == 0 and out.startswith("Already open: the 90-day plan for Polar Data:")
    status, out = cli("plan", "start", "verdant", "--today", today.isoformat())
    assert status == 0 and out.startswith("Started")
    verdant = _account(factory, "Verdant Foods")
    with factory() as session:
        assert verdant.id is not None
        verdant_alert = db.alerts.open_alert(session, verdant.id)
        assert verdant_alert is not None and verdant_alert.id is not None
    value = ActionValue(alert=verdant_alert.id, account=verdant.id)
    assert "Already open" in _press_start_plan(url, slack, value, rid="verdant-again")

    plans = _plans(factory)
    with factory() as session:
        planned = {a.id: acc.name for a, acc in db.alerts.alerts_with_accounts(session)}
    assert sorted(planned[p.alert_id] for p in plans if p.alert_id) == [
        "BrightOps Agency",
        "Nimbus Cloudworks",
        "Polar Data",
        "Verdant Foods",
    ]
    assert len(plans) == 4
    # Four plans, one per alert: 4/15 = 27%; still $274,650 (not $274,650 + 5,760 + …).
    lines = _stats_lines(cli, today)
    assert f"Expansion pipeline: ${PIPELINE:,}" in lines
    assert "Alerts that became plans: 27% (4/15)" in lines
    in_slack = _slack_stats(url, slack, "stats-after")
    assert f"Expansion pipeline: ${PIPELINE:,}" in in_slack
    assert "Alerts that became plans: 27% (4/15)" in in_slack
    with factory() as session:
        open_alerts = session.exec(select(Alert).where(Alert.status == AlertStatus.OPEN)).all()
    assert len(open_alerts) == 19 - 4  # every planned alert was acknowledged, no other
