"""Benchmark: a 1000-person lookup of every field over HTTP, against the floor, at every size in
one run (issue 16, targets 1, 2 and 6b).

1. Registers: PostgreSQL `krr_bench_<N>` and SQLite bench/results/bench-<N>.sqlite3, seeded
   where they hold fewer persons than asked (timed: the seed column), else kept.
2. Audit logs: each register's is grown by the benchmark's own lookups (1000 random ids, POST
   /graphql through `krr serve`, asking id and status so the answers stay small; concurrent
   clients, a progress bar) until it holds at least
   --audit-rows person rows (summed `oppslag.antall`); only what is missing is added, and
   nothing is ever emptied, so the audit's indexes are not measured empty.
3. Warm-up: each register's persons (table and indexes) are read into memory first, as a
   register in service holds them (bench.common.warm_register), so that neither the lookup nor
   the floor after it on the same ids pays for pages read the first time.
4. Timing: one `krr serve` per register, all side by side; each round looks up 1000 fresh random
   ids on every register in turn (token check, delegation check, § 32 and the audit write
   included), each followed by the filing of its audit record (the server's filer puts the
   persons into the per-person index after the answer; waited for and reported, so that one
   register's filing is not timed inside the next register's lookup on the shared cores), then
   by the floor: the same rows fetched with one statement through the raw driver and encoded
   with orjson (bench/floor_app.py's statement). Ratios are medians of the per-round ratios,
   so a busy moment of the shared machine cancels out of them.
5. Memory of one lookup (6b): the server process's VmHWM (/proc/<pid>/status), reset through
   /proc/<pid>/clear_refs just before a lookup, against its VmRSS just before: on the fresh
   server's first lookup and on one after the timed rounds; and tracemalloc's peak of one warm
   lookup in process (the app over ASGI) on the largest PostgreSQL register.

Prints the Markdown tables for the README (results, the targets' verdicts, memory); progress
goes to standard error.

    .venv/bin/python bench/lookup.py        # PostgreSQL 100k, 1M, 5M and SQLite 1M, 10M audit rows
    .venv/bin/python bench/lookup.py --postgres 20000 100000 --sqlite 20000 --audit-rows 100000
    .venv/bin/python bench/lookup.py --profile      # where the time goes (cProfile, in process)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import time
import tracemalloc
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make bench importable

from app.config import load_settings  # noqa: E402 - after the path is set
from app.edge.app import create_app  # noqa: E402
from bench.common import (  # noqa: E402
    MIB,
    QUERY,
    audit_person_rows,
    batches_of,
    env_for,
    grow_audit_log,
    krr,
    ms,
    percentile,
    postgres_settings,
    prepare_register,
    register_url,
    reset_peak,
    sample_ids,
    serve,
    status_bytes,
    timed_lookup,
    token,
    warm_register,
)
from bench.floor_app import POSTGRES_FLOOR, asyncpg_dsn, encode, sqlite_floor  # noqa: E402

WARM_UP = 5  # rounds not timed: caches, connections, the first plans
LATENCY_TARGET = 2.5  # target 1: p50 <= 2.5 x the floor
SCALE_TARGET = 1.2  # target 2: p50 at the largest size <= 1.2 x at the smallest
FILED_TIMEOUT = 60.0  # seconds a lookup's audit record may wait to be filed
SEED_TARGET_S = 300  # target 2: `krr seed --persons 5000000` in under 5 minutes


class Floor:
    """The floor for one register: one statement through the raw driver, rows encoded with
    orjson, on a connection kept open (as the service keeps its pool)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.sqlite: sqlite3.Connection | None = None
        self.pg: Any = None

    async def open(self) -> None:
        if self.database_url.startswith("sqlite"):
            self.sqlite = sqlite3.connect(self.database_url.removeprefix("sqlite://"))
            self.sqlite.row_factory = sqlite3.Row
        else:
            self.pg = await asyncpg.connect(asyncpg_dsn(self.database_url))

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    async def filed(self) -> float:
        """Seconds until the register's audit queue is empty: the filer (app.revisjon.fordeling)
        has put the last lookup's persons into the per-person index, after its answer. SQLite:
        and until its WAL is checkpointed. The filing's commit grows the WAL past SQLite's
        automatic checkpoint (1000 pages), which the server's one connection then runs after the
        commit, readable already, the next lookup waiting behind it; PostgreSQL checkpoints in a
        process of its own."""
        start = time.perf_counter()
        while True:
            if self.sqlite is not None:
                (queued,) = self.sqlite.execute("SELECT count(*) FROM oppslag_ufordelt").fetchone()
                if not queued:
                    # busy: another connection (the server's) is checkpointing; else whatever
                    # was left is checkpointed now, by this call if not by the server
                    busy, log, done = self.sqlite.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    queued = busy or log != done
            else:
                queued = await self.pg.fetchval("SELECT count(*) FROM oppslag_ufordelt")
            if not queued:
                return time.perf_counter() - start
            if time.perf_counter() - start > FILED_TIMEOUT:
                raise RuntimeError(f"{queued} audit records still unfiled after "
                                   f"{FILED_TIMEOUT:.0f} s")
            await asyncio.sleep(0.002)

    async def sample(self, ids: list[str]) -> float:
        start = time.perf_counter()
        if self.sqlite is not None:
            rows = [dict(r) for r in self.sqlite.execute(sqlite_floor(ids), ids)]
        else:
            rows = [dict(r) for r in await self.pg.fetch(POSTGRES_FLOOR, ids)]
        encode(rows)
        return time.perf_counter() - start


