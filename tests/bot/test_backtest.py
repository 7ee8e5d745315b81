"""The backtest: the replay is the engine (it reproduces what the real poll cycle raised, day by
day), a one-threshold change names exactly the alerts it adds and removes with their days and
points, and the precision figures are the stored votes and outcomes counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

import bot.poll.cycle
import db.alerts
from bot.domain.backtest import backtest, load_histories, run_backtest, stored_fates
from bot.domain.backtest_model import Backtest
from bot.infra.settings import AppConfig
from bot.output.backtest_report import render_backtest, render_backtest_html
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, Plan
from scoring.config import ScoringConfig, Triggers
from scoring.facts import EventKind, Health
from scoring.outcomes import Rate
from sources.records import AccountRecord, Batch, EventRecord, SnapshotRecord
from tests.bot.test_report import _console_messages, needs_chromium
from tests.cli import run_cli
from tests.fakes.history import daily_batches, synthetic_book

LIVE = AppConfig()
CANDIDATE = AppConfig(
    scoring=ScoringConfig(triggers=Triggers(capacity_fire=0.80, capacity_rearm=0.75))
)
HOSTILE = "Gamma <img src=x onerror=alert(1)> | *co*"


def _clock(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """The cycle's clock at 06:00 UTC on ``day``: alerts are stamped with the day replayed."""
    moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    monkeypatch.setattr(bot.poll.cycle, "utcnow", lambda: moment)


def _poll_daily(
    factory: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    batches: list[Batch],
    start: date,
    config: AppConfig,
) -> None:
    for n, batch in enumerate(batches):
        day = start + timedelta(days=n)
        _clock(monkeypatch, day)
        run_cycle(factory, [batch], day, config)


