"""Benchmark: the audit log at size (issue 16, target 4): a resident's "who looked me up", the
usage report, and retention while lookups go on.

1. A register of --persons (PostgreSQL krr_bench_audit_<persons>, its own: the bench writes
   old records and prunes them, which bench/lookup.py's registers must not see), seeded when
   smaller, and an audit log of at least --audit-rows person rows. What is missing is written in
   bulk through app.revisjon.store.skriv_oppslag: 1000-person requests of random persons, their
   timestamps spread evenly over the last --months months, oldest first; three in four the
   public body's own lookups, one in four a vendor's on its behalf. --fresh starts it over.
2. `meg { oppslag(first: 20) }` over HTTP (`krr serve`, one worker) with resident tokens from
   the dev issuer, for --residents random residents of the register (each was looked up
   about audit rows / persons times): p50/p95, target p50 < 20 ms. The first pages of a few are
   checked against the audit log (length, newest first).
3. The usage report, `bruk` over the last 366 days for the public body: p50 and max of
   --report-runs, its total checked against the summed `oppslag.antall`.
4. `krr prune-audit` with KRR_AUDIT_RETENTION_DAYS=--retention-days (the default prunes the
   oldest month of 13) timed, while one client does 1000-person lookups back to back through
   the server: their latency before, during and after the prune ("without locking lookups").
   The prune runs once per filled log: run again with --fresh (or after a refill) to prune again.

Prints Markdown tables for the README; progress goes to standard error.

    .venv/bin/python bench/audit.py                         # 1,000,000 persons, 10M audit rows
    .venv/bin/python bench/audit.py --persons 20000 --audit-rows 100000 --fresh    # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make bench importable

from app import db  # noqa: E402 - after the path is set
from app.config import load_settings  # noqa: E402
from app.revisjon import fordeling  # noqa: E402
from app.revisjon.store import skriv_oppslag  # noqa: E402
from authz.principal import Principal  # noqa: E402
from bench.common import (  # noqa: E402
    CONSUMER,
    LIFTED_LIMITS,
    POSTGRES_ADMIN,
    SCOPES,
    LookupFailed,
    audit_person_rows,
    env_for,
    ms,
    percentile,
    postgres_url,
    prepare_register,
    progress_bar,
    sample_ids,
    serve,
    timed_lookup,
    token,
)
from bench.floor_app import asyncpg_dsn  # noqa: E402

PAGE_TARGET_S = 0.020  # target 4: p50 of a resident's first page under 20 ms
SUPPLIER = "889640782"  # the vendor looking persons up on the public body's behalf
RESIDENT_SCOPES = "krr:user/kontaktinformasjon.read"
MEG = """{ meg { oppslag(first: 20) { edges { node { tidspunkt organisasjon { orgnr navn }
  paaVegneAv { orgnr navn } kategorier } cursor } pageInfo { hasNextPage endCursor } } } }"""
BRUK = """query($fra: Date!, $til: Date!) { bruk(fra: $fra, til: $til) {
  dager { dag egenBruk { oppslag personer } paaVegneAv { leverandoer oppslag personer } }
  totalt { oppslag personer } } }"""
KATEGORIER = 7  # grunndata, kontakt and digital post: every field was disclosed
FILL_TASKS = 4  # concurrent writers filling the log (the pool has five connections)


def audit_url(persons: int) -> str:
    return postgres_url(persons, "krr_bench_audit")


async def start_over(database_url: str) -> None:
    """--fresh: drop the bench's own audit database (never one of bench/lookup.py's)."""
    name = database_url.rsplit("/", 1)[1]
    assert name.startswith("krr_bench_audit_")
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def fill(database_url: str, target: int, months: int, pool: list[str], seed: int) -> int:
    """Write what the log lacks of `target` person rows through skriv_oppslag, as 1000-person
    requests spread evenly over the last `months` months, oldest first, filed as a served
    app's filer would (app.revisjon.fordeling, one filer beside the writers). Returns the whole
    seconds it took (0 when nothing was missing)."""
    have = await audit_person_rows(database_url)
    requests = math.ceil((target - have) / 1000)
    if requests <= 0:
        return 0
    print(f"audit log: {have:,} person rows, filling to {target:,}", file=sys.stderr)
    now = dt.datetime.now(dt.UTC)
    oldest = now - dt.timedelta(days=months * 365.25 / 12)
    step = (now - dt.timedelta(minutes=5) - oldest) / requests
    principals = [Principal(consumer=CONSUMER, scopes=frozenset(SCOPES.split()), issuer="bench")]
    principals.append(Principal(consumer=CONSUMER, supplier=SUPPLIER,
                                scopes=frozenset(SCOPES.split()), issuer="bench"))
    settings = load_settings(env_for(database_url))
    await db.migrate(settings)
    next_request = 0
    start = time.perf_counter()
    async with db.lifespan_db(settings):
        with progress_bar() as progress:
            task = progress.add_task("audit log", total=requests * 1000, rate="")

            async def writer(number: int) -> None:
                nonlocal next_request
                rng = random.Random(seed * 1000 + number)
                while next_request < requests:
                    i = next_request
                    next_request += 1
                    await skriv_oppslag(
                        tidspunkt=oldest + step * i, request_id=f"bench-audit-{i}",
                        principal=principals[1 if i % 4 == 3 else 0], scopes=SCOPES.split(),
                        varslingsstatus=False,
                        personer=[(pid, KATEGORIER) for pid in rng.sample(pool, 1000)],
                    )
                    rate = next_request * 1000 / (time.perf_counter() - start)
                    progress.update(task, advance=1000, rate=f"{rate:,.0f} rows/s")

            async with fordeling.fordeler():
                await asyncio.gather(*(writer(n) for n in range(FILL_TASKS)))
            await fordeling.fordel_alt(tidsfrist=600)
    return int(time.perf_counter() - start)


@dataclass
class Pages:
    """Residents' first pages: seconds each, and how many came back full (20 edges)."""

    seconds: list[float] = field(default_factory=list)
    full: int = 0
    empty: int = 0
    checked: int = 0