@dataclass
class Target:
    """One register in the run, and what was measured on it."""

    backend: str
    persons: int
    seed_s: float | None = None
    audit_rows: int = 0
    lookups: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    filed: list[float] = field(default_factory=list)  # seconds from the answer to its filing
    # (VmRSS just before, VmHWM during) the fresh server's first lookup and one after the timed
    # rounds
    first: tuple[int, int] = (0, 0)
    later: tuple[int, int] = (0, 0)

    @property
    def url(self) -> str:
        return register_url(self.backend, self.persons)


async def peak_of_lookup(http: httpx.AsyncClient, url: str, bearer: str, pid: int,
                         ids: list[str]) -> tuple[float, tuple[int, int]]:
    """Seconds of one lookup, and the server's (VmRSS just before, VmHWM during) it: the
    high-water mark is reset just before."""
    reset_peak(pid)
    before = status_bytes(pid, "VmRSS")
    elapsed = await timed_lookup(http, url, bearer, ids)
    return elapsed, (before, status_bytes(pid, "VmHWM"))


async def run(targets: list[Target], iterations: int, audit_rows: dict[str, int],
              grow_clients: int, reseed: list[int] | None) -> None:
    for t in targets:
        again = reseed is not None and (not reseed or t.persons in reseed)
        t.seed_s = await prepare_register(t.url, t.persons, again)
        kept = "kept" if t.seed_s is None else f"seeded in {t.seed_s:.0f} s"
        print(f"{t.backend} {t.persons:,}: {kept}", file=sys.stderr)
    for t in targets:
        t.audit_rows = await grow_audit_log(t.url, t.persons, audit_rows[t.backend],
                                            clients=grow_clients)
    for t in targets:
        warmed = await warm_register(t.url)
        print(f"{t.backend} {t.persons:,}: {warmed / MIB:,.0f} MiB of persons read into memory",
              file=sys.stderr)
    batches = [batches_of(await sample_ids(t.url, 1000 * (WARM_UP + iterations + 1),
                                           random.Random(t.persons)))
               for t in targets]
    bearer = token()
    floors = [Floor(t.url) for t in targets]
    with ExitStack() as stack:
        servers = [stack.enter_context(serve(env_for(t.url))) for t in targets]
        try:
            for floor in floors:
                await floor.open()
            async with httpx.AsyncClient(timeout=120) as http:
                for round_ in range(WARM_UP + iterations):
                    for i, t in enumerate(targets):
                        ids = batches[i][round_]
                        if round_ == 0:  # the fresh server's first lookup, its memory peak
                            elapsed, t.first = await peak_of_lookup(
                                http, servers[i].url, bearer, servers[i].pid, ids)
                        else:
                            elapsed = await timed_lookup(http, servers[i].url, bearer, ids)
                        # the record's filing happens after the answer: waited for here, so
                        # that no register's filing is timed as part of another's lookup
                        filed_s = await floors[i].filed()
                        floor_s = await floors[i].sample(ids)
                        if round_ >= WARM_UP:
                            t.lookups.append(elapsed)
                            t.floors.append(floor_s)
                            t.filed.append(filed_s)
                for i, t in enumerate(targets):
                    _, t.later = await peak_of_lookup(
                        http, servers[i].url, bearer, servers[i].pid, batches[i][-1])
        finally:
            for floor in floors:
                await floor.close()


