"""Load test: signed ``/expansion <name>`` commands against two replicas on PostgreSQL.

Starts two ``expansion-radar run`` processes on one PostgreSQL database (a fresh database
created on the server of --database-url, dropped afterwards unless --keep), seeds the book
the way benchmarks/slash.py does, points both at a local fake Slack, then a *second process*
sends --rps signed slash commands per second for --seconds seconds, open-loop (on a fixed
schedule, whatever the answers' latency), alternating between the replicas over loopback,
and records every status code and latency.

    python benchmarks/load.py                             # 100/s for 60 s, 20,000 accounts
    python benchmarks/load.py --rps 50 --seconds 10 --accounts 2000

The last line is JSON: {"rps", "seconds", "requests", "non_2xx", "p50_ms", "p99_ms",
"max_ms", …}. Target: no 5xx, p99 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from slash import generate, pct, queries  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from db.engine import make_engine  # noqa: E402
from tests.fakes import FakeSlack, sign_request  # noqa: E402

SECRET = "load-test-signing-secret"
USER = "U0BENCH001"
DEFAULT_PG = os.environ.get(
    "EXPANSION_RADAR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONFIG = """
sources:
  schedule:
    interval_minutes: 60
    rescore_cron: null
slack:
  sender_interval_seconds: 5
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the database ------------------------------------------------------------------------


