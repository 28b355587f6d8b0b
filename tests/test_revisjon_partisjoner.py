"""The audit log's shape at national scale (issue 16): monthly partitions on PostgreSQL, made
ahead and on demand; retention that drops months without holding lookups up; migration 0011
carrying the existing records over, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app import db as database
from app.revisjon import partisjoner, store
from app.revisjon.models import Oppslag
from tests.conftest import POSTGRES_PREFIXES
from tests.factories import new_id
from tests.revisjonsrader import personrader
from tests.test_audit import principal

ROOT = Path(__file__).resolve().parent.parent


def is_postgres() -> bool:
    return database.dialect() == "postgres"


async def write(when: dt.datetime, persons: int = 2, start: int = 0) -> int:
    return await store.skriv_oppslag(
        tidspunkt=when, request_id="r", principal=principal(), scopes=["s"],
        varslingsstatus=False, personer=[(new_id(start + i), 3) for i in range(persons)],
    )


async def months() -> list[str]:
    return [p.navn for p in await partisjoner.eksisterende(database.connection())]


# --- pure month arithmetic -----------------------------------------------------------------

def test_months_are_utc_calendar_months():
    oslo_new_year = dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert partisjoner.maaned(oslo_new_year) == dt.date(2026, 12, 1)  # still December in UTC
    assert partisjoner.neste(dt.date(2026, 12, 1)) == dt.date(2027, 1, 1)
    assert partisjoner.maaneder(
        dt.datetime(2026, 11, 30, tzinfo=dt.UTC), dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    ) == [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2027, 2, 1)]
    assert partisjoner.navn("oppslag_person", dt.date(2027, 2, 1)) == "oppslag_person_p202702"
    with pytest.raises(ValueError):
        partisjoner.maaned(dt.datetime(2026, 1, 1))


def test_a_missing_month_is_recognised_through_the_drivers_wrapping():
    class CheckViolation(Exception):
        sqlstate = "23514"

    inner = CheckViolation('no partition of relation "oppslag" found for row')
    try:
        try:
            raise inner
        except CheckViolation as exc:
            raise RuntimeError("integrity error") from exc
    except RuntimeError as wrapped:
        assert partisjoner.er_manglende_partisjon(wrapped)
    assert not partisjoner.er_manglende_partisjon(RuntimeError("null value in column"))


# --- writing into months ---------------------------------------------------------------------

async def test_a_write_into_a_month_no_one_made_makes_it(db):
    far = dt.datetime(2031, 7, 4, 12, tzinfo=dt.UTC)
    oppslag_id = await write(far, persons=3)
    assert (await Oppslag.get(id=oppslag_id)).tidspunkt == far
    assert len(await personrader(oppslag_id)) == 3
    if is_postgres():
        assert {"oppslag_p203107", "oppslag_person_p203107"} <= set(await months())


async def test_months_ahead_are_made_once_even_by_several_workers_at_once(db):
    now = dt.datetime(2033, 3, 15, tzinfo=dt.UTC)
    await asyncio.gather(*(store.lag_maaneder_framover(now) for _ in range(4)))
    made = set(await months()) if is_postgres() else set()
    for m in ("203303", "203304", "203305", "203306"):
        if is_postgres():  # SQLite keeps one table: nothing to make
            assert {f"oppslag_p{m}", f"oppslag_person_p{m}"} <= made
        when = dt.datetime(int(m[:4]), int(m[4:]), 28, tzinfo=dt.UTC)
        assert len(await personrader(await write(when, persons=1))) == 1
    await store.lag_maaneder_framover(now)  # again: nothing to do, no error
    if is_postgres():
        assert set(await months()) == made


# --- retention -------------------------------------------------------------------------------

async def test_prune_drops_whole_months_and_trims_the_month_of_the_cutoff(db):
    cutoff = dt.datetime(2034, 2, 10, tzinfo=dt.UTC)
    january = [await write(dt.datetime(2034, 1, d, tzinfo=dt.UTC), persons=3, start=d)
               for d in (2, 31)]
    early_february = await write(cutoff - dt.timedelta(seconds=1), persons=2, start=40)
    kept = [await write(cutoff, persons=1, start=50),
            await write(dt.datetime(2034, 3, 1, tzinfo=dt.UTC), persons=4, start=60)]

    now = dt.datetime(2034, 3, 2, tzinfo=dt.UTC)
    assert await store.prune(older_than=cutoff, now=now) == (3, 8)
    assert sorted(await Oppslag.all().values_list("id", flat=True)) == kept
    assert {r.oppslag_id for r in await personrader()} == set(kept)
    assert len(await personrader()) == 5
    assert early_february not in kept and not set(january) & set(kept)
    if is_postgres():
        left = set(await months())
        assert "oppslag_p203401" not in left and "oppslag_person_p203401" not in left
        assert {"oppslag_p203402", "oppslag_person_p203402", "oppslag_p203406"} <= left
    assert await store.prune(older_than=cutoff, now=now) == (0, 0)


class Reader:
    """Another client in the middle of a long read of the audit log (a usage report, say)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    async def __aenter__(self) -> Reader:
        if self.url.startswith(POSTGRES_PREFIXES):
            self.conn = await asyncpg.connect(self.url.replace("postgres://", "postgresql://", 1))
            await self.conn.execute("BEGIN")
            await self.conn.fetch("SELECT count(*) FROM oppslag")
        else:
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite://"),
                                        isolation_level=None)
            self.conn.execute("BEGIN")
            self.conn.execute("SELECT count(*) FROM oppslag").fetchall()
        return self

    async def __aexit__(self, *_: object) -> None:
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.execute("COMMIT")
            self.conn.close()
        else:
            await self.conn.execute("COMMIT")
            await self.conn.close()


