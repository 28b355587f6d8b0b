"""Benchmark: a 1000-person lookup of every field over HTTP, against the floor.

For each backend: seed a register per size where missing (timed; a kept register has its audit
log emptied, so every size starts alike), start one `krr serve` per size, and time POST /graphql
with 1000 random ids selecting every Person field (token check, § 32, audit included). The floor
is the same 1000 rows fetched with one SQL statement through the raw driver and encoded with
orjson. Samples are interleaved (size by size, lookup then floor, round after round), so a busy
moment on the machine hits every column alike; the ratios are medians of the per-round ratios.
Prints a Markdown table for the README.

    .venv/bin/python bench/lookup.py --sizes 100000 1000000 --backend sqlite postgres
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
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from app.config import load_settings
from app.edge.app import create_app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable
RESULTS = ROOT / "bench" / "results"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url(persons: int) -> str:
    """One benchmark database per register size, kept between runs (seeded when empty)."""
    return f"postgres://postgres@127.0.0.1:5432/krr_bench_{persons}"


POSTGRES_BENCH = postgres_url(1_000_000)  # the register bench/load.py runs against
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


async def ensure_postgres_database(database_url: str = POSTGRES_BENCH) -> None:
    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def person_count(database_url: str) -> int:
    """Persons in a benchmark register (0 when it has no tables yet)."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite://"))
        if not path.exists():  # noqa: ASYNC240 - the benchmark runs one thing at a time
            return 0
        with sqlite3.connect(path) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM person").fetchone()[0])
            except sqlite3.OperationalError:
                return 0

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
    try:
        return int(await conn.fetchval(
            "SELECT CASE WHEN to_regclass('person') IS NULL THEN 0"
            " ELSE (SELECT count(*) FROM person) END"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def sample_ids(database_url: str, count: int, rng: random.Random) -> list[str]:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            ids = [r[0] for r in conn.execute("SELECT personidentifikator FROM person")]
    else:

        conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
        try:
            ids = [r[0] for r in await conn.fetch("SELECT personidentifikator FROM person")]
        finally:
            await conn.close()
    return rng.sample(ids, count)


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

            self.pg = await asyncpg.connect(
                self.database_url.replace("postgres://", "postgresql://"))

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    async def sample(self, ids: list[str]) -> float:
        start = time.perf_counter()
        if self.sqlite is not None:
            sql = FLOOR_SQL.format(where=f"IN ({','.join('?' * len(ids))})")
            rows = [dict(r) for r in self.sqlite.execute(sql, ids)]
        else:
            rows = [dict(r) for r in await self.pg.fetch(
                FLOOR_SQL.format(where="= ANY($1::varchar[])"), ids)]
        orjson.dumps({"personer": rows})
        return time.perf_counter() - start


async def lookup_sample(client: httpx.AsyncClient, url: str, token: str, ids: list[str]) -> float:
    start = time.perf_counter()
    response = await client.post(url, json={"query": QUERY, "variables": {"ids": ids}},
                                 headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - start
    body = response.json()
    if response.status_code != 200 or "errors" in body or len(body["data"]["personer"]) != 1000:
        raise SystemExit(f"lookup failed: {response.status_code} {response.text[:500]}")
    return elapsed


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


async def empty_audit_log(database_url: str) -> None:
    """Every size starts from an empty audit log: each lookup appends 1000 rows to it (load runs
    append millions), and a larger log makes the audit write dearer whatever the register's
    size, which is what the sizes are compared on."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            conn.execute("DELETE FROM oppslag_person")
            conn.execute("DELETE FROM oppslag")
        return

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
    try:
        await conn.execute("TRUNCATE oppslag_person, oppslag")
    finally:
        await conn.close()


async def prepare(backend: str, persons: int, reseed: bool) -> tuple[str, float | None]:
    """The register's URL, seeded (and timed) when missing or when asked to."""
    if backend == "sqlite":
        database_url = f"sqlite://{RESULTS / f'bench-{persons}.sqlite3'}"
    else:
        database_url = postgres_url(persons)
        await ensure_postgres_database(database_url)
    if not reseed and await person_count(database_url) >= persons:
        await empty_audit_log(database_url)
        return database_url, None
    if backend == "sqlite":
        Path(database_url.removeprefix("sqlite://")).unlink(missing_ok=True)  # noqa: ASYNC240
    start = time.perf_counter()
    krr(env_for(database_url, RESULTS / "var"), "seed", "--persons", str(persons), "--seed", "1")
    return database_url, time.perf_counter() - start


async def run_backend(
    backend: str, sizes: list[int], iterations: int, reseed: bool
) -> list[dict[str, Any]]:
    """Every size of one backend, served side by side and sampled in turn."""
    var_dir = RESULTS / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    prepared = [await prepare(backend, persons, reseed) for persons in sizes]
    servers, urls, floors, batches = [], [], [], []
    token = ""
    try:
        for persons, (database_url, _) in zip(sizes, prepared, strict=True):
            env = env_for(database_url, var_dir)
            rng = random.Random(persons)
            ids = await sample_ids(database_url, 1000 * (iterations + 5), rng)
            batches.append([ids[i:i + 1000] for i in range(0, len(ids), 1000)])
            token = krr(env, "token", "--scope", SCOPES, "--consumer", "974760673",
                        "--ttl", "7200").strip()
            port = free_port()
            servers.append(subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            urls.append(f"http://127.0.0.1:{port}/graphql")
            floor = Floor(database_url)
            await floor.open()
            floors.append(floor)
        for url, server in zip(urls, servers, strict=True):
            wait_until_up(url, server)
        lookups: list[list[float]] = [[] for _ in sizes]
        floor_times: list[list[float]] = [[] for _ in sizes]
        async with httpx.AsyncClient(timeout=60) as client:
            for round_ in range(iterations + 5):
                for i in range(len(sizes)):
                    ids = batches[i][round_]
                    elapsed = await lookup_sample(client, urls[i], token, ids)
                    floor_time = await floors[i].sample(ids)
                    if round_ >= 5:  # the first five warm up caches and connections
                        lookups[i].append(elapsed)
                        floor_times[i].append(floor_time)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        for floor in floors:
            await floor.close()
    # Ratios are taken round by round (a lookup and its floor ms apart; the sizes in one round)
    # and their median reported: a slow moment of the machine then cancels out of the ratio.
    rows = []
    for i, persons in enumerate(sizes):
        rows.append({
            "backend": backend, "persons": persons, "seed_s": prepared[i][1],
            "p50_ms": statistics.median(lookups[i]) * 1000,
            "p95_ms": percentile(lookups[i], 0.95) * 1000,
            "floor_ms": statistics.median(floor_times[i]) * 1000,
            "ratio": statistics.median(
                [t / f for t, f in zip(lookups[i], floor_times[i], strict=True)]),
            "vs_smallest": statistics.median(
                [t / t0 for t, t0 in zip(lookups[i], lookups[0], strict=True)]),
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "| backend | persons | 1000-person lookup p50 | p95 | floor p50 | lookup / floor "
        "| lookup / lookup at the smallest size | `krr seed` time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        seed = f"{r['seed_s']:.0f} s" if r["seed_s"] is not None else "- (kept)"
        lines.append(
            f"| {r['backend']} | {r['persons']:,} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms "
            f"| {r['floor_ms']:.1f} ms | {r['ratio']:.2f} | {r['vs_smallest']:.2f} | {seed} |"
        )
    return "\n".join(lines)


def profile(persons: int) -> None:
    """cProfile of in-process lookups (no HTTP server), top functions by cumulative time."""


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
    parser.add_argument("--iterations", type=int, default=60, help="timed rounds")
    parser.add_argument("--reseed", action="store_true",
                        help="seed the registers even when they hold the persons already")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        profile(args.sizes[0])
        return
    rows = []
    for backend in args.backend:
        for row in asyncio.run(run_backend(backend, args.sizes, args.iterations, args.reseed)):
            print(row, file=sys.stderr)
            rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
