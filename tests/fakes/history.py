"""A reproducible synthetic book with daily history: what the backtest tests and benchmark
replay.

Each account changes every few days (a snapshot is stored only on a day something changed, as
the cycle stores them): seat use wanders around what they bought, so capacity crosses its
threshold now and then; departments, users and headcount grow in steps; health dips to yellow
or red at times; renewals come round; outcomes, milestones and feature requests are logged.
Everything follows from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from scoring.facts import EventKind, Health
from sources.records import AccountRecord, Batch, EventRecord, SnapshotRecord

SOURCE = "history"
OWNERS = ("maya.chen@example.com", "luis.ortega@example.com", "ana.silva@example.com")
SEGMENTS = ("SMB", "Mid-market", "Enterprise")


@dataclass
class SyntheticAccount:
    ext: str
    name: str
    owner_email: str
    segment: str
    purchased_on: date
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # each with taken_on
    events: list[tuple[date, EventKind, str, str]] = field(default_factory=list)  # on, kind, …


def synthetic_book(accounts: int, start: date, days: int, seed: int = 7) -> list[SyntheticAccount]:
    """``accounts`` accounts with ``days`` days of history from ``start``."""
    rng = random.Random(seed)
    end = start + timedelta(days=days - 1)
    out = []
    for n in range(accounts):
        acct = SyntheticAccount(
            ext=f"h{n:06d}",
            name=f"Account {n:06d}",
            owner_email=OWNERS[n % len(OWNERS)],
            segment=SEGMENTS[(n // len(OWNERS)) % len(SEGMENTS)],
            purchased_on=start - timedelta(days=rng.randint(200, 600)),
        )
        bought = rng.randint(20, 200)
        ratio = rng.uniform(0.55, 0.92)
        departments = rng.randint(1, 4)
        headcount = rng.randint(50, 2000)
        health = Health.GREEN
        renewal = start + timedelta(days=rng.randint(20, 380))
        if rng.random() < 0.6:  # the rest have no measurable outcome yet: the gate holds them
            acct.events.append(
                (
                    start - timedelta(days=40),
                    EventKind.OUTCOME,
                    "Cut onboarding time",
                    f"{acct.ext}-o",
                )
            )
        promoter = rng.random() < 0.5
        quiet = rng.random() < 0.2  # a CSM who rarely talks to them
        day = start
        k = 0
        while day <= end:
            ratio = min(1.15, max(0.3, ratio + rng.gauss(0.004, 0.03)))
            if rng.random() < 0.02:
                departments += 1
            if rng.random() < 0.03:
                headcount = int(headcount * rng.uniform(1.0, 1.15))
            roll = rng.random()
            if health is Health.GREEN and roll < 0.04:
                health = Health.YELLOW
            elif health is Health.YELLOW and roll < 0.3:
                health = Health.GREEN if roll < 0.25 else Health.RED
            elif health is Health.RED and roll < 0.4:
                health = Health.YELLOW
            if renewal < day:
                renewal += timedelta(days=365)
            used = max(1, round(ratio * bought))
            acct.snapshots.append(
                {
                    "taken_on": day,
                    "seats_used": used,
                    "seats_purchased": bought,
                    "active_users": used,
                    "departments": departments,
                    "headcount": headcount,
                    "health": health,
                    "nps": rng.choice((8, 9, 10) if promoter else (4, 5, 6, 7)),
                    "nps_on": day,
                    "open_urgent_tickets": 1 if rng.random() < 0.03 else 0,
                    "last_contact_on": day - timedelta(days=rng.randint(0, 90 if quiet else 20)),
                    "renewal_on": renewal,
                    "arr": float(bought * 600),
                    "features_used": rng.randint(5, 10),
                    "features_available": 10,
                }
            )
            if rng.random() < 0.06:
                kind = rng.choice(
                    (
                        EventKind.MILESTONE,
                        EventKind.FEATURE_REQUEST,
                        EventKind.INITIATIVE,
                        EventKind.PRAISE,
                    )
                )
                acct.events.append((day, kind, f"{kind.value} {k}", f"{acct.ext}-e{k}"))
                k += 1
            day += timedelta(days=max(1, int(rng.expovariate(1 / 7))))
        out.append(acct)
    return out


def account_record(acct: SyntheticAccount) -> AccountRecord:
    return AccountRecord(
        source=SOURCE,
        external_id=acct.ext,
        name=acct.name,
        owner_email=acct.owner_email,
        segment=acct.segment,
        purchased_on=acct.purchased_on,
        contact_name="Dana",
    )


def daily_batches(book: list[SyntheticAccount], start: date, days: int) -> Iterator[Batch]:
    """One batch a day naming every account (so the cycle scores each one each day, as the
    daily re-score does), with the snapshots and events dated that day."""
    snaps: dict[date, list[SnapshotRecord]] = {}
    events: dict[date, list[EventRecord]] = {}
    for acct in book:
        for values in acct.snapshots:
            snaps.setdefault(values["taken_on"], []).append(
                SnapshotRecord(source=SOURCE, external_id=acct.ext, **values)
            )
        for on, kind, detail, key in acct.events:
            events.setdefault(max(on, start), []).append(
                EventRecord(
                    source=SOURCE, external_id=acct.ext, kind=kind, on=on, detail=detail, key=key
                )
            )
    for n in range(days):
        day = start + timedelta(days=n)
        yield Batch(
            accounts=[account_record(a) for a in book],
            snapshots=snaps.get(day, []),
            events=events.get(day, []),
        )
