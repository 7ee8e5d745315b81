"""``readiness_changes`` names every day readiness can change on: between two of them, the
signals (and their points), band, gate and offer are those of the day before. The backtest
scores an open alert's days only on those days, so a day missing here would be a wrong replay."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scoring.config import Gate, ScoringConfig, SignalWindows
from scoring.engine import Readiness, readiness, readiness_changes
from scoring.facts import AccountFacts, Event, Snapshot
from tests.fakes.history import synthetic_book

START, DAYS = date(2026, 1, 5), 200


def _what(r: Readiness) -> tuple[object, ...]:
    return (
        tuple((s.key, s.points) for s in r.signals),
        r.band,
        tuple(reason.code for reason in r.gate.reasons),
        r.offer.type if r.offer else None,
        r.pitchable,
    )


@pytest.mark.parametrize(
    "cfg",
    [
        ScoringConfig(),
        ScoringConfig(
            signals=SignalWindows(outcome_days=30, advocacy_days=20, renewal_min_days=10),
            gate=Gate(
                max_days_since_contact=15, fiscal_year_start_month=2, quarter_end_quiet_days=3
            ),
        ),
    ],
)
def test_readiness_is_the_day_befores_on_every_other_day(cfg: ScoringConfig) -> None:
    end = START + timedelta(days=DAYS - 1)
    for acct in synthetic_book(25, START, DAYS, seed=5):
        facts = AccountFacts(
            account_id=acct.ext,
            name=acct.name,
            history=[Snapshot(**values) for values in acct.snapshots],
            events=[Event(kind, on, detail, key) for on, kind, detail, key in acct.events],
            purchased_on=acct.purchased_on,
        )
        changes = readiness_changes(facts, START, end, cfg)
        before = _what(readiness(facts, START, cfg))
        for n in range(1, DAYS):
            day = START + timedelta(days=n)
            now = _what(readiness(facts, day, cfg))
            if day not in changes:
                assert now == before, (acct.ext, day)
            before = now
