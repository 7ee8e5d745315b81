"""The shadow rules in the poll: they open, re-score and clear their own alerts by the live
engine's rule, apart from the live alerts; new rules start from where the live rules are; and
their cards wait behind every live message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.domain.shadow_stats import compare
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory
from db.models import Account, Alert, AlertStatus, OutboxMessage, ShadowAlert, utcnow
from db.outbox_payloads import OutboxKind
from db.shadow import MIRROR
from sources.demo import demo_batch
from tests.bot.slack.test_shadow import BANDS, CANDIDATE, DAY0, DAY1, SEATS, book, live_config


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
        live_posts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind != OutboxKind.SHADOW)
        ).all()
        assert live_posts  # Birch's card: it goes first, whatever the scores
        assert max(m.priority for m in shadow_posts) < 0 <= min(m.priority for m in live_posts)
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


def test_changed_shadow_rules_start_from_where_the_live_rules_are(
    factory: SessionFactory, tmp_path: Path
) -> None:
    """New rules take over the live rules' episodes and open alert at their first look at an
    account, so they raise only what differs; the replaced rules' open alerts are cleared."""
    first = tmp_path / "first.yml"
    first.write_text(CANDIDATE, encoding="utf-8")
    _poll(factory, live_config(first))
    old = _shadow_alerts(factory)
    second = tmp_path / "second.yml"
    second.write_text(CANDIDATE.replace("0.80", "0.81"), encoding="utf-8")
    config = live_config(second)
    assert config.alerts.shadow is not None
    run_cycle(factory, [demo_batch(DAY1, book(DAY1))], DAY1, config)
    alerts = _shadow_alerts(factory)
    retired = [a for a in alerts if a.id in {o.id for o in old}]
    assert [a.status for a in retired] == [AlertStatus.CLEARED, AlertStatus.CLEARED]
    new = {a.account_id: a for a in alerts if a.rules == config.alerts.shadow.key}
    with factory() as session:
        live = session.exec(select(Alert)).one()  # Birch's, and the live rules raised no more
        names = {a.id: a.name for a in session.exec(select(Account)).all()}
    # Birch: the live alert, taken over (open, never posted); Aster: 81% is new to the live rules
    assert new[live.account_id].delivery == MIRROR
    assert new[live.account_id].status == AlertStatus.OPEN
    [raised] = [a for a in new.values() if a.delivery != MIRROR]
    assert names[raised.account_id] == "Aster" and raised.delivery == "channel"
    with factory() as session:
        posts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.SHADOW)
        ).all()
    assert len(posts) == len(old) + 1


def test_identical_rules_turned_on_later_raise_exactly_the_live_alerts(
    factory: SessionFactory, tmp_path: Path
) -> None:
    """Shadow rules equal to the live ones, turned on after the live rules have run: nothing
    at first (the live alert is taken over), then the same new alert as the live rules."""
    same = tmp_path / "same.yml"
    same.write_text(f"alerts:\n  post_bands: {BANDS}\n  digest_bands: []\n", encoding="utf-8")
    _poll(factory, live_config(None))
    config = live_config(same)
    run_cycle(factory, [demo_batch(DAY1, book(DAY1))], DAY1, config)
    assert [a.delivery for a in _shadow_alerts(factory)] == [MIRROR]  # Birch's, taken over
    day2 = DAY1 + timedelta(days=30)
    seats = SEATS | {"Cedar": (100, 105, 131)}  # Cedar crosses 85% a month later
    run_cycle(factory, [demo_batch(day2, book(day2, seats))], day2, config)
    with factory() as session:
        live = session.exec(select(Alert).order_by(col(Alert.id))).all()
        found = compare(session, config, since=utcnow() - timedelta(days=1), until=utcnow())
    raised = [a for a in _shadow_alerts(factory) if a.delivery != MIRROR]
    assert [a.account_id for a in raised] == [live[-1].account_id]  # Cedar, in both
    assert found is not None
    assert (found.shadow.alerts, found.live.alerts, found.both) == (1, 1, 1)
    assert (found.shadow_only, found.live_only) == (0, 0)
    assert found.differences == ()
