"""Two consumers in the field against `krr serve --workers 2` under the default limits (issue
24, item 4): does either get a single 429?

1. Altinn Correspondence: one client looking up one id per correspondence, 300 requests a
   second for 10 s (POST /rest/v2/personer with one id), each request given 2 s in all (a
   request not answered by then is abandoned); any answer but a 2xx, or none in time, fails
   the correspondence. The requests are sent on schedule whatever the answers (open loop), on
   as many connections as they need, as .NET's HttpClient does.
2. Valgdirektoratet's voter-roll check: 100 lookups of 1000 ids (POST /rest/v2/personer,
   `inkluderIkkeRegistrerte: false`), one after the other without pauses, no retry: the first
   answer that is not a 2xx stops the roll check.

The server: `krr serve --workers W` on a free 127.0.0.1 port, without Redis and without any
KRR_RATE_* setting (the defaults; `--set` gives one, e.g. the earlier defaults to compare), on
the PostgreSQL register krr_bench_consumers_<persons> (seeded when it holds fewer persons;
`--database-url` for another). Each consumer is an organisation of its own, one after the
other. Printed: for each consumer, what was sent, the answers by kind (2xx, 429, other: a status
or a timeout), the latency of the 2xx (p50, p95, p99, max) and how long the pattern took; the
process exits non-zero when any answer was not a 2xx.

3. With `--capacity S`, what the same server serves at most, its rate limits lifted: clients
   doing single-id lookups back to back for S seconds, then 1000-id lookups, each as many at
   once as `--capacity-clients` says: the lookups and persons a second the defaults are sized
   against (docs/deployment.md).

Each row also gives the CPU time the server's processes spent per request (/proc, the worker
processes' user and system time): on cores shared with the client, the database and whatever
else runs, it says what a worker can serve when it has a core to itself better than the
throughput does.

The client is aiohttp's: httpx spent more of the two cores than the server did at 300 requests
a second (its pool scans every waiting request on each change), so it timed itself out.

    .venv/bin/python bench/consumers.py                      # as in the README
    .venv/bin/python bench/consumers.py --set KRR_RATE_REQUESTS=50/s,200 \\
        --set KRR_RATE_WAIT=0                                 # the earlier defaults
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make bench importable

from bench.common import (  # noqa: E402 - after the path is set
    CONSUMER,
    LIFTED_LIMITS,
    RESULTS,
    batches_of,
    cpu_seconds,
    env_for,
    percentile,
    person_count,
    postgres_url,
    prepare_register,
    sample_ids,
    serve,
    token,
)

PERSONER = "/rest/v2/personer"
# Each consumer an organisation of its own: Digdir, which runs Altinn Correspondence, and the
# public body the other benchmarks look persons up for, standing in for Valgdirektoratet.
ALTINN = "991825827"
VALG = CONSUMER


@dataclass
class Tally:
    """What one consumer saw."""

    name: str
    pattern: str
    sent: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # "2xx", "429", "other"
    others: Counter[str] = field(default_factory=Counter)  # the other answers, by status
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx only
    seconds: float = 0.0
    stopped: str = ""  # why a consumer that stops at its first failure stopped
    cpu: float = 0.0  # seconds of CPU the server's processes spent meanwhile

    def answered(self, status: int, elapsed: float) -> None:
        if 200 <= status < 300:
            self.kinds["2xx"] += 1
            self.latencies.append(elapsed)
        elif status == 429:
            self.kinds["429"] += 1
        else:
            self.kinds["other"] += 1
            self.others[str(status)] += 1

    def failed(self, why: str) -> None:
        self.kinds["other"] += 1
        self.others[why] += 1

    @property
    def ok(self) -> bool:
        return self.kinds["2xx"] == self.sent


async def lookup(http: aiohttp.ClientSession, url: str, bearer: str, ids: list[str]) -> int:
    """One POST /rest/v2/personer; its status (the body read whole)."""
    async with http.post(url, json={"personidentifikatorer": ids,
                                    "inkluderIkkeRegistrerte": False},
                         headers={"Authorization": f"Bearer {bearer}"}) as response:
        await response.read()
        return response.status


def client() -> aiohttp.ClientSession:
    """A client with as many connections as the requests need and no timeout of its own (the
    consumers' own deadlines are kept around each request)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=None))


async def altinn(url: str, ids: list[str], rate: float, seconds: float,
                 allowed: float) -> Tally:
    """`rate` single-id lookups a second for `seconds`, on schedule, each within `allowed`
    seconds."""
    tally = Tally("Altinn Correspondence",
                  f"{rate:g} single-id lookups/s for {seconds:g} s, {allowed:g} s timeout")
    bearer = token(consumer=ALTINN)
    count = round(rate * seconds)

    async def one(pid: str) -> None:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(allowed):
                status = await lookup(http, url, bearer, [pid])
        except TimeoutError:
            tally.failed("timeout")
            return
        except aiohttp.ClientError as exc:
            tally.failed(type(exc).__name__)
            return
        tally.answered(status, time.perf_counter() - start)

    async with client() as http:
        await lookup(http, url, bearer, [ids[-1]])  # a connection and the token's key, warm
        started = time.perf_counter()
        tasks = []
        for n in range(count):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(ids[n % len(ids)])))
            tally.sent += 1
        await asyncio.gather(*tasks)
        tally.seconds = time.perf_counter() - started
    return tally


