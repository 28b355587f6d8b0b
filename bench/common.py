"""What the benchmarks share: their registers, servers, tokens and ids, the lookup they time,
the audit log's size and its growth by real lookups, and the servers' resident memory (read
from /proc, so Linux only).

Every register is a database of its own, kept between runs: PostgreSQL `krr_bench_<persons>`,
SQLite bench/results/bench-<persons>.sqlite3. A register is seeded when it holds fewer persons
than asked; its audit log is never emptied, only grown (`grow_audit_log`).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from authz.dev_issuer import DevIssuer
from bench.floor_app import asyncpg_dsn

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VAR_DIR = RESULTS / "var"  # the dev issuer's key and signing key the servers and tokens share
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"  # never aimed at anything but a local server the bench started itself
CONSUMER = "974760673"  # the public body the benchmarks look persons up for
SCOPES = "krr:global/kontaktinformasjon.read krr:global/digitalpost.read"
# Every Person field: the lookup the targets are stated for.
QUERY = """query($ids: [String!]!) { personer(personidentifikatorer: $ids) {
  personidentifikator status reservasjon reservasjonstidspunkt reservasjonOppdatert
  varslingsstatus spraak spraakOppdatert sertifikat
  digitalPost { postkasseadresse postkasseleverandoeradresse }
  kontaktinformasjon {
    epostadresse epostadresseOppdatert epostadresseSistVerifisert epostadresseSistValidert
    epostadresseDuplisert mobiltelefonnummer mobiltelefonnummerOppdatert
    mobiltelefonnummerSistVerifisert mobiltelefonnummerSistValidert mobiltelefonnummerDuplisert
  } } }"""
# Growing an audit log: a real lookup and audit write of 1000 persons, with a small answer, so
# that the server and the client spend their time on the lookup rather than on JSON.
GROW_QUERY = """query($ids: [String!]!) { personer(personidentifikatorer: $ids) {
  personidentifikator status } }"""
# The service's capacity is measured, not the per-consumer rate limits (by default 20,000
# persons/s per process, which one consumer at full speed would otherwise meet first).
LIFTED_LIMITS = {"KRR_RATE_PERSONS": "10000000/s,10000000", "KRR_RATE_REQUESTS": "10000/s,10000"}
MIB = 1024 * 1024


# --- registers -------------------------------------------------------------------------------


def postgres_url(persons: int, name: str = "krr_bench") -> str:
    """One benchmark database per register size, kept between runs (seeded when empty)."""
    return f"postgres://postgres@127.0.0.1:5432/{name}_{persons}"


def sqlite_url(persons: int) -> str:
    return f"sqlite://{RESULTS / f'bench-{persons}.sqlite3'}"


def register_url(backend: str, persons: int) -> str:
    return sqlite_url(persons) if backend == "sqlite" else postgres_url(persons)


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `krr` command or server on `database_url` (KRR_ENV=test: the dev
    issuer is trusted), without any KRR_ variable of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return env | {
        "KRR_ENV": "test",
        "KRR_DATABASE_URL": database_url,
        "KRR_VAR_DIR": str(VAR_DIR),
        "PYTHONPATH": str(ROOT),
    } | extra


def krr(env: dict[str, str], *args: str) -> str:
    """Run `krr ARGS` to the end; its standard output."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout


async def ensure_postgres_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def scalar(database_url: str, sql: str, *args: Any) -> Any:
    """One value from either backend: None when a table it reads does not exist yet."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite://"))
        if not path.exists():  # noqa: ASYNC240 - the benchmarks do one thing at a time
            return None
        with sqlite3.connect(path) as sqlite:
            try:
                return sqlite.execute(sql.replace("$1", "?"), args).fetchone()[0]
            except sqlite3.OperationalError:
                return None
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(sql, *args)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def person_count(database_url: str) -> int:
    """Persons in a register (0 when it has no tables yet)."""
    return int(await scalar(database_url, "SELECT count(*) FROM person") or 0)


async def audit_person_rows(database_url: str) -> int:
    """Person rows in the audit log, as the request rows count them (`oppslag.antall`): one
    small table's sum, whatever shape the person rows' table has."""
    return int(await scalar(database_url, "SELECT coalesce(sum(antall), 0) FROM oppslag") or 0)


async def warm_register(database_url: str) -> int:
    """Read the person table, its indexes and the mailbox providers into memory, as a register
    in service holds them, and return the bytes read. A lookup of 1000 ids never asked for
    before otherwise reads most of its rows from the operating system's cache while the floor,
    timed after it on the same ids, finds them in PostgreSQL's buffers: the 5,000,000 register
    paid that as a third of its lookup, the 100,000 one not at all. PostgreSQL: pg_prewarm
    (shipped with PostgreSQL) into shared buffers; SQLite has no cache of its own across
    connections, so its file is read through once into the operating system's."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite://"))
        with path.open("rb") as f:  # noqa: ASYNC230 - the benchmarks do one thing at a time
            read = 0
            while chunk := f.read(1 << 24):
                read += len(chunk)
        return read
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        blocks = await conn.fetchval(
            "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c"
            " WHERE c.oid IN ('person'::regclass, 'postkasseleverandoer'::regclass)"
            " OR c.oid IN (SELECT indexrelid FROM pg_index"
            " WHERE indrelid IN ('person'::regclass, 'postkasseleverandoer'::regclass))")
        return int(blocks or 0) * 8192
    finally:
        await conn.close()