async def traced_peak(target: Target) -> int:
    """Bytes of Python memory one warm 1000-person lookup holds at its peak, traced by
    tracemalloc in process (the app over ASGI, no HTTP server): peak minus what was held just
    before. The ASGI client's copy of the answer is included (~1 MB with the request)."""
    settings = load_settings(env_for(target.url))
    app = create_app(settings)
    ids = batches_of(await sample_ids(target.url, 4000, random.Random(target.persons + 1)))
    payloads = [{"query": QUERY, "variables": {"ids": batch}} for batch in ids]
    headers = {"Authorization": f"Bearer {token()}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for payload in payloads[:-1]:  # warm: plans, caches, the pool
                (await http.post("/graphql", json=payload, headers=headers)).raise_for_status()
            tracemalloc.start()
            try:
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                response = await http.post("/graphql", json=payloads[-1], headers=headers)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            response.raise_for_status()
    return peak - before


def per_round_median(a: list[float], b: list[float]) -> float:
    """Median of a/b taken round by round: a slow moment of the machine cancels out."""
    return statistics.median([x / y for x, y in zip(a, b, strict=True)])


def baselines(targets: list[Target]) -> dict[str, Target]:
    """Per backend with more than one size: its smallest register, the scale target's base."""
    by_backend: dict[str, list[Target]] = {}
    for t in targets:
        by_backend.setdefault(t.backend, []).append(t)
    return {b: min(ts, key=lambda t: t.persons) for b, ts in by_backend.items() if len(ts) > 1}


def growth(memory: tuple[int, int]) -> str:
    """A lookup's peak over the resident memory just before it."""
    before, peak = memory
    return f"+{(peak - before) / MIB:.1f} MiB (peak {peak / MIB:.0f} MiB over {before / MIB:.0f})"


def tables(targets: list[Target], audit_rows: int, traced: tuple[Target, int],
           settings: str | None) -> str:
    base = baselines(targets)
    base_label = (" / ".join(f"{t.persons:,} ({b})" for b, t in base.items())
                  or "the backend's smallest size")
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; every register's audit log grown by these lookups "
        f"before timing (PostgreSQL's to at least {audit_rows:,} person rows)"
        + (f"; PostgreSQL with {settings}" if settings else ""),
        "",
        "| backend | persons | audit person rows | 1000-person lookup p50 | p95 | floor p50 "
        f"| lookup / floor | lookup / lookup at {base_label} | `krr seed` time "
        "| filed after the answer, p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        seed = f"{t.seed_s:.0f} s" if t.seed_s is not None else "- (kept)"
        scale = (f"{per_round_median(t.lookups, base[t.backend].lookups):.2f}"
                 if t.backend in base else "-")
        lines.append(
            f"| {t.backend} | {t.persons:,} | {t.audit_rows:,} "
            f"| {ms(statistics.median(t.lookups))} | {ms(percentile(t.lookups, 0.95))} "
            f"| {ms(statistics.median(t.floors))} "
            f"| {per_round_median(t.lookups, t.floors):.2f} | {scale} | {seed} "
            f"| {ms(statistics.median(t.filed))} |"
        )

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    lines += ["", "The issue's targets, against this run:", "",
              "| target | measured | |", "|---|---|---|"]
    national = [t for t in targets if t.persons >= 1_000_000] or targets
    for t in national:
        ratio = per_round_median(t.lookups, t.floors)
        lines.append(
            f"| 1. p50 ≤ {LATENCY_TARGET} × floor, {t.backend} {t.persons:,} "
            f"| {ratio:.2f} × (p50 {ms(statistics.median(t.lookups))} / floor "
            f"{ms(statistics.median(t.floors))}) | {verdict(ratio <= LATENCY_TARGET)} |")
    for backend, b in base.items():
        largest = max((t for t in targets if t.backend == backend), key=lambda t: t.persons)
        grown = per_round_median(largest.lookups, b.lookups)
        lines.append(
            f"| 2. p50 at {largest.persons:,} ≤ {SCALE_TARGET} × p50 at {b.persons:,} ({backend}) "
            f"| {grown:.2f} | {verdict(grown <= SCALE_TARGET)} |")
    # Target 2 is about PostgreSQL's registers (SQLite's may grow less: --sqlite-audit-rows).
    fewest = min((t.audit_rows for t in targets if t.backend == "postgres"), default=0)
    lines.append(f"| 2. PostgreSQL audit logs of ≥ {audit_rows:,} person rows while timing "
                 f"| fewest {fewest:,} | {verdict(fewest >= audit_rows)} |")
    largest_pg = max((t for t in targets if t.backend == "postgres"),
                     key=lambda t: t.persons, default=None)
    if largest_pg is not None:
        seeded = largest_pg.seed_s
        took, ok = f"kept, not timed (--reseed {largest_pg.persons})", "-"
        if seeded is not None:
            took, ok = f"{seeded:.0f} s", verdict(seeded < SEED_TARGET_S)
        lines.append(
            f"| 2. `krr seed --persons {largest_pg.persons}` < {SEED_TARGET_S // 60} min "
            f"(PostgreSQL) | {took} | {ok} |")
    traced_target, traced_bytes = traced
    first = max(targets, key=lambda t: t.first[1] - t.first[0])
    lines.append(
        f"| 6b. peak memory of one 1000-person lookup | {traced_bytes / MIB:.1f} MiB of Python "
        f"objects at its peak (tracemalloc, a warm lookup, {traced_target.backend} "
        f"{traced_target.persons:,}); the fresh server's first lookup: {growth(first.first)} "
        f"resident ({first.backend} {first.persons:,}; below) | reported |")

    lines += [
        "", "Resident memory of one 1000-person lookup: the `krr serve` process's VmHWM "
        "(/proc/<pid>/status), reset through /proc/<pid>/clear_refs just before the lookup, "
        "against its VmRSS just before. Once the allocator holds a lookup's worth of freed "
        "memory, later lookups reuse it and barely move the mark: the first lookup's growth is "
        "the bound, tracemalloc's peak (above) the lookup's own.",
        "", "| backend | persons | the fresh server's first lookup "
        "| a lookup after the timed rounds |", "|---|---:|---:|---:|",
    ]
    for t in targets:
        lines.append(
            f"| {t.backend} | {t.persons:,} | {growth(t.first)} | {growth(t.later)} |")
    return "\n".join(lines)


def profile(persons: int) -> None:
    """cProfile of in-process lookups (no HTTP server) on the SQLite register, top functions by
    own time."""
    database_url = register_url("sqlite", persons)
    env = env_for(database_url)
    if not Path(database_url.removeprefix("sqlite://")).exists():
        krr(env, "seed", "--persons", str(persons))
    os.environ.update(env)
    settings = load_settings()
    bearer = token()

    async def profiled() -> None:
        app = create_app(settings)
        batches = [await sample_ids(database_url, 1000, random.Random(i)) for i in range(25)]
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                headers = {"Authorization": f"Bearer {bearer}"}
                payloads = [{"query": QUERY, "variables": {"ids": ids}} for ids in batches]
                await c.post("/graphql", json=payloads[0], headers=headers)
                profiler = cProfile.Profile()
                profiler.enable()
                for payload in payloads[1:]:
                    await c.post("/graphql", json=payload, headers=headers)
                profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)

    asyncio.run(profiled())


