"""Benchmark: what compressing a 1000-person lookup's answer saves and what it costs.

The answers of a 1000-person lookup of every field (GraphQL; REST v2; REST v2 for a notifier,
whose token opens the contact information alone; REST v2 signed, `Accept: application/jose`)
are got once from the app in process, on a seeded SQLite register,
as they are (`Accept-Encoding: identity`). Each is then compressed at several gzip levels and
br qualities with the very calls starlette-compress makes for a whole answer
(`gzip.compress`, `brotli.compress`), many times: the bytes, and the CPU time per answer
(time.perf_counter around each call, the median; one process, nothing else running in it). Beside
them, the lookup's own time in the same process (the median of a fifth as many lookups back to
back, identity, the audit filer working meanwhile as it does in service), so the cost reads as
a share of what a lookup costs anyway. Finally each answer is asked for again
with `Accept-Encoding: br` and `gzip`: what is served must be the levels app.edge.compression
chose, and must decode to the same JSON. Prints the Markdown table for the README.

    .venv/bin/python bench/compression.py [--persons 1000] [--register 10000] [--repetitions 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import gzip
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import brotli
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable

from app.config import load_settings  # noqa: E402 - after the path is set
from app.edge.app import create_app  # noqa: E402
from app.edge.compression import BROTLI_QUALITY, GZIP_LEVEL  # noqa: E402
from bench.common import (  # noqa: E402
    LIFTED_LIMITS,
    QUERY,
    env_for,
    prepare_register,
    sample_ids,
    sqlite_url,
    token,
)

JOSE = "application/jose"
JSON = "application/json"
# (coding, level): the levels served and some on either side of them.
LEVELS: tuple[tuple[str, int], ...] = (
    ("gzip", 1), ("gzip", 4), ("gzip", GZIP_LEVEL), ("gzip", 9),
    ("br", 1), ("br", BROTLI_QUALITY), ("br", 5), ("br", 6), ("br", 11),
)
COMPRESS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": lambda body, level: gzip.compress(body, compresslevel=level),
    "br": lambda body, level: brotli.compress(body, quality=level),
}
DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress, "br": brotli.decompress,
}
SERVED = {"gzip": GZIP_LEVEL, "br": BROTLI_QUALITY}
CONTACT = "krr:global/kontaktinformasjon.read"  # a notifier's scope: no mailbox, no certificate
SLOW = 0.1  # seconds: a level slower than this per answer is timed a tenth as often


@dataclass(frozen=True)
class Answer:
    """One kind of lookup: how it is asked, and its answer as it is."""

    name: str
    path: str
    body: dict[str, object]
    accept: str
    bearer: str
    plain: bytes
    lookup_s: float  # the lookup's median time in process, uncompressed


@dataclass(frozen=True)
class Row:
    answer: str
    plain: int
    coding: str
    level: int
    size: int
    seconds: float  # median CPU time of one compression
    lookup_s: float


def median_time(work: Callable[[], object], repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def raw(client: httpx.AsyncClient, path: str, body: dict[str, object], bearer: str,
              accept: str, encoding: str) -> tuple[httpx.Headers, bytes]:
    """The answer's headers and its bytes as the wire carries them (httpx would decode them)."""
    headers = {"Authorization": f"Bearer {bearer}", "Accept": accept,
               "Accept-Encoding": encoding}
    async with client.stream("POST", path, json=body, headers=headers) as response:
        wire = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200, (path, response.status_code, wire[:300])
    return response.headers, wire


def content(answer: bytes, accept: str) -> object:
    """What an answer says: its JSON, or a signed answer's persons (signed anew each time)."""
    if accept != JOSE:
        return orjson.loads(answer)
    segment = answer.split(b".")[1]
    return orjson.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))["personer"]


async def answers(client: httpx.AsyncClient, bearers: tuple[str, str], ids: list[str],
                  repetitions: int) -> list[Answer]:
    """The answers as they are, each lookup timed `repetitions` times back to back.
    `bearers`: a token with both lookup scopes, and one with the contact information's alone
    (a notifier's)."""
    both, contact = bearers
    rest = {"personidentifikatorer": ids}
    kinds = (
        ("GraphQL", "/graphql", {"query": QUERY, "variables": {"ids": ids}}, JSON, both),
        ("REST v2", "/rest/v2/personer", rest, JSON, both),
        ("REST v2, contact information only", "/rest/v2/personer", rest, JSON, contact),
        ("REST v2 signed", "/rest/v2/personer", rest, JOSE, both),
    )
    found = []
    for name, path, body, accept, bearer in kinds:
        times, plain = [], b""
        for _ in range(max(repetitions, 1)):
            start = time.perf_counter()
            headers, plain = await raw(client, path, body, bearer, accept, "identity")
            times.append(time.perf_counter() - start)
            assert "content-encoding" not in headers
        found.append(Answer(name, path, body, accept, bearer, plain, statistics.median(times)))
    return found