POSTGRES_SETTINGS = ("shared_buffers", "huge_pages", "wal_compression", "max_wal_size",
                     "checkpoint_timeout", "synchronous_commit")


async def postgres_settings(database_url: str) -> str:
    """The server settings a benchmark's numbers depend on, for its report (docs/deployment.md
    says why each): `name = value, ...`."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT name, current_setting(name) AS value FROM pg_settings"
                                " WHERE name = ANY($1::text[]) ORDER BY name",
                                list(POSTGRES_SETTINGS))
    finally:
        await conn.close()
    return ", ".join(f"{r['name']} = {r['value']}" for r in rows)


async def prepare_register(database_url: str, persons: int, reseed: bool = False) -> float | None:
    """Seed the register when it holds fewer than `persons` (or when asked to); the seconds
    `krr seed` took, or None when the register was kept."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not database_url.startswith("sqlite"):
        await ensure_postgres_database(database_url)
    if not reseed and await person_count(database_url) >= persons:
        return None
    start = time.perf_counter()
    krr(env_for(database_url), "seed", "--persons", str(persons), "--seed", "1")
    return time.perf_counter() - start


async def sample_ids(database_url: str, count: int, rng: random.Random) -> list[str]:
    """`count` distinct random ids of the register. PostgreSQL samples in the database
    (TABLESAMPLE), so a register of millions is not carried over whole."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as sqlite:
            ids = [r[0] for r in sqlite.execute("SELECT personidentifikator FROM person")]
        return rng.sample(ids, count)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        total = int(await conn.fetchval("SELECT count(*) FROM person"))
        percent = min(100.0, 100.0 * count * 1.2 / max(total, 1) + 0.1)
        rows = await conn.fetch(
            f"SELECT personidentifikator FROM person TABLESAMPLE BERNOULLI ({percent:.4f})"
            " REPEATABLE ($1)", rng.randrange(2**31))
        if len(rows) < count:  # a sample short by chance: take them all
            rows = await conn.fetch("SELECT personidentifikator FROM person")
    finally:
        await conn.close()
    return rng.sample([r[0] for r in rows], count)


def batches_of(ids: list[str], size: int = 1000) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# --- tokens, servers, lookups ----------------------------------------------------------------


def token(scope: str = SCOPES, *, consumer: str | None = CONSUMER, pid: str | None = None,
          ttl: int = 4 * 3600) -> str:
    """A token from the dev issuer the servers trust (KRR_VAR_DIR is shared): an organisation's
    with `consumer`, a resident's with `pid` and consumer None."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return DevIssuer.load_or_create(VAR_DIR).mint(scope=scope, consumer=consumer, pid=pid, ttl=ttl)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server for {url} did not come up") from None
            time.sleep(0.2)


@dataclass
class Server:
    """A server the bench started on 127.0.0.1 (see `serve`)."""

    process: subprocess.Popen[bytes]
    url: str  # its POST /graphql

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serve(env: dict[str, str], workers: int = 1, *, floor: bool = False,
          log: IO[str] | None = None) -> Iterator[Server]:
    """`krr serve --workers W` (or, with `floor`, bench/floor_app.py under uvicorn with the same
    worker count), up and answering; stopped on leaving."""
    port = free_port()
    if floor:
        command = ["-m", "uvicorn", "bench.floor_app:app", "--no-access-log",
                   "--log-level", "warning"]
    else:
        command = ["-m", "app.cli", "serve"]
    process = subprocess.Popen(
        [sys.executable, *command, "--host", HOST, "--port", str(port),
         "--workers", str(workers)],
        env=env, cwd=ROOT, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL,
    )
    try:
        server = Server(process, f"http://{HOST}:{port}/graphql")
        wait_until_up(server.url, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=60)


class LookupFailed(Exception):
    """A lookup answered with an error, or without every person asked for."""


