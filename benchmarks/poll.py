"""Poll benchmark: HubSpot + usage API fakes serving N accounts, a full cycle, an incremental
cycle with 1% changed, and the floor, in one run.

    python benchmarks/poll.py --accounts 100000 [--database-url URL]

The fakes run in a child process (as the real APIs run elsewhere); the peak RSS reported is the
poller's plus its helper processes' (reading and re-scoring), summed. The poll runs as the
product runs it: ``run_poll`` with settings and a config file's worth of options. The floor is
the least any poller could do with the same data: fetch the same pages and parse them with
httpx + json, then bulk-insert the same rows (an account, its two external ids and a snapshot
per company, a snapshot per usage record) with plain sqlite3 ``executemany``. The last line
printed is JSON:
{"accounts": N, "full_s": …, "incremental_s": …, "floor_s": …, "ratio_to_floor": …,
 "peak_rss_mb": …}
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HS_TOKEN = "pat-na1-bench-token"
USAGE_TOKEN = "usage-bench-token"
SEED = 42


# --- the fakes, in their own process ----------------------------------------------------


def serve_fakes(n: int, conn: Connection) -> None:
    from tests.fakes import FakeHubSpot, FakeUsageAPI

    # A portal with the API limit increase: the burst headers never ask the client to slow
    # down (they are honoured; the benchmark measures the poller, not HubSpot's quota).
    hubspot = FakeHubSpot(auth_token=HS_TOKEN, burst_limit=10_000_000).start()
    usage = FakeUsageAPI(auth_token=USAGE_TOKEN, max_page_size=1000).start()
    hubspot.record_requests = usage.record_requests = False
    companies = hubspot.populate(n, seed=SEED)
    usage_ids = usage.populate(n, seed=SEED)
    conn.send({"hubspot": hubspot.url, "usage": usage.url})
    while True:
        command, arg = conn.recv()
        if command == "change":
            step = max(1, round(1 / arg))
            for i in range(0, n, step):
                seats = int(hubspot.company(companies[i])["seats_purchased"] or 10)
                hubspot.set_properties("companies", companies[i], seats_purchased=seats + 5)
                record = usage.record(usage_ids[i])
                usage.set_record(usage_ids[i], seats_used=int(record["seats_used"]) + 3)
            conn.send(len(range(0, n, step)))
        elif command == "counts":
            conn.send({"hubspot": hubspot.request_count, "usage": usage.request_count})
            hubspot.reset_requests()
            usage.reset_requests()
        else:
            hubspot.stop()
            usage.stop()
            conn.send("bye")
            return


# --- the poller ---------------------------------------------------------------------------


SHADOW_RULES = "scoring:\n  triggers: {capacity_fire: 0.80, capacity_rearm: 0.75}\n"


def configure(
    urls: dict[str, str], fetch_in_processes: bool, shadow: Path | None = None
) -> tuple[Any, Any]:
    """Settings and config as an operator would write them for these two APIs (``shadow``: a
    candidate rules file scored beside them, as ``alerts.shadow``)."""
    from bot.infra.settings import AppConfig, Settings

    settings = Settings(
        _env_file=None,
        hubspot_api_url=urls["hubspot"],
        hubspot_access_token=HS_TOKEN,
        usage_api_url=urls["usage"],
        usage_api_token=USAGE_TOKEN,
    )
    config = AppConfig.model_validate(
        {
            "sources": {
                "schedule": {"fetch_in_processes": fetch_in_processes},
                # Search pacing off: the fake does not enforce HubSpot's 4 searches/s.
                "hubspot": {"search_requests_per_second": 1000},
                "usage": {
                    "metrics": {
                        "api_calls": {
                            "usage": "usage.api_calls_30d",
                            "limit": "limits.api_calls_per_month",
                        },
                        "storage_gb": {"usage": "usage.storage_gb", "limit": "limits.storage_gb"},
                    }
                },
            },
            **(
                {"alerts": {"shadow": {"channel": "#expansion-shadow", "rules": str(shadow)}}}
                if shadow
                else {}
            ),
        }
    )
    return settings, config


def cpu_seconds(exclude: int) -> float:
    """CPU time of this process and its helpers, finished or not, leaving out the fakes
    (``exclude``): steadier than wall time on a shared machine. Helpers started from the fork
    server are its children, so their time is in its figures once it has reaped them."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = mine.ru_utime + mine.ru_stime + reaped.ru_utime + reaped.ru_stime
    return total + sum(_proc_cpu(pid) for pid in _descendants(os.getpid(), exclude))