def fresh_database(server_url: str) -> str:
    name = f"er_load_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_url(server_url).set(database=name))


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(
        str(parsed.set(database="postgres")), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


# --- the replicas ------------------------------------------------------------------------


def start_replica(
    name: str, url: str, slack: FakeSlack, workdir: Path
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    config = workdir / "radar.yml"
    config.write_text(CONFIG, encoding="utf-8")
    log = workdir / f"{name}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "EXPANSION_RADAR_CONFIG": str(config),
        "SLACK_BOT_TOKEN": slack.auth_token or "",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "SECRETS_DIR": str(workdir / "no-secrets"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--host", "127.0.0.1"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}", log


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a replica exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not become healthy in {timeout:g} s")


def body_for(query: str, response_url: str) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy",
            "team_id": "T0FAKE001",
            "team_domain": "fake",
            "channel_id": "C0BENCH001",
            "channel_name": "expansion",
            "user_id": USER,
            "user_name": "bench",
            "command": "/expansion",
            "text": query,
            "api_app_id": "A0FAKEAPP",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    )


# --- the second process: the load generator ----------------------------------------------


def generator(
    bases: list[str],
    texts: list[str],
    response_url: str,
    rps: float,
    seconds: float,
    out: Connection,
) -> None:
    """Open loop: request i leaves at start + i / rps, whatever happened to the others."""
    results = asyncio.run(_fire(bases, texts, response_url, rps, seconds))
    out.send(results)
    out.close()


class _Pool:
    """Keep-alive HTTP/1.1 connections to one replica, written by hand: the load generator
    must cost far less CPU per request than the replicas it measures (httpx costs about as
    much as the request it sends, and on two cores that would be what gets measured)."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._send(reader, writer, path, body, headers)
            except (OSError, asyncio.IncompleteReadError):
                writer.close()  # the server closed an idle keep-alive connection: reconnect
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._send(reader, writer, path, body, headers)

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
            + body
        )
        await writer.drain()
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, payload

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _fire(
    bases: list[str], texts: list[str], response_url: str, rps: float, seconds: float
) -> dict[str, Any]:
    total = int(rps * seconds)
    pools = [_Pool(b) for b in bases]
    statuses: list[int] = []
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    bad_bodies = 0

    async def one(i: int) -> None:
        nonlocal bad_bodies
        body = body_for(texts[i % len(texts)], response_url)
        headers = sign_request(SECRET, body)
        t0 = time.perf_counter()
        try:
            status, payload = await asyncio.wait_for(
                pools[i % len(pools)].post("/slack/events", body.encode(), headers), 30
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            errors[type(exc).__name__] += 1
            statuses.append(0)
            latencies.append((time.perf_counter() - t0) * 1000)
            return
        latencies.append((time.perf_counter() - t0) * 1000)
        statuses.append(status)
        if status == 200 and "text" not in json.loads(payload):
            bad_bodies += 1

    cpu0 = time.process_time()
    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(total):
        due = start + i / rps
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.perf_counter() - due) * 1000)
        tasks.append(asyncio.create_task(one(i)))
    sent_in = time.perf_counter() - start
    await asyncio.gather(*tasks)
    for pool in pools:
        pool.close()
    return {
        "statuses": statuses,
        "latencies": latencies,
        "lags": lags,
        "errors": dict(errors),
        "bad_bodies": bad_bodies,
        "sent_in": sent_in,
        "generator_cpu_s": time.process_time() - cpu0,
    }


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="a PostgreSQL server URL: a fresh database is created there (default: %(default)s)",
    )
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--snapshots-per-account", type=int, default=10)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        raise SystemExit("--database-url must be PostgreSQL: replicas need a shared database")

    url = fresh_database(args.database_url)
    print(f"database: {url.split('@')[-1]} (fresh)")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        all_names, took = generate(url, args.accounts, args.snapshots_per_account, args.seed)
        print(
            f"seeded {args.accounts:,} accounts, {args.accounts * args.snapshots_per_account:,}"
            f" snapshots in {took:.1f} s"
        )
        rng = random.Random(args.seed + 2)
        texts = [q for _, q in queries(all_names, 5000, rng)]
        with FakeSlack() as slack, tempfile.TemporaryDirectory(prefix="load-") as tmp:
            slack.add_user(USER, "owner7@example.com", tz="Europe/Berlin")
            bases, logs = [], []
            for k in range(args.replicas):
                workdir = Path(tmp) / f"replica-{k + 1}"
                workdir.mkdir()
                proc, base, log = start_replica(f"replica-{k + 1}", url, slack, workdir)
                procs.append(proc)
                bases.append(base)
                logs.append(log)
            for proc, base, log in zip(procs, bases, logs, strict=True):
                wait_healthy(proc, base, log, timeout=120)
            response_url = slack.url_for_response("load")
            with httpx.Client(timeout=60) as http:  # warm-up: name indexes, connections
                for base in bases:
                    for q in texts[:20]:
                        body = body_for(q, response_url)
                        http.post(
                            base + "/slack/events", content=body, headers=sign_request(SECRET, body)
                        )
            print(
                f"{args.replicas} replicas up ({', '.join(bases)}); sending {args.rps:g}/s"
                f" for {args.seconds:g} s from a second process"
            )
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe(duplex=False)
            worker = ctx.Process(
                target=generator,
                args=(bases, texts, response_url, args.rps, args.seconds, child),
            )
            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            worker.start()
            results: dict[str, Any] = parent.recv()
            worker.join(timeout=60)
            replica_cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
            for proc in procs:
                if proc.poll() is not None:
                    print(f"warning: a replica died during the run: exit {proc.returncode}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.keep:
            print(f"kept {url.split('@')[-1]}")
        else:
            drop_database(url)

    statuses: list[int] = results["statuses"]
    latencies: list[float] = results["latencies"]
    codes = Counter(statuses)
    non_2xx = sum(n for code, n in codes.items() if not 200 <= code < 300)
    five_xx = sum(n for code, n in codes.items() if code >= 500)
    requests = len(statuses)
    achieved = requests / results["sent_in"] if results["sent_in"] else 0.0
    print(f"requests: {requests:,} in {results['sent_in']:.1f} s ({achieved:.1f}/s achieved)")
    print(f"status codes: {dict(sorted(codes.items()))}; transport errors: {results['errors']}")
    print(f"answers without text: {results['bad_bodies']}")
    print(
        f"latency: p50 {pct(latencies, 50):.1f} ms  p90 {pct(latencies, 90):.1f} ms"
        f"  p99 {pct(latencies, 99):.1f} ms  max {max(latencies):.1f} ms"
    )
    print(
        f"sender lag (client side): p99 {pct(results['lags'], 99):.1f} ms;"
        f" generator CPU {results['generator_cpu_s'] / max(requests, 1) * 1000:.2f} ms per request"
    )
    print(
        f"replica CPU: {replica_cpu / max(requests, 1) * 1000:.1f} ms per request"
        f" ({replica_cpu / max(results['sent_in'], 1e-9):.2f} cores busy on average;"
        f" this machine has {os.cpu_count()})"
    )
    verdict = "met" if five_xx == 0 and pct(latencies, 99) <= 300 else "MISSED"
    print(f"target (no 5xx, p99 <= 300 ms): {verdict}")
    print(
        json.dumps(
            {
                "rps": args.rps,
                "seconds": args.seconds,
                "requests": requests,
                "non_2xx": non_2xx,
                "5xx": five_xx,
                "p50_ms": round(pct(latencies, 50), 1),
                "p99_ms": round(pct(latencies, 99), 1),
                "max_ms": round(max(latencies), 1),
                "accounts": args.accounts,
                "replicas": args.replicas,
                "replica_cpu_ms_per_request": round(replica_cpu / max(requests, 1) * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