async def timed_lookup(http: httpx.AsyncClient, url: str, bearer: str, ids: list[str],
                       request_id: str | None = None, query: str = QUERY) -> float:
    """Seconds for one POST /graphql lookup of `ids` (every field, unless `query` says
    otherwise; the answer read and checked: 200, no errors, every person)."""
    headers = {"Authorization": f"Bearer {bearer}"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    start = time.perf_counter()
    response = await http.post(url, json={"query": query, "variables": {"ids": ids}},
                               headers=headers)
    elapsed = time.perf_counter() - start
    try:
        body = response.json()
        got = len((body.get("data") or {}).get("personer") or [])
    except ValueError:
        body, got = {}, 0
    if response.status_code != 200 or "errors" in body or got != len(ids):
        raise LookupFailed(f"{response.status_code} {response.text[:300]}")
    return elapsed


def progress_bar() -> Progress:
    """rich's progress bar, on standard error (standard output is for the tables)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True),
    )


GROW_ATTEMPTS = 5


async def grow_audit_log(database_url: str, persons: int, target: int, *, clients: int = 4,
                         seed: int = 1) -> int:
    """Grow the register's audit log by real lookups until it holds at least `target` person
    rows: 1000-person lookups of random ids through `krr serve` (two workers on PostgreSQL,
    one on SQLite, rate limits lifted), `clients` at a time. Only what is missing is added, so
    a kept register is not regrown. Returns the person rows it holds after."""
    have = await audit_person_rows(database_url)
    lookups = math.ceil((target - have) / 1000)
    if lookups <= 0:
        return have
    rng = random.Random(seed)
    pool = await sample_ids(database_url, min(persons, 1_000_000), rng)
    bearer = token()
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    workers = 1 if backend == "sqlite" else 2
    left, finished = lookups, 0
    print(f"{backend} {persons:,}: {have:,} audit person rows, growing to {target:,}",
          file=sys.stderr)
    with serve(env_for(database_url, **LIFTED_LIMITS), workers) as server, \
            progress_bar() as progress:
        task = progress.add_task(f"{backend} {persons:,}", total=lookups * 1000, rate="")
        started = time.monotonic()

        async def client(number: int) -> None:
            nonlocal left, finished
            mine = random.Random(seed * 1000 + number)
            async with httpx.AsyncClient(timeout=120) as http:
                while left > 0:
                    left -= 1
                    ids = mine.sample(pool, 1000)
                    for attempt in range(GROW_ATTEMPTS):
                        try:
                            await timed_lookup(http, server.url, bearer, ids, query=GROW_QUERY)
                            break
                        except LookupFailed as exc:
                            # 503 at the request deadline on a machine busy with other work:
                            # try again, as the answer says; nothing was recorded for it.
                            if not str(exc).startswith("503") or attempt == GROW_ATTEMPTS - 1:
                                raise
                            await asyncio.sleep(1 + attempt)
                    finished += 1
                    rate = finished * 1000 / max(time.monotonic() - started, 1e-9)
                    progress.update(task, advance=1000, rate=f"{rate:,.0f} rows/s")

        await asyncio.gather(*(client(n) for n in range(clients)))
        await drain_audit_queue(database_url)
    return await audit_person_rows(database_url)


DRAIN_TIMEOUT = 600.0  # seconds the filer gets to file what a run left queued


async def drain_audit_queue(database_url: str) -> None:
    """Wait while the served app's filer files the requests still queued (app.revisjon
    .fordeling), so what is measured next starts with every record in "who looked me up"."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while await scalar(database_url, "SELECT count(*) FROM oppslag_ufordelt"):
        if time.monotonic() > deadline:
            raise SystemExit("the audit log's queue was not filed in time")
        await asyncio.sleep(0.2)


# --- statistics ------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- resident memory (Linux /proc) -----------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (uvicorn's workers under `krr serve --workers`)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def command_line(pid: int) -> bytes:
    """/proc/<pid>/cmdline (arguments NUL-separated); empty for a process gone meanwhile."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def status_bytes(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status (VmRSS: resident now; VmHWM: its high-water mark),
    in bytes; 0 for a process gone meanwhile."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the process tree under `pid` has spent so far, its exited
    children's included; 0 for a process gone meanwhile."""
    ticks = 0
    for process in process_tree(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss(pid: int) -> tuple[int, int]:
    """(bytes resident, processes) summed over the server's process tree."""
    tree = process_tree(pid)
    return sum(status_bytes(p, "VmRSS") for p in tree), len(tree)


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh at the current RSS (Linux >= 4.0: `5` to /proc/<pid>/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, bytes) samples, in bytes per minute."""
    if len(samples) < 2:
        return 0.0
    times, values = zip(*samples, strict=True)
    return statistics.linear_regression(times, values).slope * 60
