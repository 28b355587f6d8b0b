"""Writing and reading the audit log with raw SQL: one record per disclosing request, bulk.

Append-only by construction: this module inserts, reads and prunes; nothing here updates.
Datetimes go to SQLite as the text tortoise writes for an aware UTC DatetimeField
("2026-01-02 03:04:05.123456+00:00"), so ORM reads and text comparisons both work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from app import db
from authz.principal import Principal
from authz.scopes import Kategori

OSLO = ZoneInfo("Europe/Oslo")

KATEGORI_BITS: dict[Kategori, int] = {
    Kategori.GRUNNDATA: 1,
    Kategori.KONTAKTINFORMASJON: 2,
    Kategori.DIGITAL_POST: 4,
}


def kategorier_til_bits(kategorier: Iterable[Kategori]) -> int:
    """The categories as the bit set stored per person (one small column, not a link table)."""
    bits = 0
    for kategori in kategorier:
        bits |= KATEGORI_BITS[kategori]
    return bits


def bits_til_kategorier(bits: int) -> list[Kategori]:
    """The inverse of `kategorier_til_bits`, in the enum's order."""
    return [k for k, bit in KATEGORI_BITS.items() if bits & bit]


def oslo_dag(tidspunkt: dt.datetime) -> dt.date:
    """The calendar day in Norway: the usage report counts Norwegian days, not UTC days."""
    return _aware(tidspunkt).astimezone(OSLO).date()


def _aware(tidspunkt: dt.datetime) -> dt.datetime:
    if tidspunkt.tzinfo is None or tidspunkt.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return tidspunkt


def _sqlite_ts(tidspunkt: dt.datetime) -> str:
    """Tortoise's SQLite text for an aware DatetimeField, always in UTC so text order is time
    order."""
    return _aware(tidspunkt).astimezone(dt.UTC).isoformat(" ")


def _from_db_ts(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _is_postgres() -> bool:
    return db.dialect() == "postgres"


# --- writing ---------------------------------------------------------------------------------

_PG_INSERT = """
WITH o AS (
    INSERT INTO oppslag (tidspunkt, dag, request_id, consumer, supplier, actor, scopes,
                         varslingsstatus, antall)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING id
), p AS (
    INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)
    SELECT o.id, p.pid, $1, p.k
    FROM o, unnest($10::varchar[], $11::smallint[]) AS p(pid, k)
)
SELECT id FROM o"""

_SQLITE_INSERT_OPPSLAG = """
INSERT INTO oppslag (tidspunkt, dag, request_id, consumer, supplier, actor, scopes,
                     varslingsstatus, antall)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""

_SQLITE_INSERT_PERSON = """
INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)
VALUES (?, ?, ?, ?)"""


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
    dag = oslo_dag(tidspunkt)
    request_values: list[Any] = [
        request_id,
        principal.consumer,
        principal.supplier,
        principal.actor,
        " ".join(sorted(set(scopes))),
        bool(varslingsstatus),
        len(personer),
    ]
    if _is_postgres():
        pids = [pid for pid, _ in personer]
        bits = [k for _, k in personer]
        _, rows = await db.connection().execute_query(
            _PG_INSERT, [tidspunkt, dag, *request_values, pids, bits]
        )
        return int(rows[0][0])

    ts = _sqlite_ts(tidspunkt)
    async with in_transaction() as conn:
        oppslag_id = await conn.execute_insert(
            _SQLITE_INSERT_OPPSLAG, [ts, dag.isoformat(), *request_values]
        )
        if personer:
            await conn.execute_many(
                _SQLITE_INSERT_PERSON, [[oppslag_id, pid, ts, k] for pid, k in personer]
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


_BY_PERSON = """
SELECT p.id, p.tidspunkt, o.consumer, o.supplier, p.kategorier
FROM oppslag_person p
JOIN oppslag o ON o.id = p.oppslag_id
WHERE p.personidentifikator = {pid}{before}
ORDER BY p.tidspunkt DESC, p.id DESC
LIMIT {limit}"""


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
    if _is_postgres():
        ph = [f"${i}" for i in range(1, 5)]
        values: list[Any] = [personidentifikator]
        if before is not None:
            values += [_aware(before[0]), before[1]]
    else:
        ph = ["?"] * 4
        values = [personidentifikator]
        if before is not None:
            values += [_sqlite_ts(before[0]), before[1]]
    values.append(limit)
    # Row-value comparison: (tidspunkt, id) strictly older than the cursor.
    before_sql = f" AND (p.tidspunkt, p.id) < ({ph[1]}, {ph[2]})" if before is not None else ""
    limit_ph = ph[3] if before is not None else ph[1]
    sql = _BY_PERSON.format(pid=ph[0], before=before_sql, limit=limit_ph)
    _, rows = await db.connection().execute_query(sql, values)
    return [
        OppslagAvPerson(
            id=int(row[0]),
            tidspunkt=_from_db_ts(row[1]),
            consumer=row[2],
            supplier=row[3],
            kategorier=bits_til_kategorier(int(row[4])),
        )
        for row in rows
    ]


# --- retention -------------------------------------------------------------------------------


async def prune(*, older_than: dt.datetime) -> tuple[int, int]:
    """Delete requests before `older_than` and their person rows, in one transaction.

    Person rows go first, explicitly, so the counts are exact and nothing depends on the
    FK cascade. Returns (requests, person rows) deleted.
    """
    if _is_postgres():
        cutoff: Any = _aware(older_than)
        ph = "$1"
    else:
        cutoff = _sqlite_ts(older_than)
        ph = "?"
    async with in_transaction() as conn:
        personer, _ = await conn.execute_query(
            "DELETE FROM oppslag_person WHERE oppslag_id IN "
            f"(SELECT id FROM oppslag WHERE tidspunkt < {ph})",
            [cutoff],
        )
        oppslag, _ = await conn.execute_query(
            f"DELETE FROM oppslag WHERE tidspunkt < {ph}", [cutoff]
        )
    return oppslag, personer
