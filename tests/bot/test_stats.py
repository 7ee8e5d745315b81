"""Outcome metrics wired to the database: alerts, plans and ARR history as stored."""

from __future__ import annotations

from datetime import date, timedelta

import db.accounts
import db.alerts
from bot.domain.plans import close_plan, start_plan
from bot.domain.portfolio import assess_account
from bot.domain.stats import load_metrics, metrics_lines
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory, transaction
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