async def graphql(http: httpx.AsyncClient, url: str, bearer: str, query: str,
                  variables: dict[str, Any] | None = None) -> tuple[float, dict[str, Any]]:
    """Seconds and `data` of one POST /graphql; raises LookupFailed on any error."""
    start = time.perf_counter()
    response = await http.post(url, json={"query": query, "variables": variables or {}},
                               headers={"Authorization": f"Bearer {bearer}"})
    elapsed = time.perf_counter() - start
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise LookupFailed(f"{response.status_code} {response.text[:300]}")
    return elapsed, body["data"]


async def first_pages(http: httpx.AsyncClient, url: str, database_url: str,
                      residents: list[str], check: int) -> Pages:
    """Each resident's first page of who looked them up (after five untimed), the first
    `check` compared with the audit log: as many edges as records up to 20, newest first."""
    pages = Pages()
    tokens = [token(RESIDENT_SCOPES, consumer=None, pid=pid) for pid in residents]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for n, (pid, bearer) in enumerate(zip(residents, tokens, strict=True)):
            elapsed, data = await graphql(http, url, bearer, MEG)
            edges = data["meg"]["oppslag"]["edges"]
            if n >= 5:
                pages.seconds.append(elapsed)
            pages.full += len(edges) == 20
            pages.empty += not edges
            if n < check:
                records = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM oppslag_person WHERE personidentifikator = $1)"
                    " + (SELECT count(*) FROM oppslag_ufordelt"
                    " WHERE personer @> ARRAY[$1::varchar])",
                    pid)
                times = [e["node"]["tidspunkt"] for e in edges]
                if len(edges) != min(20, records) or times != sorted(times, reverse=True):
                    raise SystemExit(f"resident {n}: {len(edges)} edges for {records} records, "
                                     "or not newest first")
                pages.checked += 1
    finally:
        await conn.close()
    return pages


async def usage_reports(http: httpx.AsyncClient, url: str, database_url: str,
                        runs: int) -> tuple[list[float], int]:
    """The public body's usage report over the last 366 days, `runs` times: seconds each, and
    its total persons (checked against the audit log's sum)."""
    til = dt.datetime.now(dt.UTC).date()
    fra = til - dt.timedelta(days=365)
    bearer = token("krr:admin/bruk.read")
    seconds, persons = [], 0
    for _ in range(runs):
        elapsed, data = await graphql(http, url, bearer, BRUK,
                                      {"fra": fra.isoformat(), "til": til.isoformat()})
        seconds.append(elapsed)
        persons = int(data["bruk"]["totalt"]["personer"])
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        expected = int(await conn.fetchval(
            "SELECT coalesce(sum(antall), 0) FROM oppslag WHERE consumer = $1"
            " AND dag BETWEEN $2 AND $3", CONSUMER, fra, til))
    finally:
        await conn.close()
    if persons != expected:
        raise SystemExit(f"usage report: {persons:,} persons, the audit log sums {expected:,}")
    return seconds, persons


@dataclass
class Prune:
    seconds: float
    output: str
    # (seconds since the loop started, latency) of every lookup, and the prune's window
    lookups: list[tuple[float, float]]
    window: tuple[float, float]

    def during(self, phase: str) -> list[float]:
        """Latencies of the lookups that ended before the prune began, overlapped it, or began
        after it ended."""
        start, end = self.window
        if phase == "before":
            return [s for t, s in self.lookups if t + s <= start]
        if phase == "after":
            return [s for t, s in self.lookups if t >= end]
        return [s for t, s in self.lookups if t < end and t + s > start]


