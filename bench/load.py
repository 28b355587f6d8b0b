"""Load: concurrent clients doing 1000-person lookups against `krr serve --workers W`.

Starts the server on 127.0.0.1 against PostgreSQL (krr_bench_1000000, seeded by bench/lookup.py
when it holds persons; otherwise seeded here with --persons), runs C clients for D seconds, and
reports throughput, p50/p99 latency and errors (which must be zero). Then it checks the audit log
holds exactly the lookups served: every request carries an X-Request-ID under this run's prefix,
so the rows and persons counted in `oppslag` can be matched one to one with the responses.
The per-consumer rate limits are lifted for the run: it measures the service, not the limiter.

    .venv/bin/python bench/load.py --workers 2 --clients 4 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make bench.lookup and the app importable

from bench.lookup import (  # noqa: E402 - after the path is set
    POSTGRES_BENCH,
    QUERY,
    RESULTS,
    SCOPES,
    ensure_postgres_database,
    env_for,
    free_port,
    krr,
    percentile,
    person_count,
    sample_ids,
    wait_until_up,
)

CONSUMER = "974760673"
HOST = "127.0.0.1"  # never aimed at anything but a local server it started itself


@dataclass
class Tally:
    """What the clients saw: latencies of successful lookups and persons they returned."""

    latencies: list[float] = field(default_factory=list)
    persons: int = 0
    errors: list[str] = field(default_factory=list)


async def _pg(sql: str, *args: object) -> tuple[int, int]:
    conn = await asyncpg.connect(POSTGRES_BENCH.replace("postgres://", "postgresql://"))
    try:
        row = await conn.fetchrow(sql, *args)
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1])


async def audit_totals(run: str | None = None) -> tuple[int, int]:
    """(requests, persons) in the audit log for the bench's consumer, or for one run only."""
    if run is None:
        return await _pg(
            "SELECT count(*), coalesce(sum(antall), 0) FROM oppslag WHERE consumer = $1", CONSUMER
        )
    return await _pg(
        "SELECT count(*), coalesce(sum(antall), 0) FROM oppslag "
        "WHERE consumer = $1 AND request_id LIKE $2",
        CONSUMER, f"{run}-%",
    )


async def client(
    number: int, url: str, token: str, batches: list[list[str]], run: str, until: float,
    tally: Tally,
) -> None:
    """One client: lookups back to back until `until` (at least one), each with its own
    request id."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60) as http:
        n = 0
        while n == 0 or time.monotonic() < until:
            ids = batches[(number * 7919 + n) % len(batches)]
            start = time.perf_counter()
            try:
                response = await http.post(
                    url, json={"query": QUERY, "variables": {"ids": ids}},
                    headers=headers | {"X-Request-ID": f"{run}-{number}-{n}"},
                )
                elapsed = time.perf_counter() - start
                body = response.json()
                got = len(body.get("data", {}).get("personer") or [])
                if response.status_code != 200 or "errors" in body or got != len(ids):
                    tally.errors.append(f"{response.status_code} {response.text[:200]}")
                else:
                    tally.latencies.append(elapsed)
                    tally.persons += got
            except (httpx.HTTPError, ValueError) as exc:
                tally.errors.append(repr(exc))
            n += 1


async def run_load(args: argparse.Namespace) -> dict[str, object]:
    await ensure_postgres_database()
    var_dir = RESULTS / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    # The service's capacity is measured, not the per-consumer rate limit (by default 20,000
    # persons/s per process, which one consumer at full speed would otherwise meet first).
    env = env_for(POSTGRES_BENCH, var_dir) | {
        "KRR_RATE_PERSONS": "10000000/s,10000000", "KRR_RATE_REQUESTS": "10000/s,10000",
    }
    if await person_count(POSTGRES_BENCH) < 1000:
        krr(env, "seed", "--persons", str(args.persons), "--seed", "1")
    persons_in_register = await person_count(POSTGRES_BENCH)
    ids = await sample_ids(POSTGRES_BENCH, 1000 * args.batches, random.Random(args.seed))
    batches = [ids[i:i + 1000] for i in range(0, len(ids), 1000)]
    token = krr(env, "token", "--scope", SCOPES, "--consumer", CONSUMER, "--ttl", "7200").strip()

    port = free_port()
    log = (RESULTS / "load-serve.log").open("w")
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clients
        [sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(port),
         "--workers", str(args.workers)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    run = f"load-{uuid.uuid4().hex[:12]}"
    try:
        url = f"http://{HOST}:{port}/graphql"
        wait_until_up(url, server)
        before, run_before = await audit_totals(), await audit_totals(run)
        warm = Tally()  # one lookup per client first: connection pools, imports
        await asyncio.gather(*(client(c, url, token, batches, f"{run}-w", 0.0, warm)
                               for c in range(args.clients)))
        tally = Tally()
        started = time.monotonic()
        until = started + args.duration
        await asyncio.gather(*(client(c, url, token, batches, run, until, tally)
                               for c in range(args.clients)))
        wall = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    after, run_after = await audit_totals(), await audit_totals(run)
    served_requests = len(tally.latencies)
    expected = (served_requests, tally.persons)
    audit_run = (run_after[0] - run_before[0], run_after[1] - run_before[1])
    # the warm-up lookups are audited too (request ids "<run>-w-..."): part of the run's prefix
    audit_ok = audit_run == (expected[0] + len(warm.latencies), expected[1] + warm.persons)
    consumer_delta = (after[0] - before[0], after[1] - before[1])
    return {
        "workers": args.workers, "clients": args.clients, "seconds": wall,
        "register": persons_in_register, "requests": served_requests,
        "persons_s": tally.persons / wall, "requests_s": served_requests / wall,
        "p50_ms": statistics.median(tally.latencies) * 1000 if tally.latencies else 0.0,
        "p99_ms": percentile(tally.latencies, 0.99) * 1000 if tally.latencies else 0.0,
        "errors": len(tally.errors) + len(warm.errors), "first_error": (tally.errors
                                                                         + warm.errors)[:1],
        "served": (expected[0] + len(warm.latencies), expected[1] + warm.persons),
        "audit_rows": audit_run[0], "audit_persons": audit_run[1], "audit_ok": audit_ok,
        "consumer_delta_ok": consumer_delta == audit_run,
    }


def table(r: dict[str, object]) -> str:
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL register of {r['register']:,} persons; "
        "clients and server on the same machine",
        "",
        "| workers | clients | seconds | lookups | persons/s | lookups/s | p50 | p99 | errors "
        "| audited lookups / persons (warm-up included) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {r['workers']} | {r['clients']} | {r['seconds']:.0f} | {r['requests']:,} "
        f"| {r['persons_s']:,.0f} | {r['requests_s']:.1f} | {r['p50_ms']:.0f} ms "
        f"| {r['p99_ms']:.0f} ms | {r['errors']} | {r['audit_rows']:,} / {r['audit_persons']:,} "
        f"({'= served' if r['audit_ok'] and r['consumer_delta_ok'] else 'MISMATCH'}) |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="krr serve worker processes")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--persons", type=int, default=100_000,
                        help="register size when krr_bench has to be seeded here")
    parser.add_argument("--batches", type=int, default=50, help="distinct 1000-id batches")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the ids")
    args = parser.parse_args()
    result = asyncio.run(run_load(args))
    print(result, file=sys.stderr)
    print(table(result))
    if result["errors"] or not (result["audit_ok"] and result["consumer_delta_ok"]):
        raise SystemExit("load run failed: errors, or the audit log does not match")


if __name__ == "__main__":
    main()
