"""The shadow rules in the poll: they open, re-score and clear their own alerts by the live
engine's rule, apart from the live alerts, and a changed rule set starts afresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory
from db.models import Alert, AlertStatus, OutboxMessage, ShadowAlert
from db.outbox_payloads import OutboxKind
from sources.demo import demo_batch
from tests.bot.slack.test_shadow import CANDIDATE, DAY0, DAY1, book, live_config


def _shadow_alerts(factory: SessionFactory) -> list[ShadowAlert]:
    with factory() as session:
        return list(session.exec(select(ShadowAlert).order_by(col(ShadowAlert.id))).all())


def _poll(factory: SessionFactory, config: AppConfig) -> None:
    for day in (DAY0, DAY1):
        run_cycle(factory, [demo_batch(day, book(day))], day, config)


def test_a_shadow_alert_clears_when_the_pitch_goes_and_live_alerts_are_untouched(
    factory: SessionFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "candidate.yml"
    rules.write_text(CANDIDATE, encoding="utf-8")
    config = live_config(rules)
    _poll(factory, config)
    opened = _shadow_alerts(factory)
    assert [a.status for a in opened] == ["open", "open"]
    with factory() as session:
        shadow_posts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.SHADOW)
        ).all()
        assert all(m.alert_id is None for m in shadow_posts) and len(shadow_posts) == 2
    # a month later health turns red: the gate holds every pitch
    later = DAY1 + timedelta(days=30)
    spec = book(DAY1)
    for acct in spec["accounts"]:
        acct["health"] = "red"
    run_cycle(factory, [demo_batch(later, spec)], later, config)
    after = _shadow_alerts(factory)
    assert [a.status for a in after] == [AlertStatus.CLEARED, AlertStatus.CLEARED]
    assert [a.id for a in after] == [a.id for a in opened]  # cleared, not opened anew
    with factory() as session:
        live = session.exec(select(Alert)).all()
        assert [a.status for a in live] == [AlertStatus.CLEARED]  # the live one, by its rules
        shadow_posts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.SHADOW)
        ).all()
        assert len(shadow_posts) == 2  # a shadow card is never edited


def test_changed_shadow_rules_start_their_own_comparison(
    factory: SessionFactory, tmp_path: Path
) -> None:
    first = tmp_path / "first.yml"
    first.write_text(CANDIDATE, encoding="utf-8")
    _poll(factory, live_config(first))
    second = tmp_path / "second.yml"
    second.write_text(CANDIDATE.replace("0.80", "0.81"), encoding="utf-8")
    config = live_config(second)
    run_cycle(factory, [demo_batch(DAY1, book(DAY1))], DAY1, config)
    alerts = _shadow_alerts(factory)
    assert config.alerts.shadow is not None
    assert len({a.rules for a in alerts}) == 2
    assert [a.account_id for a in alerts if a.rules == config.alerts.shadow.key] == [
        a.account_id for a in alerts[:2]
    ]
    with factory() as session:
        assert len(session.exec(select(Alert)).all()) == 1  # the live rules raised nothing more
