"""Latency of ``/expansion <name>`` over HTTP on a large book.

Generates 100,000 accounts with 1,000,000 snapshots (bulk inserts, reproducible with --seed),
starts the real app over HTTP on 127.0.0.1 (uvicorn in a thread) against a local fake Slack,
then sends signed slash commands exactly as Slack does, one at a time, and times two things
for each: the acknowledgement (the HTTP response, empty) and the answer — the account card,
posted to the command's response_url after the ack — from sending the command to the card
reaching the fake Slack. Mix: exact names, partial names, typos.

    python benchmarks/slash.py                      # temporary SQLite file
    python benchmarks/slash.py --database-url postgresql+psycopg://…/bench

The last line is JSON: {"accounts": N, "ack_p50_ms": …, "ack_p99_ms": …, "p50_ms": …,
"p99_ms": …} (p50/p99: the answer). Target: answer p99 ≤ 200 ms; Slack allows 3 s for the ack.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from sqlmodel import col  # noqa: E402

from bot.infra.settings import AppConfig, Settings  # noqa: E402
from bot.slack.app import create_app, deps_of  # noqa: E402
from bot.slack.client import make_client  # noqa: E402
from bot.slack.server import ServerThread, build_asgi  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import make_engine, session_factory  # noqa: E402
from db.models import Account, Snapshot  # noqa: E402
from tests.fakes import FakeSlack, RecordedRequest, Response, sign_request  # noqa: E402

SECRET = "benchmark-signing-secret"
PREFIXES = [
    "Bright", "North", "Blue", "Silver", "Rapid", "Green", "Iron", "Clear", "Swift", "Deep",
    "Open", "True", "Prime", "Nova", "Polar", "Solar", "Lunar", "Red", "Gold", "Peak",
]  # fmt: skip
ROOTS = [
    "wave", "wind", "stone", "field", "bridge", "path", "works", "point", "line", "gate",
    "forge", "light", "ridge", "harbor", "river", "cloud", "leaf", "spring", "crest", "view",
]  # fmt: skip
SECTORS = [
    "Logistics", "Analytics", "Health", "Media", "Energy", "Robotics", "Foods", "Labs",
    "Systems", "Partners", "Capital", "Retail", "Studios", "Security", "Networks", "Mobility",
]  # fmt: skip
FORMS = ["Inc", "Ltd", "GmbH", "Group", "Co", "LLC", "AG", "SA", "BV", "Corp"]


class AnsweredSlack(FakeSlack):
    """The fake Slack, noting the moment each answer reaches its response_url."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, tuple[float, dict[str, Any]]] = {}
        self._answered = threading.Condition()

    def handle(self, req: RecordedRequest) -> Response:
        resp = super().handle(req)
        if req.path.startswith("/response/"):
            rid = req.path[len("/response/") :].strip("/")
            with self._answered:
                self.arrived.setdefault(rid, (time.perf_counter(), req.json()))
                self._answered.notify_all()
        return resp

    def answer(self, rid: str, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        with self._answered:
            if not self._answered.wait_for(lambda: rid in self.arrived, timeout):
                raise SystemExit(f"no answer posted to response_url {rid}")
            return self.arrived[rid]


def names(n: int, rng: random.Random) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        base = f"{rng.choice(PREFIXES)}{rng.choice(ROOTS)} {rng.choice(SECTORS)}"
        name = f"{base} {rng.choice(FORMS)}"
        if name in seen:
            name = f"{base} {rng.choice(ROOTS).title()} {rng.choice(FORMS)} {len(out)}"
        seen.add(name)
        out.append(name)
    return out


def generate(url: str, accounts: int, per_account: int, seed: int) -> tuple[list[str], float]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Account)).scalar_one()
    rng = random.Random(seed)
    all_names = names(accounts, rng)
    if have >= accounts:
        print(f"reusing {have:,} accounts already in the database")
        return all_names, 0.0
    started = time.perf_counter()
    now = datetime.now(UTC)
    today = date.today()
    chunk = 20_000
    with engine.begin() as conn:
        for lo in range(0, accounts, chunk):
            rows = []
            for i in range(lo, min(lo + chunk, accounts)):
                name = all_names[i]
                rows.append(
                    {
                        "key": f"acct-{i}",
                        "name": name,
                        "domain": f"{name.split()[0].lower()}{i}.example",
                        "owner_email": f"owner{i % 400}@example.com",
                        "owner_name": f"Owner {i % 400}",
                        "segment": rng.choice(["SMB", "Mid-market", "Enterprise"]),
                        "plan": "Team",
                        "purchased_on": today - timedelta(days=400),
                        "contact_name": "Sam",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Account), rows)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(select(col(Account.id)).order_by(col(Account.id)))]
        batch: list[dict[str, Any]] = []
        for account_id in ids:
            seats = rng.randint(10, 500)
            used = rng.randint(seats // 2, seats)
            renewal = today + timedelta(days=rng.randint(20, 360))
            for k in range(per_account):
                batch.append(
                    {
                        "account_id": account_id,
                        "taken_on": today - timedelta(days=30 * (per_account - 1 - k)),
                        "recorded_at": now,
                        "source": "bench",
                        "seats_used": max(0, used - (per_account - 1 - k) * rng.randint(0, 3)),
                        "seats_purchased": seats,
                        "active_users": used,
                        "headcount": seats * 3,
                        "usage": {},
                        "limits": {},
                        "health": "green",
                        "nps": None,
                        "open_urgent_tickets": 0,
                        "last_contact_on": today - timedelta(days=10),
                        "renewal_on": renewal,
                        "arr": float(seats * 600),
                        "features_used": 10,
                        "features_available": 20,
                    }
                )
            if len(batch) >= 50_000:
                conn.execute(insert(Snapshot), batch)
                batch = []
        if batch:
            conn.execute(insert(Snapshot), batch)
    engine.dispose()
    return all_names, time.perf_counter() - started


def queries(all_names: list[str], n: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        name = rng.choice(all_names)
        roll = rng.random()
        if roll < 0.7:
            out.append(("exact", name.lower() if rng.random() < 0.5 else name))
        elif roll < 0.85:
            out.append(("partial", " ".join(name.split()[:2])))
        else:
            word = name.split()[0]
            at = rng.randrange(1, len(word) - 1)
            typo = word[:at] + word[at + 1 :]
            out.append(("typo", f"{typo} {' '.join(name.split()[1:])}"))
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--snapshots-per-account", type=int, default=10)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    tmp = None
    url = args.database_url
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="slash-bench-")
        url = f"sqlite:///{tmp.name}/bench.db"
    print(f"database: {url.split('@')[-1]}")
    all_names, took = generate(url, args.accounts, args.snapshots_per_account, args.seed)
    if took:
        total = args.accounts * args.snapshots_per_account
        print(f"generated {args.accounts:,} accounts, {total:,} snapshots in {took:.1f} s")

    engine = make_engine(url)
    factory = session_factory(engine)
    with AnsweredSlack() as slack:
        slack.add_user("U0BENCH001", "owner7@example.com", tz="Europe/Berlin")
        settings = Settings(
            slack_bot_token=slack.auth_token,
            slack_signing_secret=SECRET,
            slack_api_url=slack.url,
            database_url=url,
        )
        app = create_app(settings, AppConfig(), factory, client=make_client(settings))
        started = time.perf_counter()
        deps_of(app).search.rebuild()
        print(f"name index built in {time.perf_counter() - started:.2f} s")
        server = ServerThread(build_asgi(app, factory)).start()
        rng = random.Random(args.seed + 1)
        timings: dict[str, list[float]] = {"exact": [], "partial": [], "typo": []}
        every: list[float] = []
        acks: list[float] = []
        with httpx.Client(base_url=server.url, timeout=10) as http:
            plan = queries(all_names, args.requests + 20, rng)
            for n, (kind, text) in enumerate(plan):
                rid = f"r{n}"
                body = urllib.parse.urlencode(
                    {
                        "team_id": "T0FAKE001",
                        "channel_id": "C0BENCH001",
                        "user_id": "U0BENCH001",
                        "command": "/expansion",
                        "text": text,
                        "response_url": slack.url_for_response(rid),
                        "trigger_id": "1.2.bench",
                    }
                )
                t0 = time.perf_counter()
                resp = http.post("/slack/events", content=body, headers=sign_request(SECRET, body))
                acked = (time.perf_counter() - t0) * 1000
                if resp.status_code != 200:
                    raise SystemExit(f"bad ack for {text!r}: {resp.status_code} {resp.text}")
                arrived, answer = slack.answer(rid)
                elapsed = (arrived - t0) * 1000
                if "blocks" not in answer:
                    raise SystemExit(f"bad answer for {text!r}: {answer}")
                if n < 20:
                    continue  # warm-up: connections, caches
                timings[kind].append(elapsed)
                every.append(elapsed)
                acks.append(acked)
        server.stop()
    engine.dispose()
    if tmp is not None:
        tmp.cleanup()

    print("answer (command sent → card posted to the response_url):")
    for kind, values in timings.items():
        if values:
            print(
                f"{kind:>8}: n={len(values):4d}  p50 {pct(values, 50):6.1f} ms"
                f"  p99 {pct(values, 99):6.1f} ms  max {max(values):6.1f} ms"
            )
    print(
        f"     all: n={len(every):4d}  mean {statistics.fmean(every):6.1f} ms"
        f"  p50 {pct(every, 50):6.1f}  p95 {pct(every, 95):6.1f}  p99 {pct(every, 99):6.1f} ms"
    )
    print(
        f"     ack: n={len(acks):4d}  mean {statistics.fmean(acks):6.1f} ms"
        f"  p50 {pct(acks, 50):6.1f}  p95 {pct(acks, 95):6.1f}  p99 {pct(acks, 99):6.1f} ms"
    )
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "ack_p50_ms": round(pct(acks, 50), 1),
                "ack_p99_ms": round(pct(acks, 99), 1),
                "p50_ms": round(pct(every, 50), 1),
                "p99_ms": round(pct(every, 99), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