async def audit_after(targets: list[Target]) -> None:
    """Tell how far the timed rounds grew the audit logs (the table shows them as timed)."""
    for t in targets:
        print(f"{t.backend} {t.persons:,}: {await audit_person_rows(t.url):,} audit person rows "
              "after the run", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--postgres", type=int, nargs="*", default=[100_000, 1_000_000, 5_000_000],
                        metavar="PERSONS", help="PostgreSQL register sizes (none: leave out)")
    parser.add_argument("--sqlite", type=int, nargs="*", default=[1_000_000],
                        metavar="PERSONS", help="SQLite register sizes (none: leave out)")
    parser.add_argument("--audit-rows", type=int, default=10_000_000,
                        help="grow every audit log to at least this many person rows first")
    parser.add_argument("--sqlite-audit-rows", type=int, default=None,
                        help="grow SQLite's audit logs to this many instead (one writer: slow)")
    parser.add_argument("--grow-clients", type=int, default=4,
                        help="concurrent clients growing an audit log")
    parser.add_argument("--iterations", type=int, default=60, help="timed rounds")
    parser.add_argument("--reseed", type=int, nargs="*", metavar="PERSONS",
                        help="seed (timed) these sizes, or every size when none is given, even "
                        "where the register holds the persons already (audit logs are kept)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile in process on the first --sqlite size instead")
    args = parser.parse_args()
    if args.profile:
        profile((args.sqlite or [1_000_000])[0])
        return
    targets = [Target("postgres", n) for n in args.postgres]
    targets += [Target("sqlite", n) for n in args.sqlite]
    if not targets:
        parser.error("no register: give --postgres and/or --sqlite sizes")
    rows = {"postgres": args.audit_rows, "sqlite": args.sqlite_audit_rows or args.audit_rows}
    asyncio.run(run(targets, args.iterations, rows, args.grow_clients, args.reseed))
    asyncio.run(audit_after(targets))
    # the one lookup's Python memory, traced on the largest PostgreSQL register (else the last)
    traced = max((t for t in targets if t.backend == "postgres"), key=lambda t: t.persons,
                 default=targets[-1])
    postgres = next((t for t in targets if t.backend == "postgres"), None)
    settings = asyncio.run(postgres_settings(postgres.url)) if postgres else None
    print(tables(targets, args.audit_rows, (traced, asyncio.run(traced_peak(traced))), settings))


if __name__ == "__main__":
    main()