async def prune_under_load(http: httpx.AsyncClient, url: str, database_url: str, pool: list[str],
                           retention_days: int, settle: float) -> Prune:
    """`krr prune-audit` while one client does 1000-person lookups back to back: `settle`
    seconds of lookups before and after it."""
    bearer = token()
    rng = random.Random(7)
    lookups: list[tuple[float, float]] = []
    started = time.monotonic()
    done = asyncio.Event()

    async def loop() -> None:
        while not done.is_set():
            at = time.monotonic() - started
            lookups.append((at, await timed_lookup(http, url, bearer, rng.sample(pool, 1000))))

    looping = asyncio.create_task(loop())
    await asyncio.sleep(settle)
    env = env_for(database_url, KRR_AUDIT_RETENTION_DAYS=str(retention_days))
    prune_start = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "prune-audit", env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    prune_end = time.monotonic()
    if process.returncode != 0:
        raise SystemExit(f"krr prune-audit failed: {output.decode()[-500:]}")
    await asyncio.sleep(settle)
    done.set()
    await looping
    return Prune(prune_end - prune_start, output.decode().strip().splitlines()[-1], lookups,
                 (prune_start - started, prune_end - started))


def summary(samples: list[float]) -> str:
    if not samples:
        return "- | - | -"
    return f"{len(samples)} | {ms(statistics.median(samples))} | {ms(max(samples))}"


async def run(args: argparse.Namespace) -> str:
    database_url = audit_url(args.persons)
    if args.fresh:
        await start_over(database_url)
    await prepare_register(database_url, args.persons)
    rng = random.Random(args.seed)
    pool = await sample_ids(database_url, min(args.persons, 1_000_000), rng)
    fill_s = await fill(database_url, args.audit_rows, args.months, pool, args.seed)
    rows_before = await audit_person_rows(database_url)
    env = env_for(database_url, **LIFTED_LIMITS)
    with serve(env) as server:
        async with httpx.AsyncClient(timeout=120) as http:
            pages = await first_pages(http, server.url, database_url,
                                      rng.sample(pool, args.residents + 5), args.check)
            reports, report_persons = await usage_reports(http, server.url, database_url,
                                                          args.report_runs)
            prune = await prune_under_load(http, server.url, database_url, pool,
                                           args.retention_days, args.settle)
    rows_after = await audit_person_rows(database_url)
    pruned = re.search(r"pruned (\d+) requests and (\d+) person rows", prune.output)
    page_p50 = statistics.median(pages.seconds)
    filled = f"filled in {fill_s} s" if fill_s else "kept"
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL register of {args.persons:,} persons; "
        f"audit log of {rows_before:,} person rows over {args.months} months ({filled}, "
        "through skriv_oppslag, 1000-person requests)",
        "",
        "| what | runs | p50 | p95 | max | |",
        "|---|---:|---:|---:|---:|---|",
        f"| a resident's first page, `meg {{ oppslag(first: 20) }}` | {len(pages.seconds)} "
        f"| {ms(page_p50)} | {ms(percentile(pages.seconds, 0.95))} "
        f"| {ms(max(pages.seconds))} | {pages.full} of {args.residents + 5} full, "
        f"{pages.empty} empty; {pages.checked} checked against the log |",
        f"| usage report, `bruk` over 366 days | {len(reports)} | {ms(statistics.median(reports))} "
        f"| {ms(percentile(reports, 0.95))} | {ms(max(reports))} "
        f"| {report_persons:,} persons (= the log's sum) |",
        "",
        f"`krr prune-audit` (KRR_AUDIT_RETENTION_DAYS={args.retention_days}): "
        f"{prune.seconds:.1f} s wall, command start-up included; {prune.output}",
        f"({pruned.group(2) if pruned else '?'} of {rows_before:,} person rows; the log held "
        f"{rows_after:,} after, the lookups meanwhile included)",
        "",
        "| 1000-person lookups (one client, back to back) | lookups | p50 | max |",
        "|---|---:|---:|---:|",
        f"| before the prune | {summary(prune.during('before'))} |",
        f"| during the prune | {summary(prune.during('during'))} |",
        f"| after the prune | {summary(prune.during('after'))} |",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| 4. p50 of a resident's first page with {rows_before:,} audit rows < "
        f"{PAGE_TARGET_S * 1000:.0f} ms | {ms(page_p50)} "
        f"| {'met' if page_p50 < PAGE_TARGET_S else 'not met'} |",
        f"| 4. `krr prune-audit` at that size in bounded time, lookups not locked "
        f"| {prune.seconds:.1f} s; lookups' max during it "
        f"{ms(max(prune.during('during'), default=0))} "
        f"(before: {ms(max(prune.during('before'), default=0))}) | reported |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000, help="register size")
    parser.add_argument("--audit-rows", type=int, default=10_000_000,
                        help="fill the audit log to at least this many person rows")
    parser.add_argument("--months", type=int, default=13, help="the fill's span of timestamps")
    parser.add_argument("--retention-days", type=int, default=365,
                        help="KRR_AUDIT_RETENTION_DAYS for the prune")
    parser.add_argument("--residents", type=int, default=200, help="residents' first pages")
    parser.add_argument("--check", type=int, default=20,
                        help="first pages checked against the audit log")
    parser.add_argument("--report-runs", type=int, default=20, help="usage reports timed")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds of lookups before and after the prune")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the bench's audit database first (refilled, reseeded)")
    args = parser.parse_args()
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
