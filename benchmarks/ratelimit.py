"""Rate-limit benchmark: a HubSpot first sync against a fake that enforces the app's rolling
burst window for real (HubSpot's 100 requests per 10 s by default), as the product runs it.

    python benchmarks/ratelimit.py [--companies 20000] [--limit 100] [--window 10]

The fake (in a child process) answers the request that would be one too many with 429
TEN_SECONDLY_ROLLING and no Retry-After, and sends the X-HubSpot-RateLimit-* headers on every
other answer. The poller reads HubSpot alone (``run_poll``: a helper process, the read-ahead
thread, a temp SQLite database). Figures: requests, 429s the fake served, the time the HubSpot
read took, and that time divided by the least possible one, requests ÷ rate (the window's
first burst can make a short read slightly faster than that). The last line printed is JSON:
{"companies": N, "requests": …, "rate_limited": …, "read_s": …, "least_s": …,
 "ratio_to_least": …}
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HS_TOKEN = "pat-na1-bench-token"
SEED = 42


def serve_fake(n: int, limit: int, window: float, conn: Connection) -> None:
    from tests.fakes import FakeHubSpot

    hubspot = FakeHubSpot(
        auth_token=HS_TOKEN,
        burst_limit=limit,
        burst_window_seconds=window,
        enforce_rate_limit=True,
        search_in_burst_window=True,
    ).start()
    hubspot.record_requests = False
    hubspot.populate(n, seed=SEED)
    conn.send(hubspot.url)
    while True:
        command = conn.recv()
        if command == "counts":
            conn.send({"requests": hubspot.request_count, "rate_limited": hubspot.rate_limited})
        else:
            hubspot.stop()
            conn.send("bye")
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--limit", type=int, default=100, help="requests per window")
    parser.add_argument("--window", type=float, default=10.0, help="the window, in seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from bot.infra.settings import AppConfig, Settings
    from bot.poll.run import run_poll
    from db import migrate
    from db.engine import make_engine, session_factory

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(
        target=serve_fake, args=(args.companies, args.limit, args.window, child), daemon=True
    )
    server.start()
    url: str = parent.recv()
    rate = args.limit / args.window
    print(
        f"fake HubSpot: {args.companies:,} companies, {args.limit} requests per"
        f" {args.window:g} s enforced (429 TEN_SECONDLY_ROLLING, no Retry-After)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'ratelimit.db'}")
        migrate.upgrade(engine)
        factory = session_factory(engine)
        settings = Settings(_env_file=None, hubspot_api_url=url, hubspot_access_token=HS_TOKEN)
        started = time.perf_counter()
        summary = run_poll(settings, AppConfig(), factory, today=date.today())
        total_s = time.perf_counter() - started
        engine.dispose()

    parent.send("counts")
    counts = parent.recv()
    parent.send("stop")
    parent.recv()
    server.join(timeout=10)

    hubspot = summary.sources[0]
    assert hubspot.status == "ok", hubspot.error
    requests, refused = counts["requests"], counts["rate_limited"]
    least = requests / rate
    result = {
        "companies": hubspot.fetched,
        "requests": requests,
        "rate_limited": refused,
        "read_s": round(hubspot.seconds, 1),
        "least_s": round(least, 1),
        "ratio_to_least": round(hubspot.seconds / least, 3),
    }
    print(
        f"HubSpot read:  {hubspot.seconds:7.1f} s  ({hubspot.fetched:,} companies in"
        f" {requests:,} requests, {refused} answered 429)"
    )
    print(
        f"least possible {least:7.1f} s  ({requests:,} requests ÷ {rate:g} per s);"
        f" ratio {result['ratio_to_least']} (target close to 1, 0 × 429); whole poll with"
        f" re-scoring {total_s:.1f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
