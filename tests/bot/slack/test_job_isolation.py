"""Scheduled jobs isolate their items: one failing step reminder or digest is logged and
rolled back (so the next tick retries it) while the others still go out."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.infra.settings import AppConfig
from bot.slack import jobs, plan_cards
from bot.slack.blocks.digests import daily_digest_text
from bot.slack.deps import Deps
from db.engine import SessionFactory
from db.models import OutboxMessage, PlanStep
from tests.bot.slack.test_plans_in_slack import _at_nine_thirty, _start_plan


def _dm_recipients(factory: SessionFactory) -> list[str]:
    with factory() as session:
        return [
            str(m.payload.get("email"))
            for m in session.exec(select(OutboxMessage))
            if m.kind == "dm"
        ]


@pytest.mark.usefixtures("seeded")
def test_one_failing_step_reminder_does_not_stop_the_others(
    deps: Deps,
    factory: SessionFactory,
    config: AppConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deps.sender.run_once(limit=500)
    _, steps = _start_plan(factory, config, "BrightOps Agency")
    first, second = steps[0].id, steps[1].id
    now = _at_nine_thirty(steps[1].window_start)  # the first is overdue, the second opens
    real = plan_cards.step_reminder

    def broken(session: Any, *, reminder: Any) -> None:
        if reminder.step_id == first:
            raise RuntimeError("boom")
        real(session, reminder=reminder)

    monkeypatch.setattr(plan_cards, "step_reminder", broken)
    assert jobs.send_step_reminders(factory, deps.router, config, now) == 1
    assert "reminding plan step" in caplog.text
    with factory() as session:
        failed, sent = session.get(PlanStep, first), session.get(PlanStep, second)
        assert failed is not None and sent is not None
        assert failed.reminded_overdue_at is None  # rolled back: the next tick retries it
        assert sent.reminded_open_at is not None
    monkeypatch.setattr(plan_cards, "step_reminder", real)
    assert jobs.send_step_reminders(factory, deps.router, config, now) == 1  # the retry
    assert jobs.send_step_reminders(factory, deps.router, config, now) == 0


@pytest.mark.usefixtures("seeded")
def test_one_failing_daily_digest_does_not_stop_the_others(
    deps: Deps,
    factory: SessionFactory,
    config: AppConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deps.sender.run_once(limit=500)
    now = _at_nine_thirty(date.today()) + timedelta(hours=3)  # past nine for everyone
    real = daily_digest_text

    def broken(digest: Any) -> str:
        if digest.owner == "luis.ortega@example.com":  # the first owner in order
            raise RuntimeError("boom")
        return real(digest)

    monkeypatch.setattr(jobs, "daily_digest_text", broken)
    assert jobs.send_daily_digests(factory, deps.router, config, now) == 1
    assert "daily digest for" in caplog.text
    assert _dm_recipients(factory) == ["maya.chen@example.com"]
    monkeypatch.setattr(jobs, "daily_digest_text", real)
    assert jobs.send_daily_digests(factory, deps.router, config, now) == 1  # Luis's, unclaimed
    assert sorted(_dm_recipients(factory)) == ["luis.ortega@example.com", "maya.chen@example.com"]