def _proc_cpu(pid: int) -> float:
    """A running process's CPU seconds, with those of the children it has reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def timed_poll(
    factory: Any, settings: Any, config: Any, today: date, fakes: int
) -> tuple[float, float, Any]:
    """(wall s, CPU s of the poller and its helpers, summary)"""
    from bot.poll.run import run_poll

    cpu = cpu_seconds(fakes)
    started = time.perf_counter()
    summary = run_poll(settings, config, factory, today=today)
    return time.perf_counter() - started, cpu_seconds(fakes) - cpu, summary


# --- the floor ----------------------------------------------------------------------------


def floor(urls: dict[str, str], path: Path) -> tuple[float, float, int]:
    """Fetch + parse the same pages, then executemany the same rows: (fetch s, insert s, rows)."""
    import httpx

    started = time.perf_counter()
    companies: list[tuple[Any, ...]] = []
    usage_rows: list[tuple[Any, ...]] = []
    hs_props = (
        "name,domain,hubspot_owner_id,hs_lastmodifieddate,seats_purchased,plan,health,nps,"
        "numberofemployees,annualrevenue,last_contact_date"
    )
    with httpx.Client(
        base_url=urls["hubspot"], headers={"Authorization": f"Bearer {HS_TOKEN}"}, timeout=30
    ) as hs:
        for archived in ("false", "true"):
            hs.get("/crm/v3/owners", params={"limit": 500, "archived": archived}).json()
        paged: tuple[tuple[str, dict[str, Any]], ...] = (
            (
                "/crm/v3/objects/deals",
                {
                    "limit": 100,
                    "properties": "dealstage,closedate,amount,hs_lastmodifieddate,dealtype",
                    "associations": "companies",
                },
            ),
            ("/crm/v3/objects/companies", {"limit": 100, "properties": hs_props}),
        )
        for path_, query in paged:
            after = None
            while True:
                page = hs.get(path_, params={**query, **({"after": after} if after else {})})
                data = json.loads(page.content)
                if path_.endswith("companies"):
                    for r in data["results"]:
                        p = r["properties"]
                        companies.append(
                            (r["id"], p["name"], p["domain"], p["seats_purchased"], p["plan"])
                        )
                after = data.get("paging", {}).get("next", {}).get("after")
                if not after:
                    break
    with httpx.Client(
        base_url=urls["usage"], headers={"Authorization": f"Bearer {USAGE_TOKEN}"}, timeout=30
    ) as us:
        params: dict[str, Any] = {"limit": 1000}
        while True:
            data = json.loads(us.get("/accounts", params=params).content)
            for r in data["data"]:
                usage_rows.append(
                    (r["account_id"], r["domain"], r["seats_used"], r["seats_purchased"])
                )
            if not data.get("next_cursor"):
                break
            params = {"limit": 1000, "cursor": data["next_cursor"]}
    fetched = time.perf_counter() - started

    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.executescript(
        """
        PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, key TEXT UNIQUE, name TEXT, domain TEXT,
                               plan TEXT);
        CREATE TABLE external_ids (account_id INTEGER, source TEXT, external_id TEXT,
                                   UNIQUE (source, external_id));
        CREATE TABLE snapshots (account_id INTEGER, taken_on TEXT, source TEXT,
                                seats_used INTEGER, seats_purchased INTEGER);
        """
    )
    today = date.today().isoformat()
    with db:
        db.executemany(
            "INSERT INTO accounts (id, key, name, domain, plan) VALUES (?, ?, ?, ?, ?)",
            [(i, c[0], c[1], c[2], c[4]) for i, c in enumerate(companies, 1)],
        )
        db.executemany(
            "INSERT INTO external_ids VALUES (?, 'hubspot', ?)",
            [(i, c[0]) for i, c in enumerate(companies, 1)],
        )
        db.executemany(
            "INSERT INTO external_ids VALUES (?, 'usage', ?)",
            [(i, u[0]) for i, u in enumerate(usage_rows, 1)],
        )
        db.executemany(
            "INSERT INTO snapshots VALUES (?, ?, 'hubspot', NULL, ?)",
            [(i, today, c[3]) for i, c in enumerate(companies, 1)],
        )
        db.executemany(
            "INSERT INTO snapshots VALUES (?, ?, 'usage', ?, ?)",
            [(i, today, u[2], u[3]) for i, u in enumerate(usage_rows, 1)],
        )
    db.close()
    rows = 3 * len(companies) + 2 * len(usage_rows)
    return fetched, time.perf_counter() - started, rows


# --- main ---------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int, skip: int) -> list[int]:
    """Every process under ``pid``, leaving out ``skip`` and those under it."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found += [int(c) for c in children.read().split() if int(c) != skip]
    except OSError:
        return found
    return found + [d for c in found for d in _descendants(c, skip)]


