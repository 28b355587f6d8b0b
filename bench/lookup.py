"""Benchmark: a 1000-person lookup of every field over HTTP, against the floor.

For each register size: seed it (timed), start `krr serve`, and time POST /graphql with 1000
random ids selecting every Person field (token check included). The floor is the same 1000
rows fetched with one SQL statement through the raw driver and encoded with orjson, measured
in the same run. Prints a Markdown table for the README.

    .venv/bin/python bench/lookup.py --sizes 100000 1000000 --backend sqlite postgres
    .venv/bin/python bench/lookup.py --profile      # where the time goes (cProfile, in process)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable
RESULTS = ROOT / "bench" / "results"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_BENCH = "postgres://postgres@127.0.0.1:5432/krr_bench"
SCOPES = "krr:global/kontaktinformasjon.read krr:global/digitalpost.read"
QUERY = """query($ids: [String!]!) { personer(personidentifikatorer: $ids) {
  personidentifikator status reservasjon reservasjonstidspunkt reservasjonOppdatert
  varslingsstatus spraak spraakOppdatert sertifikat
  digitalPost { postkasseadresse postkasseleverandoeradresse }
  kontaktinformasjon {
    epostadresse epostadresseOppdatert epostadresseSistVerifisert epostadresseSistValidert
    epostadresseDuplisert mobiltelefonnummer mobiltelefonnummerOppdatert
    mobiltelefonnummerSistVerifisert mobiltelefonnummerSistValidert mobiltelefonnummerDuplisert
  } } }"""
FLOOR_SQL = """SELECT p.*, l.sertifikat FROM person p
LEFT JOIN postkasseleverandoer l ON l.orgnr = p.postkasseleverandoeradresse
WHERE p.personidentifikator {where}"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def env_for(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return env | {
        "KRR_ENV": "test",
        "KRR_DATABASE_URL": database_url,
        "KRR_VAR_DIR": str(var_dir),
        "PYTHONPATH": str(ROOT),
    }


def krr(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def ensure_postgres_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'krr_bench'")
        if not exists:
            await conn.execute("CREATE DATABASE krr_bench")
    finally:
        await conn.close()


async def sample_ids(database_url: str, count: int, rng: random.Random) -> list[str]:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            ids = [r[0] for r in conn.execute("SELECT personidentifikator FROM person")]
    else:
        import asyncpg

        conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
        try:
            ids = [r[0] for r in await conn.fetch("SELECT personidentifikator FROM person")]
        finally:
            await conn.close()
    return rng.sample(ids, count)


async def floor_samples(database_url: str, batches: list[list[str]]) -> list[float]:
    """One statement per batch through the raw driver, rows encoded with orjson."""
    samples = []
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
        conn.row_factory = sqlite3.Row
        try:
            for ids in batches:
                start = time.perf_counter()
                sql = FLOOR_SQL.format(where=f"IN ({','.join('?' * len(ids))})")
                rows = [dict(r) for r in conn.execute(sql, ids)]
                orjson.dumps({"personer": rows})
                samples.append(time.perf_counter() - start)
        finally:
            conn.close()
        return samples
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
    try:
        for ids in batches:
            start = time.perf_counter()
            rows = await conn.fetch(FLOOR_SQL.format(where="= ANY($1::varchar[])"), ids)
            orjson.dumps({"personer": [dict(r) for r in rows]})
            samples.append(time.perf_counter() - start)
    finally:
        await conn.close()
    return samples


async def http_samples(url: str, token: str, batches: list[list[str]]) -> list[float]:
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60) as client:
        for ids in batches:
            start = time.perf_counter()
            response = await client.post(url, json={"query": QUERY, "variables": {"ids": ids}},
                                         headers=headers)
            samples.append(time.perf_counter() - start)
            body = response.json()
            if response.status_code != 200 or "errors" in body:
                raise SystemExit(f"lookup failed: {response.status_code} {response.text[:500]}")
    return samples


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("krr serve did not come up") from None
            time.sleep(0.2)


async def run_one(backend: str, persons: int, iterations: int, reseed: bool) -> dict[str, Any]:
    var_dir = RESULTS / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        database_url = f"sqlite://{RESULTS / f'bench-{persons}.sqlite3'}"
        fresh = reseed or not (RESULTS / f"bench-{persons}.sqlite3").exists()
    else:
        await ensure_postgres_database()
        database_url = POSTGRES_BENCH
        fresh = True  # one database for every size
    env = env_for(database_url, var_dir)
    seed_seconds = None
    if fresh:
        start = time.perf_counter()
        krr(env, "seed", "--persons", str(persons), "--seed", "1")
        seed_seconds = time.perf_counter() - start

    rng = random.Random(persons)
    batches = [await sample_ids(database_url, 1000, rng) for _ in range(iterations + 5)]
    token = krr(env, "token", "--scope", SCOPES, "--consumer", "974760673", "--ttl", "7200")
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 - the benchmark runs one thing at a time
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        wait_until_up(url, server)
        await http_samples(url, token.strip(), batches[:5])  # warm-up
        lookups = await http_samples(url, token.strip(), batches[5:])
    finally:
        server.terminate()
        server.wait(timeout=30)
    floors = await floor_samples(database_url, batches[5:])
    p50, floor = statistics.median(lookups), statistics.median(floors)
    return {
        "backend": backend, "persons": persons, "seed_s": seed_seconds,
        "p50_ms": p50 * 1000, "p95_ms": percentile(lookups, 0.95) * 1000,
        "floor_ms": floor * 1000, "ratio": p50 / floor,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "| backend | persons | 1000-person lookup p50 | p95 | floor p50 | p50 / floor "
        "| `krr seed` time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        seed = f"{r['seed_s']:.0f} s" if r["seed_s"] is not None else "-"
        lines.append(
            f"| {r['backend']} | {r['persons']:,} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms "
            f"| {r['floor_ms']:.1f} ms | {r['ratio']:.1f} | {seed} |"
        )
    return "\n".join(lines)


def profile(persons: int) -> None:
    """cProfile of in-process lookups (no HTTP server), top functions by cumulative time."""
    import cProfile
    import pstats

    from app.config import load_settings
    from app.http import create_app

    database_url = f"sqlite://{RESULTS / f'bench-{persons}.sqlite3'}"
    env = env_for(database_url, RESULTS / "var")
    if not (RESULTS / f"bench-{persons}.sqlite3").exists():
        krr(env, "seed", "--persons", str(persons))
    os.environ.update(env)
    settings = load_settings()
    token = krr(env, "token", "--scope", SCOPES, "--consumer", "974760673", "--ttl", "3600")

    async def run() -> None:
        app = create_app(settings)
        batches = [await sample_ids(database_url, 1000, random.Random(i)) for i in range(25)]
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                headers = {"Authorization": f"Bearer {token.strip()}"}
                payloads = [{"query": QUERY, "variables": {"ids": ids}} for ids in batches]
                await c.post("/graphql", json=payloads[0], headers=headers)
                profiler = cProfile.Profile()
                profiler.enable()
                for payload in payloads[1:]:
                    await c.post("/graphql", json=payload, headers=headers)
                profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--reseed", action="store_true", help="seed SQLite files even if present")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        profile(args.sizes[0])
        return
    rows = []
    for backend in args.backend:
        for persons in args.sizes:
            row = asyncio.run(run_one(backend, persons, args.iterations, args.reseed))
            print(row, file=sys.stderr)
            rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
