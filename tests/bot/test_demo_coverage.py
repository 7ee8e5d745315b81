"""The sample portfolio exercises every signal, band, trigger, gate reason and offer."""

from __future__ import annotations

from datetime import date

import db.outbox
from bot.domain.portfolio import assess_portfolio
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory
from scoring.bands import Band
from scoring.evidence import SignalKey
from scoring.gate import GateCode
from scoring.offer import OfferType
from scoring.triggers import TriggerKind
from sources.demo import demo_batch

DAY = date(2026, 11, 20)


# Add-ons and modules are each company's own, so no default names one: this config names the
# module that answers one demo account's request (Tidewater's forecasting).
WITH_MODULE = AppConfig.model_validate(
    {"scoring": {"offers": {"add_ons": {"forecasting": "Forecasting module"}}}}
)


def test_demo_portfolio_covers_every_rule(factory: SessionFactory) -> None:
    batch = demo_batch(DAY)
    assert 25 <= len(batch.accounts) <= 40
    result = run_cycle(factory, [batch], DAY, WITH_MODULE)
    with factory() as session:
        rows = assess_portfolio(session, DAY, WITH_MODULE)
    assessments = [r.assessment for r in rows]
    assert {s.key for a in assessments for s in a.signals} == set(SignalKey)
    assert {a.band for a in assessments} == set(Band)
    assert {e.kind for a in assessments for e in a.episodes} == set(TriggerKind)
    codes = {g.code for a in assessments for g in a.gate.reasons}
    assert codes == set(GateCode) - {GateCode.QUARTER_END}
    assert {a.offer.type for a in assessments if a.offer} == set(OfferType)
    assert any(a.activation and not a.offer for a in assessments)
    assert result.new_alerts and result.digest_alerts


def test_quarter_end_holds_every_pitch(factory: SessionFactory) -> None:
    late = date(2026, 12, 28)
    result = run_cycle(factory, [demo_batch(late)], late, AppConfig())
    assert result.new_alerts == [] and result.digest_alerts == []
    assert all(GateCode.QUARTER_END in {g.code for g in a.gate.reasons} for a in result.assessments)


def test_second_cycle_is_quiet_and_queues_nothing(factory: SessionFactory) -> None:
    first = run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    with factory() as session:
        queued = db.outbox.outbox_backlog(session)
    again = run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    assert first.new_episodes > 0 and again.new_episodes == 0
    assert again.new_alerts == again.updated_alerts == again.digest_alerts == []
    with factory() as session:
        assert db.outbox.outbox_backlog(session) == queued == len(first.new_alerts)