def measure(answer: Answer, repetitions: int) -> list[Row]:
    rows = []
    for coding, level in LEVELS:
        compressed = COMPRESS[coding](answer.plain, level)
        assert DECOMPRESS[coding](compressed) == answer.plain
        once = median_time(lambda c=coding, lv=level: COMPRESS[c](answer.plain, lv), 1)
        times = repetitions if once < SLOW else max(1, repetitions // 10)
        seconds = median_time(lambda c=coding, lv=level: COMPRESS[c](answer.plain, lv), times)
        rows.append(Row(answer.name, len(answer.plain), coding, level, len(compressed), seconds,
                        answer.lookup_s))
    return rows


async def served(client: httpx.AsyncClient, answer: Answer) -> dict[str, int]:
    """Bytes served per coding, each checked: the same content decoded, and (but for a signed
    answer, signed anew each time) the size of the level chosen."""
    sizes = {}
    for coding, level in SERVED.items():
        headers, wire = await raw(client, answer.path, answer.body, answer.bearer, answer.accept,
                                  coding)
        assert headers["content-encoding"] == coding, headers
        assert "accept-encoding" in headers["vary"].lower()
        assert int(headers["content-length"]) == len(wire)
        decoded = DECOMPRESS[coding](wire)
        assert content(decoded, answer.accept) == content(answer.plain, answer.accept)
        if answer.accept != JOSE:
            assert len(wire) == len(COMPRESS[coding](answer.plain, level))
        sizes[coding] = len(wire)
    return sizes


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def table(rows: list[Row]) -> str:
    """One row per coding and level, one column per answer: its bytes and the CPU time of one
    compression, each as a share of the answer and of the lookup's own time."""
    names = list(dict.fromkeys(r.answer for r in rows))
    first = {r.answer: r for r in reversed(rows)}
    lines = [
        "| coding | level | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
        "| as it is | | " + " | ".join(
            f"{kib(first[n].plain)}; the lookup {first[n].lookup_s * 1000:.1f} ms"
            for n in names) + " |",
    ]
    for coding, level in dict.fromkeys((r.coding, r.level) for r in rows):
        cells = []
        for name in names:
            (r,) = [r for r in rows if (r.answer, r.coding, r.level) == (name, coding, level)]
            cells.append(f"{kib(r.size)} ({100 * r.size / r.plain:.1f} %); "
                         f"{r.seconds * 1000:.2f} ms ({100 * r.seconds / r.lookup_s:.0f} %)")
        chosen = " (served)" if SERVED[coding] == level else ""
        lines.append(f"| {coding} | {level}{chosen} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.machine()}, {os.cpu_count()} cores ({model}), "
            f"Python {platform.python_version()}, brotli {brotli.version}")


async def run(persons: int, register: int, repetitions: int) -> None:
    url = sqlite_url(register)
    await prepare_register(url, register)
    ids = await sample_ids(url, persons, random.Random(7))
    settings = load_settings(env_for(url, **LIFTED_LIMITS))
    app = create_app(settings)
    bearers = (token(), token(CONTACT))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://krr.bench",
            timeout=60) as client:
        found = await answers(client, bearers, ids, max(3, repetitions // 5))
        sizes = {a.name: await served(client, a) for a in found}
    rows = [row for answer in found for row in measure(answer, repetitions)]
    print(f"Measured {dt.date.today().isoformat()} on {machine()}; a lookup of {persons} "
          f"persons, every field, on a SQLite register of {register:,} persons; "
          f"{repetitions} compressions per level (a tenth above {SLOW * 1000:.0f} ms), the "
          "median; the lookup's time in process, uncompressed, the median of "
          f"{max(3, repetitions // 5)}.\n")
    print(table(rows))
    print()
    for a in found:
        print(f"- {a.name}: served {', '.join(f'{c} {kib(n)}' for c, n in sizes[a.name].items())}"
              f"; the lookup {a.lookup_s * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1000, help="ids per lookup")
    parser.add_argument("--register", type=int, default=10000,
                        help="persons in the SQLite register (seeded when it holds fewer)")
    parser.add_argument("--repetitions", type=int, default=50,
                        help="compressions timed per level")
    args = parser.parse_args()
    asyncio.run(run(args.persons, args.register, args.repetitions))


if __name__ == "__main__":
    main()