async def test_lookups_are_written_while_prune_runs(db, settings):
    """Retention waits for the readers of a month it removes; lookups writing the current month
    never wait for retention."""
    now = dt.datetime(2035, 5, 20, tzinfo=dt.UTC)
    await write(dt.datetime(2035, 1, 15, tzinfo=dt.UTC), persons=3)
    await store.lag_maaneder_framover(now)
    async with Reader(settings.database_url):
        pruning = asyncio.create_task(
            store.prune(older_than=dt.datetime(2035, 3, 1, tzinfo=dt.UTC), now=now)
        )
        await asyncio.sleep(0.3)  # prune has started, and waits for the reader on PostgreSQL
        written = await asyncio.wait_for(write(now, persons=2, start=10), timeout=3)
        assert len(await personrader(written)) == 2
    assert await asyncio.wait_for(pruning, timeout=10) == (1, 3)


# --- migration 0011 --------------------------------------------------------------------------

TO_0010 = """
import asyncio
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from app.config import load_settings
from app.db import tortoise_config

async def main():
    await migrate(config=tortoise_config(load_settings()), target="models.0010_innlogging_okt")
    await Tortoise.close_connections()

asyncio.run(main())
"""
# Three requests as 0010 stored them (ids given, person rows with ids and a foreign key).
OPPSLAG_0010 = [
    (1, "2026-05-03 10:00:00+00:00", "2026-05-03", 2),
    (2, "2026-11-30 23:30:00+00:00", "2026-12-01", 1),
    (7, "2026-11-30 23:30:00+00:00", "2026-12-01", 0),
]
INSERT_OPPSLAG = ("INSERT INTO oppslag (id, tidspunkt, dag, request_id, consumer, scopes,"
                  " varslingsstatus, antall) VALUES ({}, {}, {}, 'r', '974760673', 's', {}, {})")
INSERT_PERSON = ("INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt,"
                 " kategorier) VALUES ({}, {}, {}, {})")
SELECT_PERSONS = ("SELECT oppslag_id, personidentifikator, kategorier FROM oppslag_person"
                  " ORDER BY oppslag_id, personidentifikator")


def persons_0010() -> list[tuple[int, str, str, int]]:
    rows = []
    for oppslag_id, tidspunkt, _, antall in OPPSLAG_0010:
        rows += [(oppslag_id, new_id(oppslag_id * 10 + i), tidspunkt, 1 + i) for i in range(antall)]
    return rows


async def test_migration_0011_carries_the_audit_log_over(settings, tmp_path):
    """At 0010 the log holds requests of two months; after `krr migrate` the same rows are
    there (on PostgreSQL in their months' partitions, the months ahead made), the next request
    id follows the old ones, and a new lookup is recorded."""
    postgres = settings.database_url.startswith(POSTGRES_PREFIXES)
    schema = "krr_migration_0011"
    server = settings.database_url.replace("postgres://", "postgresql://", 1)
    url = f"{settings.database_url}?schema={schema}" if postgres else \
        f"sqlite:///{tmp_path / 'migrering.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp_path / "var"), "KRR_DATABASE_URL": url,
            "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> None:
        done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr

    async def sql(*statements: str) -> list[Any]:
        if postgres:
            conn = await asyncpg.connect(server, server_settings={"search_path": schema})
            try:
                return [await conn.fetch(s) for s in statements][-1]
            finally:
                await conn.close()
        with sqlite3.connect(tmp_path / "migrering.sqlite3") as lite:
            out = [lite.execute(s).fetchall() for s in statements][-1]
        lite.close()
        return out

    def lit(value: Any) -> str:
        if isinstance(value, int):
            return str(value)
        return f"'{value}'"

    false = "false" if postgres else "0"
    if postgres:
        admin = await asyncpg.connect(server)
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        await admin.close()
    try:
        run("-c", TO_0010)
        await sql(
            *(INSERT_OPPSLAG.format(i, lit(t), lit(d), false, n) for i, t, d, n in OPPSLAG_0010),
            *(INSERT_PERSON.format(*map(lit, row)) for row in persons_0010()),
        )
        run("-m", "app.cli", "migrate")
        persons = [tuple(r) for r in await sql(SELECT_PERSONS)]
        requests = [tuple(r) for r in await sql("SELECT id, antall FROM oppslag ORDER BY id")]
        new = await sql(
            INSERT_OPPSLAG.replace("id, ", "", 1).replace("({}, ", "(", 1).format(
                lit("2026-12-01 08:00:00+00:00"), lit("2026-12-01"), false, 0)
            + " RETURNING id" * postgres,
            "SELECT max(id) FROM oppslag",
        )
        if postgres:
            partitions = {r[0] for r in await sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                f" WHERE n.nspname = '{schema}'")}
            columns = {r[0] for r in await sql(
                "SELECT column_name FROM information_schema.columns"
                f" WHERE table_schema = '{schema}' AND table_name = 'oppslag_person'")}
        else:
            columns = {r[1] for r in await sql("PRAGMA table_info(oppslag_person)")}
            foreign = await sql("PRAGMA foreign_key_list(oppslag_person)")
    finally:
        if postgres:
            admin = await asyncpg.connect(server)
            await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await admin.close()

    assert persons == [(o, pid, k) for o, pid, _, k in persons_0010()]
    assert requests == [(i, n) for i, _, _, n in OPPSLAG_0010]
    assert new[0][0] == 8  # the sequence carries on after the highest old id
    assert columns == {"oppslag_id", "personidentifikator", "tidspunkt", "kategorier"}
    if postgres:
        assert {"oppslag_p202605", "oppslag_person_p202605", "oppslag_p202611",
                "oppslag_person_p202611", "oppslag_p202612"} <= partitions
    else:
        assert foreign == []
