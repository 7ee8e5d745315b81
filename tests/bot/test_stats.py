"""Outcome metrics wired to the database: alerts, plans and ARR history as stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alembic import command

import db.accounts
import db.alerts
import db.plans
from bot.domain.plans import close_plan, start_plan
from bot.domain.portfolio import assess_account
from bot.domain.stats import load_metrics, metrics_lines
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory, transaction
from sources.demo import demo_batch

DAY = date(2026, 11, 20)


def test_metrics_from_the_database(factory: SessionFactory) -> None:
    result = run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    with transaction(factory) as s:
        alerts = {acc.key: a for a, acc in db.alerts.alerts_with_accounts(s, result.new_alerts)}
        for n, key in enumerate(["brightops-agency", "nimbus-cloudworks"]):
            alert = alerts[key]
            alert.acknowledged_at = alert.created_at + timedelta(hours=2 + 2 * n)  # 2 h and 4 h
            alert.feedback = "useful"
            account = db.accounts.account_by_key(s, key)
            assert account is not None
            scored = assess_account(s, account, DAY, AppConfig())
            plan, _ = start_plan(
                s,
                account=account,
                assessment=scored.assessment,
                start=DAY,
                owner=account.owner_email,
                user_id="U1",
                alert=alert,
            )
            if n == 0:
                close_plan(s, plan=plan, outcome="won", user_id="U1", arr=5_000)
            else:
                close_plan(s, plan=plan, outcome="lost", user_id="U1", reason="budget frozen")
        alerts["aurora-fintech"].feedback = "noise"
    with factory() as s:
        m = load_metrics(s, today=DAY)
    assert m.won_arr == 5_000 and m.average_deal_arr == 5_000
    assert (m.alert_to_plan.hits, m.alert_to_plan.total) == (2, len(result.new_alerts))
    assert m.median_hours_to_ack == 3
    assert (
        m.conversion_by_offer["capacity"].hits == 1 and m.conversion_by_offer["capacity"].total == 2
    )
    assert (
        m.precision_by_trigger["capacity"].value == 2 / 3
    )  # BrightOps, Nimbus useful; Aurora noise
    assert m.average_days_to_close is not None and m.average_days_to_close < 1
    # The demo's ARR is flat over its 150 days of history, so over that window NRR is 100%.
    with factory() as s:
        flat = load_metrics(s, today=DAY, period_days=100)
    assert flat.nrr == 1.0 and flat.grr == 1.0
    assert m.nrr is None  # a year back there is no ARR on record
    text = "\n".join(metrics_lines(m))
    assert "Won so far: $5,000" in text and "not enough revenue data" in text
    # Seed 001: flat ARR means no expansion share yet; the win is too fresh (closed today) to
    # count for retention; no opening conversation has been ticked off.
    assert flat.expansion_share == 0.0 and m.conversations == 0
    assert (m.retained_after_expansion.hits, m.retained_after_expansion.total) == (0, 0)
    with transaction(factory) as s:
        brightops = db.accounts.account_by_key(s, "brightops-agency")
        assert brightops is not None and brightops.id is not None
        (won,) = [p for p, _ in db.plans.outcome_rows(s)[1] if p.account_id == brightops.id]
        assert won.id is not None
        won.closed_at = datetime(2026, 11, 20, 12, tzinfo=UTC)  # not the wall clock
        first = db.plans.plan_steps(s, won.id)[0]
        first.status = "done"
    with factory() as s:
        later = load_metrics(s, today=DAY + timedelta(days=91), period_days=100)
    assert later.conversations == 1
    assert (later.retained_after_expansion.hits, later.retained_after_expansion.total) == (1, 1)
    text = "\n".join(metrics_lines(later))
    assert "Expansion conversations completed: 1" in text
    assert "Still customers 90+ days after expanding: 100% (1/1)" in text
    assert "Expansion share of revenue: 0%" in text and "Not measurable from our data" in text


def test_plans_the_old_cli_left_unlinked_are_tied_to_their_open_alert(database_url: str) -> None:
    """Migration 0008a: a CLI plan started before issue 15 (no alert, no user) counts its
    account's open alert as planned; a Slack plan from an account card and a CLI plan whose
    alert has since closed stay as they were."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)  # today's schema for today's models (PostgreSQL's copy is at head)
    factory = session_factory(engine)
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    starters = {"brightops-agency": None, "nimbus-cloudworks": "U1", "polar-data": None}
    with transaction(factory) as s:
        alerts = {acc.key: a for a, acc in db.alerts.alerts_with_accounts(s)}
        alerts["polar-data"].status = "dismissed"
        for key, user in starters.items():
            account = db.accounts.account_by_key(s, key)
            assert account is not None
            scored = assess_account(s, account, DAY, AppConfig())
            start_plan(
                s,
                account=account,
                assessment=scored.assessment,
                start=DAY,
                owner=account.owner_email,
                user_id=user,
            )
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:  # back to the book as it was before 0008a
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007h")
    with factory() as s:
        before = load_metrics(s, today=DAY)
    # counted twice: BrightOps $5,760 and Nimbus $24,000 as alerts and again as plans
    assert before.pipeline_arr == 267_450 + 5_760 + 24_000 + 10_000
    assert (before.alert_to_plan.hits, before.alert_to_plan.total) == (0, 15)
    migrate.upgrade(engine)
    with factory() as s:
        linked = {p.account_id: p.alert_id for p, _ in db.plans.outcome_rows(s)[1]}
        after = load_metrics(s, today=DAY)
    brightops, nimbus, polar = (alerts[k] for k in starters)
    assert linked == {
        brightops.account_id: brightops.id,
        nimbus.account_id: None,
        polar.account_id: None,
    }
    assert after.pipeline_arr == 267_450 + 24_000 + 10_000  # BrightOps' value once
    assert (after.alert_to_plan.hits, after.alert_to_plan.total) == (1, 15)
    engine.dispose()