class TreeRss:
    """Peak resident memory of this process plus its helper processes (the fakes excluded),
    summed, sampled every 100 ms: a poller that reads or scores in helpers pays for them too."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            pids = [me, *_descendants(me, self.exclude)]
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in pids))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return max(self.peak_kib, own) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="read the sources in a thread instead of helper processes (for comparison)",
    )
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="score shadow rules (capacity at 80%%) beside the live ones, to measure their cost",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from db import migrate
    from db.engine import make_engine, session_factory

    n = args.accounts
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve_fakes, args=(n, child), daemon=True)
    started = time.perf_counter()
    server.start()
    urls: dict[str, str] = parent.recv()
    print(f"fakes: {n:,} accounts served in {time.perf_counter() - started:.1f} s (child process)")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'poll.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        factory = session_factory(engine)
        today = date.today()

        shadow = None
        if args.shadow:
            shadow = Path(tmp) / "candidate.yml"
            shadow.write_text(SHADOW_RULES, encoding="utf-8")
        settings, config = configure(urls, not args.one_process, shadow)
        memory = TreeRss(exclude=server.pid or 0)
        memory.start()
        full_s, full_cpu, full = timed_poll(factory, settings, config, today, server.pid or 0)
        parent.send(("counts", None))
        full_requests = parent.recv()
        assert full.ok, [o.error for o in full.sources]
        print(
            f"full cycle:        {full_s:7.2f} s  ({full.sources[0].fetched:,} companies,"
            f" {full.sources[1].fetched:,} usage records, {full.evaluated:,} accounts scored,"
            f" {len(full.scoring.new_alerts):,} alerts; requests {full_requests})"
        )
        sources_s = sum(o.seconds for o in full.sources)
        print(
            f"  of which:        sources {sources_s:.2f} s"
            f" ({', '.join(f'{o.name} {o.seconds:.2f} s' for o in full.sources)}),"
            f" re-scoring {full_s - sources_s:.2f} s; CPU {full_cpu:.1f} s (poller and helpers)"
        )

        parent.send(("change", 0.01))
        changed = parent.recv()
        incremental_s, _, incr = timed_poll(factory, settings, config, today, server.pid or 0)
        memory.stop()
        parent.send(("counts", None))
        incr_requests = parent.recv()
        assert incr.ok, [o.error for o in incr.sources]
        print(
            f"incremental (1%):  {incremental_s:7.2f} s  ({changed:,} accounts changed;"
            f" read {incr.sources[0].fetched:,} + {incr.sources[1].fetched:,},"
            f" {incr.evaluated:,} re-scored; requests {incr_requests})"
        )
        engine.dispose()

        fetch_s, insert_s, rows = floor(urls, Path(tmp) / "floor.db")
        floor_s = fetch_s + insert_s
        print(
            f"floor:             {floor_s:7.2f} s  (fetch + parse {fetch_s:.2f} s,"
            f" executemany {rows:,} rows {insert_s:.2f} s)"
        )

    parent.send(("stop", None))
    parent.recv()
    server.join(timeout=10)
    result = {
        "accounts": n,
        "full_s": round(full_s, 2),
        "incremental_s": round(incremental_s, 2),
        "floor_s": round(floor_s, 2),
        "ratio_to_floor": round(full_s / floor_s, 2),
        "peak_rss_mb": round(memory.peak_mb, 1),
        "shadow": args.shadow,
    }
    print(
        f"ratio to floor {result['ratio_to_floor']} (target ≤ 3.5); incremental"
        f" {100 * incremental_s / full_s:.1f}% of full (target ≤ 5%); peak RSS"
        f" {result['peak_rss_mb']} MB, poller and helpers (target ≤ 400)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
