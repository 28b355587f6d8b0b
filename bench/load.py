"""Load: concurrent clients doing 1000-person lookups against `krr serve --workers W`, and the
same against the floor served the same way (issue 16, targets 3 and 6a).

1. `krr serve --workers W` on 127.0.0.1 against the PostgreSQL register krr_bench_<--persons>
   (seeded when it holds fewer persons), per-consumer rate limits lifted (the service is
   measured, not the limiter). C clients (asyncio + httpx) do lookups of every field of 1000
   ids back to back for --duration seconds after one warm-up lookup each. Throughput, latency,
   errors (which must be zero).
2. The floor: bench/floor_app.py (Starlette, one POST endpoint: the same fetch in one
   statement through an asyncpg pool, and orjson) under uvicorn with the same worker count,
   hit by the same client code with the same ids for --floor-duration seconds. The target:
   krr's persons/s at least half the floor's.
3. Memory: the resident memory (VmRSS from /proc, summed over the server's worker processes)
   when up, after the warm-up, every --sample-every seconds and at the end; start, end, max and
   the least-squares slope are reported. The target: flat over a 10-minute run.
4. The audit log: every request carries an X-Request-ID under this run's prefix, and the
   `oppslag` rows and summed `antall` for the run must equal the lookups and persons served
   (and the consumer's totals must have grown by exactly that). Exits non-zero otherwise.

    .venv/bin/python bench/load.py --workers 2 --clients 4 --duration 600   # the issue's run
    .venv/bin/python bench/load.py --persons 100000 --duration 60           # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make bench importable

from bench.common import (  # noqa: E402 - after the path is set
    CONSUMER,
    LIFTED_LIMITS,
    MIB,
    RESULTS,
    LookupFailed,
    Server,
    batches_of,
    command_line,
    env_for,
    percentile,
    person_count,
    postgres_url,
    prepare_register,
    process_tree,
    sample_ids,
    serve,
    slope_per_minute,
    status_bytes,
    timed_lookup,
    token,
)
from bench.floor_app import asyncpg_dsn  # noqa: E402

THROUGHPUT_TARGET = 0.5  # target 3: krr's persons/s >= 0.5 x the floor's


@dataclass
class Tally:
    """What the clients saw: latencies of successful lookups and persons they returned."""

    latencies: list[float] = field(default_factory=list)
    persons: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Phase:
    """One server under load: what the clients saw, and its memory."""

    name: str
    workers: int
    clients: int
    seconds: float
    tally: Tally
    warm: Tally
    idle_rss: int  # when up, before any lookup
    memory: list[tuple[float, int]]  # (seconds into the load, bytes), after the warm-up
    processes: int

    @property
    def persons_s(self) -> float:
        return self.tally.persons / self.seconds

    @property
    def errors(self) -> list[str]:
        return self.warm.errors + self.tally.errors


def worker_rss(pid: int) -> tuple[int, int]:
    """(bytes resident, processes) over the server's workers: uvicorn's worker processes below
    `pid` (its supervisor and multiprocessing's resource tracker left out), else `pid` itself
    (one worker, in process)."""
    workers = [p for p in process_tree(pid)[1:] if b"spawn_main" in command_line(p)] or [pid]
    return sum(status_bytes(p, "VmRSS") for p in workers), len(workers)


async def audit_totals(database_url: str, run: str | None = None) -> tuple[int, int]:
    """(requests, persons) in the audit log for the bench's consumer, or for one run only."""
    sql = "SELECT count(*), coalesce(sum(antall), 0) FROM oppslag WHERE consumer = $1"
    args: list[str] = [CONSUMER]
    if run is not None:
        sql += " AND request_id LIKE $2"
        args.append(f"{run}-%")
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow(sql, *args)
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1])


async def client(number: int, url: str, bearer: str, batches: list[list[str]], run: str,
                 until: float, tally: Tally) -> None:
    """One client: lookups back to back until `until` (at least one), each with its own
    request id."""
    async with httpx.AsyncClient(timeout=120) as http:
        n = 0
        while n == 0 or time.monotonic() < until:
            ids = batches[(number * 7919 + n) % len(batches)]
            try:
                tally.latencies.append(
                    await timed_lookup(http, url, bearer, ids, f"{run}-{number}-{n}"))
                tally.persons += len(ids)
            except (LookupFailed, httpx.HTTPError) as exc:
                tally.errors.append(str(exc) or repr(exc))
            n += 1


async def load_phase(name: str, server: Server, bearer: str, batches: list[list[str]],
                     run: str, args: argparse.Namespace, duration: float) -> Phase:
    """Warm up (one lookup per client), then `args.clients` clients for `duration` seconds,
    sampling the server's memory throughout."""
    idle_rss, _ = worker_rss(server.pid)
    warm = Tally()
    await asyncio.gather(*(client(c, server.url, bearer, batches, f"{run}-w", 0.0, warm)
                           for c in range(args.clients)))
    tally = Tally()
    started = time.monotonic()
    memory: list[tuple[float, int]] = []
    processes = 0

    def sample() -> None:
        nonlocal processes
        rss, processes = worker_rss(server.pid)
        memory.append((time.monotonic() - started, rss))

    async def sampler() -> None:
        while True:
            sample()
            await asyncio.sleep(args.sample_every)

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(client(c, server.url, bearer, batches, run, started + duration,
                                  tally) for c in range(args.clients)))
    seconds = time.monotonic() - started
    sampling.cancel()
    sample()  # at the end, before the server stops
    return Phase(name, args.workers, args.clients, seconds, tally, warm, idle_rss, memory,
                 processes)


