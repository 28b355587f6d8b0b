"""Benchmark: the key figures (`statistikk`) at a million and at five million persons.

SQLite: a copy of bench/results/bench-1000000.sqlite3 when present (migrated; the original is
left as bench/lookup.py wrote it), else `krr seed --persons 1000000` into a temp file.
PostgreSQL: bench/lookup.py's registers krr_bench_<N> for --postgres N (default 1,000,000 and
5,000,000; migrated and analysed). Each is also computed once by scanning the persons
(store.statistikk_ved_skanning), which must give the same figures. Times the computation (every
request when the buffer is cold) and a POST /graphql answered from the one-minute buffer.
Prints a Markdown table for the README.

    .venv/bin/python bench/stats.py [--runs 5] [--backend sqlite postgres] [--postgres 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from app import db
from app.config import Settings
from app.edge.app import create_app
from app.statistikk.store import statistikk, statistikk_ved_skanning

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable
SQLITE_1M = ROOT / "bench" / "results" / "bench-1000000.sqlite3"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PERSONS = 1_000_000


def postgres_bench(persons: int) -> str:
    """bench/lookup.py's register of that size."""
    return f"postgres://postgres@127.0.0.1:5432/krr_bench_{persons}"


def sqlite_register(workdir: Path) -> str:
    """A migrated SQLite register of a million persons in `workdir`."""
    path = workdir / "stats-1000000.sqlite3"
    url = f"sqlite://{path}"
    if SQLITE_1M.exists():
        shutil.copyfile(SQLITE_1M, path)
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
        env |= {"KRR_ENV": "test", "KRR_DATABASE_URL": url, "KRR_VAR_DIR": str(workdir),
                "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "app.cli", "seed", "--persons", str(PERSONS)],
                       env=env, cwd=ROOT, check=True)
    return url


async def postgres_present(persons: int) -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        return bool(await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", f"krr_bench_{persons}"))
    finally:
        await conn.close()


async def measure(url: str, runs: int, workdir: Path) -> dict[str, object]:
    settings = Settings(env="test", database_url=url, var_dir=workdir)
    await db.migrate(settings)
    await db.connect(settings)
    try:
        if db.dialect() == "postgres":
            await db.connection().execute_script('ANALYZE "person"')
        now = dt.datetime.now(dt.UTC)
        await statistikk(now)  # warm the page cache: the runs measure the queries, not the disk
        computed = []
        for _ in range(runs):
            start = time.perf_counter()
            figures = await statistikk(now)
            computed.append(time.perf_counter() - start)
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
        # The running totals against the persons themselves: the same figures, and what
        # computing them by scanning costs (once; seconds at millions).
        start = time.perf_counter()
        scanned = await statistikk_ved_skanning(now)
        scan_s = time.perf_counter() - start
        if scanned != figures:
            raise SystemExit(f"{url}: the running totals differ from a scan of the persons")
        return {
            "scan": scan_s,
            "persons": figures.registrerte,
            "computed": statistics.median(computed),
            "buffered": statistics.median(buffered[1:]),  # the first one fills the buffer
        }
    finally:
        await db.disconnect()


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
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgres"],
                        choices=["sqlite", "postgres"])
    parser.add_argument("--postgres", type=int, nargs="+", default=[1_000_000, 5_000_000],
                        help="sizes of bench/lookup.py's PostgreSQL registers to measure")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="krr-stats-") as tmp:
        workdir = Path(tmp)
        registers = [("sqlite", 0)] if "sqlite" in args.backend else []
        registers += [("postgres", n) for n in args.postgres if "postgres" in args.backend]
        for backend, persons in registers:
            if backend == "sqlite":
                url = sqlite_register(workdir)
            elif asyncio.run(postgres_present(persons)):
                url = postgres_bench(persons)
            else:
                print(f"PostgreSQL database krr_bench_{persons} not found", file=sys.stderr)
                raise SystemExit(1)
            result = asyncio.run(measure(url, args.runs, workdir))
            rows.append((backend, result))
    print(f"Measured {dt.date.today().isoformat()} on {platform.machine()}, "
          f"{os.cpu_count()} cores ({cpu()}), "
          f"Python {platform.python_version()}; p50 of {args.runs} runs.\n")
    print("| Backend | Persons | statistikk computed (running totals) | the same by scanning "
          "the persons (reference, equal) | POST /graphql from the buffer |")
    print("|---|---:|---:|---:|---:|")
    for backend, r in rows:
        print(f"| {backend} | {r['persons']:,} | {r['computed'] * 1000:.0f} ms "
              f"| {r['scan'] * 1000:.0f} ms | {r['buffered'] * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
