"""The alert summary is one typed model: what the cycle stores reads back unchanged, and rows
stored by older versions (keys missing) read with defaults instead of failing."""

from __future__ import annotations

from datetime import date

import pytest

import db.alerts
from bot.alerts import AlertSummary, OfferSummary, TriggerSummary
from db.engine import SessionFactory


@pytest.mark.usefixtures("seeded")
def test_stored_summaries_round_trip_through_the_model(factory: SessionFactory) -> None:
    with factory() as session:
        stored = [alert.summary for alert, _ in db.alerts.alerts_with_accounts(session)]
    assert stored
    for data in stored:
        summary = AlertSummary.from_json(data)
        assert summary.to_json() == data
        assert summary.as_of is not None and summary.signals
        assert AlertSummary.expansion_arr_of(data) == summary.expansion_arr


def test_older_rows_read_with_defaults() -> None:
    empty = AlertSummary.from_json(None)
    assert empty == AlertSummary() and empty.band == "not_yet" and empty.expansion_arr == 0.0
    old = AlertSummary.from_json(
        {
            "score": 21,
            "band": "ready",
            "trigger": {"label": "Usage crossed 85%", "evidence": "92% of seats"},
            "offer": {"label": "More seats"},
            "signals": [{"label": "Seats", "points": 12}],
        }
    )
    assert old.score == 21 and old.as_of is None and old.opportunity is None
    assert old.trigger == TriggerSummary(label="Usage crossed 85%", evidence="92% of seats")
    assert old.offer == OfferSummary(label="More seats")
    assert old.signals[0].points == 12 and old.signals[0].evidence == ""
    assert old.gate == () and old.script == "" and old.activation is None
    assert AlertSummary.from_json({"as_of": "2026-03-01"}).as_of == date(2026, 3, 1)