async def run_load(args: argparse.Namespace) -> tuple[Phase, Phase, dict[str, object]]:
    database_url = postgres_url(args.persons)
    await prepare_register(database_url, args.persons)
    persons_in_register = await person_count(database_url)
    ids = await sample_ids(database_url, 1000 * args.batches, random.Random(args.seed))
    batches = batches_of(ids)
    bearer = token()
    env = env_for(database_url, **LIFTED_LIMITS)
    run = f"load-{uuid.uuid4().hex[:12]}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "load-serve.log").open("w") as log:
        before, run_before = await audit_totals(database_url), await audit_totals(database_url, run)
        with serve(env, args.workers, log=log) as server:
            krr = await load_phase("krr serve", server, bearer, batches, run, args, args.duration)
        after, run_after = await audit_totals(database_url), await audit_totals(database_url, run)
        print(f"krr serve: {krr.persons_s:,.0f} persons/s", file=sys.stderr)
        with serve(env, args.workers, floor=True, log=log) as server:
            floor = await load_phase("floor (bench/floor_app.py)", server, bearer, batches,
                                     f"{run}-floor", args, args.floor_duration)
    served = (len(krr.tally.latencies) + len(krr.warm.latencies),
              krr.tally.persons + krr.warm.persons)
    audited = (run_after[0] - run_before[0], run_after[1] - run_before[1])
    consumer_delta = (after[0] - before[0], after[1] - before[1])
    audit = {
        "register": persons_in_register, "served": served, "audited": audited,
        "ok": audited == served and consumer_delta == audited,
    }
    return krr, floor, audit


def row(p: Phase) -> str:
    lat = p.tally.latencies
    p50 = f"{statistics.median(lat) * 1000:.0f} ms" if lat else "-"
    p99 = f"{percentile(lat, 0.99) * 1000:.0f} ms" if lat else "-"
    return (f"| {p.name} | {p.workers} | {p.clients} | {p.seconds:.0f} | {len(lat):,} "
            f"| {p.persons_s:,.0f} | {len(lat) / p.seconds:.1f} | {p50} | {p99} "
            f"| {len(p.errors)} |")


def memory_row(p: Phase) -> str:
    values = [v for _, v in p.memory]
    return (f"| {p.name} | {p.processes} | {p.idle_rss / MIB:.0f} MiB "
            f"| {values[0] / MIB:.0f} MiB | {values[-1] / MIB:.0f} MiB "
            f"| {max(values) / MIB:.0f} MiB | {slope_per_minute(p.memory) / MIB:+.2f} MiB/min "
            f"| {len(values)} |")


def tables(krr: Phase, floor: Phase, audit: dict[str, object], sample_every: float) -> str:
    ratio = krr.persons_s / floor.persons_s
    served, audited = audit["served"], audit["audited"]
    assert isinstance(served, tuple) and isinstance(audited, tuple)
    start, end = krr.memory[0][1], krr.memory[-1][1]
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL register of {audit['register']:,} "
        "persons; clients, servers and PostgreSQL on the same machine",
        "",
        "| server | workers | clients | seconds | lookups | persons/s | lookups/s | p50 | p99 "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        row(krr),
        row(floor),
        "",
        f"Audited lookups / persons of the krr run (warm-up included): {audited[0]:,} / "
        f"{audited[1]:,} ({'= served' if audit['ok'] else f'MISMATCH: served {served}'})",
        "",
        f"Resident memory: VmRSS summed over the server's worker processes, when up, then from "
        f"the end of the warm-up every {sample_every:g} s to the end of the run",
        "",
        "| server | workers | when up | start | end | max | slope | samples |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        memory_row(krr),
        memory_row(floor),
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| 3. persons/s ≥ {THROUGHPUT_TARGET} × the floor's ({krr.workers} workers) "
        f"| {ratio:.2f} × ({krr.persons_s:,.0f} / {floor.persons_s:,.0f}) "
        f"| {'met' if ratio >= THROUGHPUT_TARGET else 'not met'} |",
        f"| 6a. resident memory flat over {krr.seconds / 60:.0f} min of load | start "
        f"{start / MIB:.0f} MiB, end {end / MIB:.0f} MiB ({(end - start) / MIB:+.0f} MiB), "
        f"slope {slope_per_minute(krr.memory) / MIB:+.2f} MiB/min | reported |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of load on krr serve")
    parser.add_argument("--floor-duration", type=float, default=None,
                        help="seconds of load on the floor (default: --duration, at most 120)")
    parser.add_argument("--persons", type=int, default=1_000_000,
                        help="the register, krr_bench_<persons> (seeded when smaller)")
    parser.add_argument("--batches", type=int, default=50, help="distinct 1000-id batches")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the ids")
    parser.add_argument("--sample-every", type=float, default=10.0,
                        help="seconds between memory samples")
    args = parser.parse_args()
    if args.floor_duration is None:
        args.floor_duration = min(args.duration, 120.0)
    krr, floor, audit = asyncio.run(run_load(args))
    print(tables(krr, floor, audit, args.sample_every))
    for phase in (krr, floor):
        if phase.errors:
            print(f"{phase.name}: {len(phase.errors)} errors, the first: {phase.errors[0]}",
                  file=sys.stderr)
    if krr.errors or floor.errors or not audit["ok"]:
        raise SystemExit("load run failed: errors, or the audit log does not match")


if __name__ == "__main__":
    main()
