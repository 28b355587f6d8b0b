"""Writing and reading the audit log with raw SQL: one record per disclosing request, bulk.

Append-only by construction: this module inserts, reads and prunes; nothing here updates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from app import db
from app.revisjon.kategorier import bits_til_kategorier
from authz.principal import Principal
from authz.scopes import Kategori

OSLO = ZoneInfo("Europe/Oslo")


def oslo_dag(tidspunkt: dt.datetime) -> dt.date:
    """The calendar day in Norway: the usage report counts Norwegian days, not UTC days."""
    if tidspunkt.tzinfo is None or tidspunkt.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return tidspunkt.astimezone(OSLO).date()


# --- writing ---------------------------------------------------------------------------------

_OPPSLAG = ("tidspunkt", "dag", "request_id", "consumer", "supplier", "actor", "scopes",
            "varslingsstatus", "antall")


async def skriv_oppslag(
    *,
    tidspunkt: dt.datetime,
    request_id: str,
    principal: Principal,
    scopes: Iterable[str],
    varslingsstatus: bool,
    personer: Sequence[tuple[str, int]],
) -> int:
    """Record one request that disclosed person data; `personer` is (id, category bits) each.

    All or nothing, and raises on any failure: the caller must then disclose nothing.
    PostgreSQL: one statement (atomic by itself, one round trip). SQLite: the request row and
    one executemany in a transaction. Returns the id of the request row.
    """
    sql = db.Sql()
    naar = sql.tid(tidspunkt)
    naar_verdi = sql.verdier[-1]
    verdier = [
        naar, sql.dato(oslo_dag(tidspunkt)), sql(request_id), sql(principal.consumer),
        sql(principal.supplier), sql(principal.actor), sql(" ".join(sorted(set(scopes)))),
        sql(bool(varslingsstatus)), sql(len(personer)),
    ]
    insert = f"INSERT INTO oppslag ({', '.join(_OPPSLAG)}) VALUES ({', '.join(verdier)})"
    if sql.postgres:
        pids, bits = sql([pid for pid, _ in personer]), sql([k for _, k in personer])
        _, rows = await db.connection().execute_query(
            f"WITH o AS ({insert} RETURNING id), p AS ("
            " INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)"
            f" SELECT o.id, p.pid, {naar}, p.k"
            f" FROM o, unnest({pids}::varchar[], {bits}::smallint[]) AS p(pid, k)"
            ") SELECT id FROM o",
            sql.verdier,
        )
        return int(rows[0][0])

    async with in_transaction() as conn:
        oppslag_id = await conn.execute_insert(insert, sql.verdier)
        if personer:  # executemany: SQLite has no array parameter to unnest
            await conn.execute_many(
                "INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt,"
                " kategorier) VALUES (?, ?, ?, ?)",
                [[oppslag_id, pid, naar_verdi, k] for pid, k in personer],
            )
    return int(oppslag_id)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OppslagAvPerson:
    """One disclosure of a person: when, to whom, on whose behalf, and what."""

    id: int  # the oppslag_person row: the tie-breaker of the cursor
    tidspunkt: dt.datetime
    consumer: str
    supplier: str | None
    kategorier: list[Kategori]

    @property
    def cursor(self) -> tuple[dt.datetime, int]:
        """Pass as `before` to get the next (older) page."""
        return (self.tidspunkt, self.id)


async def oppslag_av_person(
    personidentifikator: str,
    *,
    limit: int,
    before: tuple[dt.datetime, int] | None = None,
) -> list[OppslagAvPerson]:
    """Who looked up this person, newest first; keyset pages over (tidspunkt, id), so a page
    costs the same on the millionth record (index oppslag_person_pid_idx)."""
    if limit <= 0:
        return []
    sql = db.Sql()
    _, rows = await db.connection().execute_query(
        oppslag_av_person_sql(sql, personidentifikator, limit, before), sql.verdier
    )
    return [
        OppslagAvPerson(
            id=int(row[0]),
            tidspunkt=_tid(row[1]),
            consumer=row[2],
            supplier=row[3],
            kategorier=bits_til_kategorier(int(row[4])),
        )
        for row in rows
    ]


def oppslag_av_person_sql(
    sql: db.Sql, personidentifikator: str, limit: int, before: tuple[dt.datetime, int] | None
) -> str:
    """The statement of `oppslag_av_person`, newest first from the cursor `before`."""
    where = f"p.personidentifikator = {sql(personidentifikator)}"
    if before is not None:
        # Row-value comparison: (tidspunkt, id) strictly older than the cursor.
        where += f" AND (p.tidspunkt, p.id) < ({sql.tid(before[0])}, {sql(before[1])})"
    return (
        "SELECT p.id, p.tidspunkt, o.consumer, o.supplier, p.kategorier"
        " FROM oppslag_person p JOIN oppslag o ON o.id = p.oppslag_id"
        f" WHERE {where} ORDER BY p.tidspunkt DESC, p.id DESC LIMIT {sql(limit)}"
    )


async def oppslag_av_person_fra(
    personidentifikator: str, cursor: tuple[dt.datetime, int]
) -> bool:
    """Whether the person has a lookup at or after the cursor (the page before a page that
    starts after it: `hasPreviousPage`). One indexed probe."""
    sql = db.Sql()
    where = (
        f"personidentifikator = {sql(personidentifikator)}"
        f" AND (tidspunkt, id) >= ({sql.tid(cursor[0])}, {sql(cursor[1])})"
    )
    _, rows = await db.connection().execute_query(
        f"SELECT 1 FROM oppslag_person WHERE {where} LIMIT 1", sql.verdier
    )
    return bool(rows)


def _tid(value: Any) -> dt.datetime:
    moment = db.tid(value)
    assert moment is not None  # the column is NOT NULL
    return moment


# --- retention -------------------------------------------------------------------------------


async def prune(*, older_than: dt.datetime) -> tuple[int, int]:
    """Delete requests before `older_than` and their person rows, in one transaction.

    Person rows go first, explicitly, so the counts are exact and nothing depends on the
    FK cascade. Returns (requests, person rows) deleted.
    """
    async with in_transaction() as conn:
        sql = db.Sql.paa(conn)
        cutoff = sql.tid(older_than)
        personer, _ = await conn.execute_query(
            "DELETE FROM oppslag_person WHERE oppslag_id IN "
            f"(SELECT id FROM oppslag WHERE tidspunkt < {cutoff})",
            sql.verdier,
        )
        oppslag, _ = await conn.execute_query(
            f"DELETE FROM oppslag WHERE tidspunkt < {cutoff}", sql.verdier
        )
    return oppslag, personer
