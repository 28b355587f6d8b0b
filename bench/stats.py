"""Benchmark: the key figures (`statistikk`) at national scale.

Registers: bench/lookup.py's (bench.common.register_url), seeded with `krr seed --persons N
--seed 1` where they hold fewer persons (as lookup.py does; a national register takes minutes):
PostgreSQL `krr_bench_<N>` (migrated and analysed here), SQLite bench/results/bench-<N>.sqlite3
(a copy in a temp directory is migrated and measured; the file is left as lookup.py wrote it).

Times, p50 of --runs after one warm-up (the runs measure the queries, not the disk):
- `statistikk` from the running totals (app.statistikk.grunnlag): what a request computes when
  the one-minute buffer is cold;
- the same figures by scanning every person (`statistikk_ved_skanning`, three scans): what it
  cost before the totals, and the reference they are held to (skip with --no-scan);
- POST /graphql answered from the buffer.
Prints a Markdown table for the README.

    .venv/bin/python bench/stats.py [--runs 5] [--postgres 1000000 5000000] [--sqlite 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable

from app import db  # noqa: E402
from app.config import Settings  # noqa: E402
from app.edge.app import create_app  # noqa: E402
from app.statistikk.store import Statistikk, statistikk, statistikk_ved_skanning  # noqa: E402
from bench.common import postgres_url, prepare_register, sqlite_url  # noqa: E402


async def p50(compute: Callable[[], Awaitable[Statistikk]], runs: int) -> tuple[float, Statistikk]:
    figures = await compute()  # warm-up: the page cache, the plans
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        figures = await compute()
        times.append(time.perf_counter() - start)
    return statistics.median(times), figures


@dataclass(frozen=True)
class Result:
    persons: int
    totals: float  # seconds, p50
    scan: float | None
    buffered: float


async def measure(url: str, runs: int, scan: bool, workdir: Path) -> Result:
    settings = Settings(env="test", database_url=url, var_dir=workdir)
    await db.migrate(settings)
    await db.connect(settings)
    try:
        if db.dialect() == "postgres":
            await db.connection().execute_script('ANALYZE "person"')
        now = dt.datetime.now(dt.UTC)
        totals, figures = await p50(lambda: statistikk(now), runs)
        scanned = None
        if scan:
            scanned, reference = await p50(lambda: statistikk_ved_skanning(now), runs)
            if reference != figures:
                raise SystemExit(f"{url}: the running totals disagree with a scan of the persons")
        app = create_app(settings, manage_db=False)
        buffered = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://krr") as client:
            for _ in range(runs + 1):
                start = time.perf_counter()
                response = await client.post(
                    "/graphql", json={"query": "{ statistikk { aktive kanVarsles } }"})
                buffered.append(time.perf_counter() - start)
                response.raise_for_status()
        # The first request fills the buffer.
        return Result(figures.registrerte, totals, scanned, statistics.median(buffered[1:]))
    finally:
        await db.disconnect()


async def register(backend: str, persons: int, workdir: Path) -> str:
    """The register to measure (seeded where it holds fewer persons)."""
    url = sqlite_url(persons) if backend == "sqlite" else postgres_url(persons)
    await prepare_register(url, persons)
    if backend == "postgres":
        return url
    copy = workdir / f"stats-{persons}.sqlite3"
    shutil.copyfile(url.removeprefix("sqlite://"), copy)
    return f"sqlite://{copy}"


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", type=int, nargs="*", default=[1_000_000, 5_000_000],
                        metavar="PERSONS", help="register sizes on PostgreSQL")
    parser.add_argument("--sqlite", type=int, nargs="*", default=[1_000_000],
                        metavar="PERSONS", help="register sizes on SQLite")
    parser.add_argument("--no-scan", dest="scan", action="store_false",
                        help="skip timing the scan of every person (the reference)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="krr-stats-") as tmp:
        workdir = Path(tmp)
        for backend, sizes in (("sqlite", args.sqlite), ("postgres", args.postgres)):
            for persons in sizes:
                url = asyncio.run(register(backend, persons, workdir))
                rows.append((backend, asyncio.run(measure(url, args.runs, args.scan, workdir))))
                if backend == "sqlite":
                    Path(url.removeprefix("sqlite://")).unlink()
    print(f"Measured {dt.date.today().isoformat()} on {platform.machine()}, "
          f"{os.cpu_count()} cores ({cpu()}), "
          f"Python {platform.python_version()}; p50 of {args.runs} runs.\n")
    print("| Backend | Persons | statistikk (running totals) | the same by scanning every person "
          "| POST /graphql from the buffer |")
    print("|---|---:|---:|---:|---:|")
    for backend, r in rows:
        scan = f"{r.scan * 1000:.0f} ms" if r.scan is not None else "-"
        print(f"| {backend} | {r.persons:,} | {r.totals * 1000:.0f} ms | {scan} "
              f"| {r.buffered * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