async def valgdirektoratet(url: str, batches: list[list[str]]) -> Tally:
    """The batches looked up one after the other, no pause, no retry: stops at a failure."""
    tally = Tally("Valgdirektoratet",
                  f"{len(batches)} sequential {len(batches[0])}-id lookups, no retry")
    bearer = token(consumer=VALG)
    async with client() as http:
        started = time.perf_counter()
        for ids in batches:
            tally.sent += 1
            start = time.perf_counter()
            try:
                status = await lookup(http, url, bearer, ids)
            except aiohttp.ClientError as exc:
                tally.failed(type(exc).__name__)
                tally.stopped = f"call {tally.sent}: {type(exc).__name__}"
                break
            tally.answered(status, time.perf_counter() - start)
            if not 200 <= status < 300:
                tally.stopped = f"call {tally.sent}: {status}"
                break
        tally.seconds = time.perf_counter() - started
    return tally


@dataclass
class Capacity:
    """What the server served at most: lookups back to back from `clients` at once."""

    ids: int  # in each lookup
    clients: int
    seconds: float
    latencies: list[float]
    cpu: float = 0.0  # seconds of CPU the server's processes spent meanwhile

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


async def capacity(url: str, pool: list[str], ids: int, clients: int,
                   seconds: float) -> Capacity:
    """`clients` doing lookups of `ids` ids back to back for `seconds` (every answer a 2xx)."""
    bearer = token()
    latencies: list[float] = []
    async with client() as http:
        await lookup(http, url, bearer, pool[:ids])
        started = time.perf_counter()
        until = started + seconds

        async def one(number: int) -> None:
            n = number
            while time.perf_counter() < until:
                asked = [pool[(n * ids + k) % len(pool)] for k in range(ids)]
                start = time.perf_counter()
                status = await lookup(http, url, bearer, asked)
                if not 200 <= status < 300:
                    raise SystemExit(f"capacity: a lookup answered {status}")
                latencies.append(time.perf_counter() - start)
                n += clients

        await asyncio.gather(*(one(c) for c in range(clients)))
        return Capacity(ids, clients, time.perf_counter() - started, latencies)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def row(t: Tally) -> str:
    lat = t.latencies
    spread = " | ".join(ms(percentile(lat, q)) if lat else "-" for q in (0.5, 0.95, 0.99, 1.0))
    other = ", ".join(f"{k}: {v}" for k, v in sorted(t.others.items())) or "0"
    stopped = f" (stopped at {t.stopped})" if t.stopped else ""
    return (f"| {t.name} | {t.pattern} | {t.sent:,}{stopped} | {t.kinds['2xx']:,} "
            f"| {t.kinds['429']:,} | {other} | {spread} | {t.seconds:.1f} s "
            f"| {ms(t.cpu / max(t.sent, 1))} |")


def table(tallies: list[Tally], persons: int, settings: list[str], workers: int) -> str:
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}; `krr serve --workers {workers}`, no Redis, "
        f"{'the defaults' if not settings else ', '.join(settings)}; a register of "
        f"{persons:,} persons; client, server and database on the same machine (load average "
        f"{os.getloadavg()[0]:.1f} at the end: the cores are shared)",
        "",
        "| consumer | pattern | requests | 2xx | 429 | other | p50 | p95 | p99 | max | took "
        "| server CPU per request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(row(t) for t in tallies)
    return "\n".join(lines)