def test_replaying_the_live_config_reproduces_the_alerts_the_cycle_raised(
    factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, days = date(2026, 1, 5), 150
    book = synthetic_book(24, start, days, seed=11)
    _poll_daily(factory, monkeypatch, list(daily_batches(book, start, days)), start, LIVE)
    end = start + timedelta(days=days - 1)
    with factory() as session:
        raised = stored_fates(db.alerts.alerts_with_fates(session))
        result = run_backtest(
            session, LIVE, LIVE, start=None, end=end, default_channel="#expansion"
        )
        histories = load_histories(session, end=end)
    assert len(raised) >= 20  # a history with something to reproduce
    assert sorted((a.account_id, a.day, a.episode_key) for a in result.live.alerts) == sorted(
        (f.account_id, f.day, f.episode_key) for f in raised
    )
    assert result.added == [] and result.removed == []
    # Scoring only the days that can matter gives what scoring every day gives.
    naive = backtest(
        histories, LIVE, CANDIDATE, start=start, end=end, default_channel="#e", naive=True
    )
    fast = backtest(histories, LIVE, CANDIDATE, start=start, end=end, default_channel="#e")
    assert naive.live.alerts == fast.live.alerts
    assert naive.candidate.alerts == fast.candidate.alerts
    assert fast.assessments < naive.assessments / 3
    # Forked helpers, each reading its own accounts' facts, give the same answer too.
    with factory() as session:
        one, two = (
            run_backtest(
                session, LIVE, CANDIDATE, start=start, end=end, default_channel="#e", processes=n
            )
            for n in (1, 2)
        )
    assert one.live.alerts == fast.live.alerts and one.candidate.alerts == fast.candidate.alerts
    assert two.live.alerts == one.live.alerts and two.candidate.alerts == one.candidate.alerts
    assert [d.alert for d in two.added] == [d.alert for d in one.added] != []
    assert [d.alert for d in two.removed] == [d.alert for d in one.removed]


# --- a known history --------------------------------------------------------------------

D1, D10, D12, D15, D20 = (date(2026, 2, d) for d in (2, 10, 12, 15, 20))
START, END = date(2026, 1, 20), date(2026, 2, 28)
# (account, day, seats used of 100)
USE = {
    "alpha": {D1: 70, D10: 82, D20: 88},  # 82% fires only at 80%; 88% fires at 85%
    "beta": {D1: 70, D15: 90},  # fires the same day under both
    "gamma": {D1: 70, D12: 83},  # fires only at 80%
}
NAMES = {"alpha": "Alpha Ltd", "beta": "Beta Inc", "gamma": HOSTILE}


def _known_batches() -> list[Batch]:
    out = []
    day = START
    while day <= END:
        batch = Batch()
        for ext, use in USE.items():
            batch.accounts.append(
                AccountRecord(
                    source="known",
                    external_id=ext,
                    name=NAMES[ext],
                    owner_email="maya.chen@example.com",
                    segment="Enterprise" if ext == "beta" else "SMB",
                    purchased_on=date(2025, 6, 1),
                    contact_name="Dana",
                )
            )
            if day == START:
                batch.events.append(
                    EventRecord(
                        source="known",
                        external_id=ext,
                        kind=EventKind.OUTCOME,
                        on=date(2026, 1, 10),
                        detail="Cut onboarding time in half",
                        key=f"{ext}-win",
                    )
                )
            if day in use:
                batch.snapshots.append(
                    SnapshotRecord(
                        source="known",
                        external_id=ext,
                        taken_on=day,
                        seats_used=use[day],
                        seats_purchased=100,
                        health=Health.GREEN,
                        nps=9,
                        nps_on=day,
                        last_contact_on=day,
                        arr=60_000.0,
                        features_used=8,
                        features_available=10,
                    )
                )
        out.append(batch)
        day += timedelta(days=1)
    return out


@pytest.fixture
def known(factory: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> Backtest:
    """The live bot ran over the known history; people voted on its alerts and closed a plan:
    Alpha's alert Useful and won, Beta's Noise."""
    _poll_daily(factory, monkeypatch, _known_batches(), START, LIVE)
    with transaction(factory) as session:
        ids = {a.key: a.id or 0 for a in session.exec(select(Account)).all()}
        alerts = {a.account_id: a for a in session.exec(select(Alert)).all()}
        alpha, beta = alerts[ids["alpha-ltd"]], alerts[ids["beta-inc"]]
        alpha.feedback, beta.feedback = "useful", "noise"
        session.add_all([alpha, beta])
        session.add(
            Plan(
                account_id=alpha.account_id,
                alert_id=alpha.id,
                kind="ninety_day",
                status="won",
                started_on=D20,
                outcome_arr=12_000.0,
            )
        )
    with factory() as session:
        return run_backtest(
            session, LIVE, CANDIDATE, start=START, end=END, default_channel="#expansion"
        )


def test_one_threshold_names_exactly_the_alerts_added_and_removed(known: Backtest) -> None:
    live = [(a.name, a.day, a.trigger) for a in known.live.alerts]
    candidate = [(a.name, a.day, a.trigger) for a in known.candidate.alerts]
    assert sorted(live) == [("Alpha Ltd", D20, "capacity"), ("Beta Inc", D15, "capacity")]
    assert sorted(candidate) == [
        ("Alpha Ltd", D10, "capacity"),
        ("Beta Inc", D15, "capacity"),
        (HOSTILE, D12, "capacity"),
    ]
    added = [(d.alert.name, d.alert.day) for d in known.added]
    removed = [(d.alert.name, d.alert.day) for d in known.removed]
    assert added == [("Alpha Ltd", D10), (HOSTILE, D12)]
    assert removed == [("Alpha Ltd", D20)]
    # The points, by hand: capacity 12 + a win in the last 90 days 10 + promoter NPS 7 = 29
    # (Ready) under both configs; the threshold moved the trigger, not the points.
    for diff in [*known.added, *known.removed]:
        assert (diff.live_score, diff.candidate_score) == (29, 29)
        assert diff.alert.score == 29 and diff.alert.band == "ready"
        assert diff.points == ()
    alpha_added, gamma_added = known.added
    (alpha_removed,) = known.removed
    assert alpha_added.why == "no Capacity ceiling trigger by then"
    assert alpha_removed.why == "its last Capacity ceiling trigger was on 10 Feb 2026"
    # How they fared: the removed alert was Useful and won; Alpha's added one is set beside
    # the live alert on the same account; Gamma's was never raised live.
    assert alpha_removed.fate is not None and alpha_removed.fate.words == (
        "voted Useful, became a plan, won"
    )
    assert alpha_added.fate is not None and alpha_added.fate_is_nearest
    assert alpha_added.fate.day == D20
    assert gamma_added.fate is None
    assert known.changed == 0


def test_a_change_of_points_names_the_signal_and_the_scores(
    factory: SessionFactory, known: Backtest
) -> None:
    fewer = AppConfig.model_validate(
        {"scoring": {"points": {"capacity": 2}}, "alerts": {"digest_bands": []}}
    )
    with factory() as session:
        result = run_backtest(
            session, LIVE, fewer, start=START, end=END, default_channel="#expansion"
        )
    assert result.candidate.alerts == [] and result.added == []
    assert [(d.alert.name, d.alert.day) for d in result.removed] == [
        ("Alpha Ltd", D20),
        ("Beta Inc", D15),
    ]
    for diff in result.removed:
        # 29 by hand, less 10 capacity points: 19, a Candidate, which this config keeps quiet.
        assert (diff.live_score, diff.candidate_score) == (29, 19)
        assert (diff.live_band, diff.candidate_band) == ("ready", "candidate")
        assert [(p.signal, p.live, p.candidate) for p in diff.points] == [
            ("Using 80%+ of what they bought", 12, 2)
        ]
        assert diff.why == "Candidate (19 points) is neither posted nor digested"
    text = render_backtest(result)
    assert "score 29 → 19 (Ready → Candidate); Using 80%+ of what they bought 12 → 2" in text


def test_precision_matches_the_votes_and_outcomes_counted_by_hand(known: Backtest) -> None:
    # Live: Alpha (Useful, won) and Beta (Noise), both capacity, both Ready.
    assert known.live.precision_by_trigger == {"capacity": Rate(1, 2)}
    assert known.live.precision_by_band == {"ready": Rate(1, 2)}
    assert known.live.won_by_trigger == {"capacity": Rate(1, 1)}
    # Candidate: only Beta's alert was raised live and voted on (Noise); Alpha's moved day.
    assert known.candidate.precision_by_trigger == {"capacity": Rate(0, 1)}
    assert known.candidate.precision_by_band == {"ready": Rate(0, 1)}
    assert known.candidate.won_by_trigger == {}


def test_volumes_channels_and_the_busiest_hour(known: Backtest) -> None:
    assert known.live.by_channel == {"#expansion": 2}
    assert sum(known.live.weekly.values()) == 2 and sum(known.candidate.weekly.values()) == 3
    # The week of Monday 9 Feb: Alpha on the 10th, Gamma the 12th, Beta on Sunday the 15th.
    assert known.candidate.weekly[date(2026, 2, 9)] == 3
    assert known.live.weekly[date(2026, 2, 9)] == 1 and known.live.weekly[date(2026, 2, 16)] == 1
    assert all(w.weekday() == 0 for w in known.live.weekly)
    assert known.live.busiest is not None and known.live.busiest.alerts == 1
    assert known.live.busiest.cap == 10 and known.live.hours_over_cap == 0


def test_routing_rules_and_cap_of_each_config_apply(
    factory: SessionFactory, known: Backtest
) -> None:
    routed = AppConfig.model_validate(
        {
            "scoring": CANDIDATE.scoring.model_dump(),
            "routing": {"rules": [{"segment": "smb", "channel": "#smb"}]},
            "slack": {"hourly_cap_per_channel": 1},
        }
    )
    with factory() as session:
        result = run_backtest(
            session, LIVE, routed, start=START, end=END, default_channel="#expansion"
        )
    assert result.candidate.by_channel == {"#expansion": 1, "#smb": 2}
    assert result.candidate.cap == 1 and result.candidate.hours_over_cap == 0
    assert result.changed == 0  # Beta (Enterprise) stays in #expansion


def test_markdown_report_names_the_changes_and_keeps_names_inert(known: Backtest) -> None:
    text = render_backtest(known, candidate_name="candidate.yml")
    assert "| Alpha Ltd | 10 Feb 2026 | Capacity ceiling | Ready (29) |" in text
    assert "voted Useful, became a plan, won" in text
    assert "| Capacity ceiling | 50% (1/2) | 0% (0/1) | 100% (1/1) | — |" in text
    assert "<img" not in text
    assert "Gamma &lt;img src=x onerror=alert(1)&gt; \\| \\*co\\*" in text


@needs_chromium
def test_html_report_renders_its_chart_in_chromium(known: Backtest, tmp_path: Path) -> None:
    page = tmp_path / "backtest.html"
    page.write_text(render_backtest_html(known), encoding="utf-8")
    dom, messages = _console_messages(page, tmp_path)
    assert messages == []
    assert 'id="weekly-chart"' in dom and "<svg" in dom and "<rect" in dom
    assert "Alerts the candidate adds" in dom
    assert "<img" not in dom and "onerror=alert(1)&gt;" in dom


def test_cli_writes_the_report_and_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    assert run_cli("demo", "--today", "2026-11-20", cwd=tmp_path).returncode == 0
    (tmp_path / "candidate.yml").write_text(
        "scoring:\n  triggers: {capacity_fire: 0.8, capacity_rearm: 0.75}\n"
    )
    res = run_cli(
        "backtest", "--config", "candidate.yml", "--to", "2026-11-20", "--format", "html",
        "-o", "bt.html", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Report written to bt.html" in res.stdout
    page = (tmp_path / "bt.html").read_text()
    assert 'id="weekly-chart"' in page and "Alerts the candidate removes" in page

    md = run_cli("backtest", "--config", "candidate.yml", "--to", "2026-11-20", cwd=tmp_path)
    assert md.returncode == 0 and (tmp_path / "backtest.md").exists()

    (tmp_path / "typo.yml").write_text("scoring:\n  trigers: {}\n")
    bad = run_cli("backtest", "--config", "typo.yml", cwd=tmp_path)
    assert bad.returncode == 2 and "scoring.trigers" in bad.stderr

    backwards = run_cli(
        "backtest", "--config", "candidate.yml", "--from", "2026-11-20", "--to", "2026-11-01",
        cwd=tmp_path,
    )  # fmt: skip
    assert backwards.returncode == 1 and "is after --to" in backwards.stderr
