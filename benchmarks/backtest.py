"""Backtest benchmark: a year of daily history for N accounts, replayed with the live config
and a candidate (capacity fires at 80% instead of 85%), as ``expansion-radar backtest`` does.

    python benchmarks/backtest.py --accounts 10000 [--days 365] [--processes 2]

The history is the synthetic book of ``tests/fakes/history.py`` (seeded, so every run replays
the same facts), written straight into a fresh SQLite file: a snapshot on each day an account
changed (every week on average), outcomes, milestones, requests and initiatives as events.
Timed: the whole backtest as the command runs it (``run_backtest``: stored alerts, facts read
once by each helper, the replay, the comparison); then reading every account's facts in one
process on its own. The baseline, in the same run: the naive replay (every account scored as of
every day) against the real one on the first ``--slice`` accounts, one process each; both give
the same alerts (checked), and the naive time is scaled up to N. The last line printed is JSON:
{"accounts": N, "days": D, "total_s": …, "load_one_process_s": …, "naive_estimate_s": …,
 "speedup_on_slice": …, …}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = 42
START = date(2025, 12, 1)


def write_history(url: str, accounts: int, days: int) -> tuple[int, int]:
    """The synthetic book in the database; returns (snapshots, events) written."""
    import db.accounts
    import db.facts
    from db import migrate
    from db.engine import make_engine, session_factory, transaction
    from db.rows import EventRow, SnapshotRow
    from tests.fakes.history import synthetic_book

    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = session_factory(engine)
    book = synthetic_book(accounts, START, days, seed=SEED)
    now = datetime.now(UTC)
    snapshots = events = 0
    for lo in range(0, len(book), 2000):
        part = book[lo : lo + 2000]
        with transaction(factory) as session:
            ids = db.accounts.insert_accounts(
                session,
                rows=[
                    {
                        "key": a.ext,
                        "name": a.name,
                        "owner_email": a.owner_email,
                        "segment": a.segment,
                        "purchased_on": a.purchased_on,
                        "contact_name": "Dana",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for a in part
                ],
            )
            rows: list[SnapshotRow] = []
            found: dict[tuple[int, str], EventRow] = {}
            for account_id, acct in zip(ids, part, strict=True):
                for values in acct.snapshots:
                    health = values["health"]
                    rows.append(
                        cast(
                            SnapshotRow,
                            values
                            | {
                                "account_id": account_id,
                                "source": "history",
                                "recorded_at": now,
                                "health": health.value,
                                "usage": {},
                                "limits": {},
                            },
                        )
                    )
                for on, kind, detail, key in acct.events:
                    found[(account_id, key)] = {
                        "account_id": account_id,
                        "kind": kind.value,
                        "on": on,
                        "detail": detail,
                        "key": key,
                        "recorded_at": now,
                        "source": "history",
                    }
            db.facts.insert_snapshots(session, rows=rows)
            db.facts.insert_events(session, rows=found)
            snapshots += len(rows)
            events += len(found)
    engine.dispose()
    return snapshots, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--slice", type=int, default=200, help="accounts for the naive baseline")
    args = parser.parse_args()

    from bot.domain.backtest import backtest, load_histories, run_backtest
    from bot.infra.settings import AppConfig
    from db.engine import make_engine, session_factory
    from scoring.config import ScoringConfig, Triggers

    live = AppConfig()
    candidate = AppConfig(
        scoring=ScoringConfig(triggers=Triggers(capacity_fire=0.80, capacity_rearm=0.75))
    )
    end = START + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/backtest.db"
        t0 = time.perf_counter()
        snapshots, events = write_history(url, args.accounts, args.days)
        setup_s = time.perf_counter() - t0
        print(
            f"history: {args.accounts:,} accounts × {args.days} days, {snapshots:,} snapshots,"
            f" {events:,} events (written in {setup_s:.1f} s)"
        )
        factory = session_factory(make_engine(url))
        t0 = time.perf_counter()
        with factory() as session:
            result = run_backtest(
                session,
                live,
                candidate,
                start=START,
                end=end,
                default_channel="#expansion",
                processes=args.processes,
            )
        total_s = time.perf_counter() - t0
        print(
            f"backtest: {total_s:.1f} s with {args.processes} processes reading and replaying"
            f" ({result.assessments:,} assessments); live {len(result.live.alerts):,} alerts,"
            f" candidate {len(result.candidate.alerts):,}: {len(result.added):,} added,"
            f" {len(result.removed):,} removed"
        )
        t0 = time.perf_counter()
        with factory() as session:
            histories = load_histories(session, end=end)
        load_s = time.perf_counter() - t0
        print(f"reading every account's facts in one process: {load_s:.1f} s")

        part = histories[: args.slice]
        t0 = time.perf_counter()
        naive = backtest(
            part, live, candidate, start=START, end=end, default_channel="#e", naive=True
        )
        naive_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = backtest(part, live, candidate, start=START, end=end, default_channel="#e")
        fast_s = time.perf_counter() - t0
        same = (
            naive.live.alerts == fast.live.alerts
            and naive.candidate.alerts == fast.candidate.alerts
        )
        naive_estimate = naive_s * len(histories) / max(1, len(part))
        print(
            f"baseline on {len(part)} accounts, one process: naive (every account, every day)"
            f" {naive_s:.2f} s, {naive.assessments:,} assessments; replay {fast_s:.2f} s,"
            f" {fast.assessments:,} assessments; same alerts: {same};"
            f" naive for all {len(histories):,} ≈ {naive_estimate:.0f} s"
        )
    figures = {
        "accounts": args.accounts,
        "days": args.days,
        "snapshots": snapshots,
        "events": events,
        "processes": args.processes,
        "total_s": round(total_s, 2),
        "load_one_process_s": round(load_s, 2),
        "assessments": result.assessments,
        "live_alerts": len(result.live.alerts),
        "candidate_alerts": len(result.candidate.alerts),
        "added": len(result.added),
        "removed": len(result.removed),
        "slice_accounts": len(part),
        "naive_slice_s": round(naive_s, 2),
        "fast_slice_s": round(fast_s, 2),
        "speedup_on_slice": round(naive_s / fast_s, 1) if fast_s else None,
        "naive_estimate_s": round(naive_estimate, 1),
        "same_alerts_as_naive": same,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
