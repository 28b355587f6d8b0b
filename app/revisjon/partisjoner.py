"""The audit log's monthly partitions on PostgreSQL; SQLite keeps one table of each.

`oppslag` and `oppslag_person` are partitioned by RANGE (tidspunkt), one partition per UTC month
named `oppslag_pYYYYMM` / `oppslag_person_pYYYYMM`, their indexes declared on the parent. Why:
retention drops whole months (detached concurrently, so lookups writing the current month are
never locked out) instead of deleting rows, and each month's "who looked me up" index stays the
size of a month. A month is created before it is needed (at migration, at startup and by
`krr prune-audit`, three months ahead) and, should a write still find none, by the writer itself
(`er_manglende_partisjon`, then `sikre`).

The DDL is built here and only here; the migration that made the tables keeps its own frozen copy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app import db

TABELLER = ("oppslag", "oppslag_person")
MAANEDER_FRAMOVER = 3
_LAAS = 0x6B72725F61756474  # pg_advisory_xact_lock key: one creator of partitions at a time
_NAVN = re.compile(r"^(oppslag|oppslag_person)_p(\d{4})(\d{2})$")


def maaned(moment: dt.datetime) -> dt.date:
    """The first day of `moment`'s month in UTC (the partitions' bounds are UTC midnights)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return dt.date(utc.year, utc.month, 1)


def neste(maaned_: dt.date) -> dt.date:
    return dt.date(maaned_.year + maaned_.month // 12, maaned_.month % 12 + 1, 1)


def grense(maaned_: dt.date) -> dt.datetime:
    """The month's lower bound as a moment (UTC midnight of its first day)."""
    return dt.datetime(maaned_.year, maaned_.month, 1, tzinfo=dt.UTC)


def navn(tabell: str, maaned_: dt.date) -> str:
    return f"{tabell}_p{maaned_:%Y%m}"


def maaneder(fra: dt.datetime, til: dt.datetime) -> list[dt.date]:
    """Every month from `fra`'s to `til`'s, both included."""
    forste, siste = maaned(fra), maaned(til)
    ut = []
    while forste <= siste:
        ut.append(forste)
        forste = neste(forste)
    return ut


def opprett_sql(maaned_: dt.date) -> list[str]:
    """Statements that make one month's partitions: each table made on its own, then attached.
    ATTACH takes a lock that lets lookups go on writing the parent (CREATE TABLE ... PARTITION OF
    would wait for, and then hold off, every writer); attaching an empty table checks nothing."""
    fra, til = grense(maaned_).isoformat(" "), grense(neste(maaned_)).isoformat(" ")
    ut = []
    for tabell in TABELLER:
        ny = navn(tabell, maaned_)
        ut += [
            f"CREATE TABLE {ny} (LIKE {tabell} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
            f"ALTER TABLE {tabell} ATTACH PARTITION {ny} FOR VALUES FROM ('{fra}') TO ('{til}')",
        ]
    return ut


async def sikre(fra: dt.datetime, til: dt.datetime) -> None:
    """Make the partitions of every month from `fra` to `til` that is missing: one transaction
    under an advisory lock (two workers making the same month wait for each other, and the second
    finds it made), giving up after `lock_timeout` rather than queueing lookups behind it."""
    if await _mangler(db.connection(), fra, til):
        async with in_transaction() as tx:
            await tx.execute_query("SET LOCAL lock_timeout = '5s'")
            await tx.execute_query(f"SELECT pg_advisory_xact_lock({_LAAS})")
            for m in await _mangler(tx, fra, til):
                for statement in opprett_sql(m):
                    await tx.execute_query(statement)


async def _mangler(conn: BaseDBAsyncClient, fra: dt.datetime, til: dt.datetime) -> list[dt.date]:
    finnes = [p.maaned for p in await eksisterende(conn)]
    return [m for m in maaneder(fra, til) if finnes.count(m) < len(TABELLER)]


@dataclass(frozen=True, slots=True)
class Partisjon:
    tabell: str
    maaned: dt.date

    @property
    def navn(self) -> str:
        return navn(self.tabell, self.maaned)


async def eksisterende(conn: BaseDBAsyncClient) -> list[Partisjon]:
    """The partitions attached to the two tables (known by their names), oldest month first."""
    _, rader = await conn.execute_query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('oppslag', 'oppslag_person')"
        " AND p.relnamespace = current_schema()::regnamespace"
    )
    ut = []
    for (relname,) in rader:
        treff = _NAVN.match(relname)
        if treff:
            ut.append(Partisjon(treff[1], dt.date(int(treff[2]), int(treff[3]), 1)))
    return sorted(ut, key=lambda p: (p.maaned, p.tabell))


def er_manglende_partisjon(exc: BaseException) -> bool:
    """Whether a failed insert failed because no partition holds its month (SQLSTATE 23514,
    'no partition of relation ... found for row'), through tortoise's wrapping."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == "23514" and "no partition" in str(seen):
            return True
        if "no partition of relation" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def fjern(conn: BaseDBAsyncClient, tabell: str, maaned_: dt.date) -> None:
    """Detach one month's partition concurrently, then drop it. DETACH ... CONCURRENTLY takes
    no lock that writers of the other months wait for (it waits for the queries already using
    the month instead); a detach interrupted half-way is finished first (FINALIZE)."""
    partisjon = navn(tabell, maaned_)
    _, rader = await conn.execute_query(
        "SELECT i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        f" WHERE c.relname = '{partisjon}' AND c.relnamespace = current_schema()::regnamespace"
    )
    if rader:
        detach = "FINALIZE" if rader[0][0] else "CONCURRENTLY"
        await conn.execute_script(f"ALTER TABLE {tabell} DETACH PARTITION {partisjon} {detach}")
    await conn.execute_script(f"DROP TABLE IF EXISTS {partisjon}")
