"""Benchmark: `krr organisasjoner importer` on a generated bulk file of a million units.

Writes a gzip JSON file shaped like Brønnøysund's `enheter_alle.json.gz` (each unit with its
nested organisasjonsform, addresses and codes, as the real file has), then runs the command on
it twice per database, each time as its own process: the first run on an empty table (every
name new), the second on the same file (every name unchanged). Reports rows/s and the process's
peak resident memory (getrusage of the child): the file is streamed, so memory stays flat
whatever the file's size. Prints a Markdown table for the README.

    .venv/bin/python bench/organisasjoner.py [--rows 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from authz.identifikatorer import is_valid_orgno

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, rows: int) -> None:
    n = 800_000_000
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        out.write("[")
        for i in range(rows):
            n += 1
            while not is_valid_orgno(f"{n:09d}"):
                n += 1
            out.write(("," if i else "") + json.dumps({
                "organisasjonsnummer": f"{n:09d}",
                "navn": f"Eksempelenhet nummer {i} AS",
                "organisasjonsform": {"kode": "AS", "beskrivelse": "Aksjeselskap",
                                      "_links": {"self": {"href": "https://example.invalid/AS"}}},
                "registreringsdatoEnhetsregisteret": "2020-01-01",
                "registrertIMvaregisteret": i % 2 == 0,
                "naeringskode1": {"kode": "62.010", "beskrivelse": "Programmeringstjenester"},
                "antallAnsatte": i % 50,
                "forretningsadresse": {"land": "Norge", "landkode": "NO", "postnummer": "0150",
                                       "poststed": "OSLO", "adresse": [f"Eksempelgata {i}"],
                                       "kommune": "OSLO", "kommunenummer": "0301"},
                "institusjonellSektorkode": {"kode": "2100",
                                             "beskrivelse": "Private aksjeselskaper"},
                "konkurs": False, "underAvvikling": False, "maalform": "Bokmål",
            }, ensure_ascii=False))
        out.write("]")


async def empty_postgres(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def run(env: dict[str, str], path: Path) -> tuple[float, int, str]:
    """Seconds, peak RSS in KiB, and the summary line of one `krr organisasjoner importer`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "organisasjoner", "importer",
                                str(path)], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    assert process.stdout is not None
    summary = process.stdout.read().decode().strip()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"exit {process.returncode}: {summary}")
    return seconds, usage.ru_maxrss, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="a PostgreSQL database to use (its schema is reset)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enheter_alle.json.gz"
        started = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} units, {path.stat().st_size / 2**20:.1f} MiB gzip, "
              f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
        base |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(Path(tmp) / "var"),
                 "PYTHONPATH": str(ROOT)}
        databases = [("SQLite", f"sqlite://{Path(tmp) / 'bench.sqlite3'}")]
        if args.postgres:
            asyncio.run(empty_postgres(args.postgres))
            databases.append(("PostgreSQL", args.postgres))
        print(f"{args.rows:,} units, {path.stat().st_size / 2**20:.0f} MiB gzip; "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"{dt.date.today().isoformat()}\n")
        print("| database | run | seconds | rows/s | peak memory (RSS) |")
        print("|---|---|---:|---:|---:|")
        for name, url in databases:
            env = base | {"KRR_DATABASE_URL": url}
            for label in ("empty table", "again, unchanged"):
                seconds, rss, summary = run(env, path)
                print(f"| {name} | {label} | {seconds:.1f} | {args.rows / seconds:,.0f} | "
                      f"{rss / 1024:.0f} MiB |", flush=True)
                print(f"  {summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