def capacity_table(measured: list[Capacity]) -> str:
    lines = [
        "The same server's capacity, its rate limits lifted: lookups back to back",
        "",
        "| ids per lookup | clients at once | seconds | lookups/s | persons/s | p50 | p99 "
        "| server CPU per lookup |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {c.ids:,} | {c.clients} | {c.seconds:.0f} | {c.per_second:,.0f} "
        f"| {c.per_second * c.ids:,.0f} | {ms(percentile(c.latencies, 0.5))} "
        f"| {ms(percentile(c.latencies, 0.99))} | {ms(c.cpu / max(len(c.latencies), 1))} |"
        for c in measured)
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[list[Tally], list[Capacity], int]:
    database_url = args.database_url or postgres_url(args.persons, name="krr_bench_consumers")
    await prepare_register(database_url, args.persons)
    persons = await person_count(database_url)
    rng = random.Random(args.seed)
    wanted = max(args.valg_calls * args.valg_ids, round(args.altinn_rate * args.altinn_seconds))
    pool = await sample_ids(database_url, min(wanted, persons), rng)
    while len(pool) < wanted:  # a register smaller than the roll: ids asked again
        pool += pool[:wanted - len(pool)]
    batches = batches_of(pool[:args.valg_calls * args.valg_ids], args.valg_ids)
    settings = dict(s.split("=", 1) for s in args.set)
    env = env_for(database_url, **settings)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tallies = []
    with (RESULTS / "consumers-serve.log").open("w") as log, \
            serve(env, args.workers, log=log) as server:
        url = server.url.removesuffix("/graphql") + PERSONER
        print("Altinn Correspondence ...", file=sys.stderr)
        before = cpu_seconds(server.pid)
        tallies.append(await altinn(url, rng.sample(pool, len(pool)), args.altinn_rate,
                                    args.altinn_seconds, args.altinn_timeout))
        tallies[-1].cpu = cpu_seconds(server.pid) - before
        print("Valgdirektoratet ...", file=sys.stderr)
        before = cpu_seconds(server.pid)
        tallies.append(await valgdirektoratet(url, batches))
        tallies[-1].cpu = cpu_seconds(server.pid) - before
    measured = []
    if args.capacity:
        with (RESULTS / "consumers-capacity.log").open("w") as log, \
                serve(env_for(database_url, **LIFTED_LIMITS), args.workers, log=log) as server:
            url = server.url.removesuffix("/graphql") + PERSONER
            for ids, clients in ((1, args.capacity_clients), (args.valg_ids, 4)):
                print(f"capacity, {ids} ids ...", file=sys.stderr)
                before = cpu_seconds(server.pid)
                measured.append(await capacity(url, pool, ids, clients, args.capacity))
                measured[-1].cpu = cpu_seconds(server.pid) - before
    return tallies, measured, persons


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the server")
    parser.add_argument("--persons", type=int, default=100_000,
                        help="the register, krr_bench_consumers_<persons> (seeded when smaller)")
    parser.add_argument("--database-url", help="another register (seeded when smaller)")
    parser.add_argument("--altinn-rate", type=float, default=300.0, help="requests a second")
    parser.add_argument("--altinn-seconds", type=float, default=10.0)
    parser.add_argument("--altinn-timeout", type=float, default=2.0,
                        help="seconds each request has in all")
    parser.add_argument("--valg-calls", type=int, default=100)
    parser.add_argument("--valg-ids", type=int, default=1000, help="ids in each call")
    parser.add_argument("--set", action="append", default=[], metavar="KRR_X=VALUE",
                        help="a setting of the server's (default: none, the defaults)")
    parser.add_argument("--capacity", type=float, default=0.0, metavar="SECONDS",
                        help="then measure the server's capacity, limits lifted (default: not)")
    parser.add_argument("--capacity-clients", type=int, default=16,
                        help="single-id lookups at once in the capacity run (1000-id: 4)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the ids")
    args = parser.parse_args()
    tallies, measured, persons = asyncio.run(run(args))
    print(table(tallies, persons, args.set, args.workers))
    if measured:
        print()
        print(capacity_table(measured))
    if not all(t.ok for t in tallies):
        raise SystemExit("a consumer got an answer that was not a 2xx")


if __name__ == "__main__":
    main()
