"""Writing and reading the audit log with raw SQL: one record per disclosing request, bulk.

Append-only by construction: this module inserts, reads and prunes; nothing here updates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app import db
from app.revisjon import fordeling, partisjoner
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

    All or nothing, and raises on any failure: the caller must then disclose nothing. The
    record is the request row and its persons as one queue row (app.revisjon.fordeling files
    them into the per-person index after the answer has left). PostgreSQL: one statement
    (atomic by itself, one round trip); SQLite: both rows in a transaction. Returns the id of
    the request row.
    """
    if not all(type(pid) is str and type(k) is int for pid, k in personer):
        # Checked here, not only by the database: a queue row the filer cannot file would
        # hold up every record behind it.
        raise ValueError("every person recorded needs an id (str) and category bits (int)")
    sql = db.Sql()
    naar = sql.tid(tidspunkt)
    verdier = [
        naar, sql.dato(oslo_dag(tidspunkt)), sql(request_id), sql(principal.consumer),
        sql(principal.supplier), sql(principal.actor), sql(" ".join(sorted(set(scopes)))),
        sql(bool(varslingsstatus)), sql(len(personer)),
    ]
    insert = f"INSERT INTO oppslag ({', '.join(_OPPSLAG)}) VALUES ({', '.join(verdier)})"
    if sql.postgres:
        ko = fordeling.sql_for_ko(sql, "(SELECT id FROM o)", naar, personer) if personer else ""
        statement = (
            f"WITH o AS ({insert} RETURNING id)"
            + (f", k AS ({ko})" if ko else "")
            + " SELECT id FROM o"
        )
        try:
            _, rows = await db.connection().execute_query(statement, sql.verdier)
        except Exception as exc:
            if not partisjoner.er_manglende_partisjon(exc):
                raise
            # A month no one made ahead (a server left running past the months made at
            # startup and by prune-audit): make it, and write once more.
            await partisjoner.sikre(tidspunkt, tidspunkt)
            _, rows = await db.connection().execute_query(statement, sql.verdier)
        oppslag_id = int(rows[0][0])
    else:
        async with in_transaction() as conn:
            oppslag_id = int(await conn.execute_insert(insert, sql.verdier))
            if personer:
                ko_sql = db.Sql("sqlite")
                await conn.execute_query(
                    fordeling.sql_for_ko(ko_sql, ko_sql(oppslag_id), ko_sql.tid(tidspunkt),
                                         personer),
                    ko_sql.verdier,
                )
    if personer:
        fordeling.varsle()
    return oppslag_id


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OppslagAvPerson:
    """One disclosure of a person: when, to whom, on whose behalf, and what."""

    oppslag_id: int  # the request: the tie-breaker of the cursor (a request names a person once)
    tidspunkt: dt.datetime
    consumer: str
    supplier: str | None
    kategorier: list[Kategori]

    @property
    def cursor(self) -> tuple[dt.datetime, int]:
        """Pass as `before` to get the next (older) page."""
        return (self.tidspunkt, self.oppslag_id)


async def oppslag_av_person(
    personidentifikator: str,
    *,
    limit: int,
    before: tuple[dt.datetime, int] | None = None,
) -> list[OppslagAvPerson]:
    """Who looked up this person, newest first; keyset pages over (tidspunkt, oppslag_id), so a
    page costs the same on the millionth record (index oppslag_person_pid_idx; on PostgreSQL the
    months are read newest first and the scan stops when the page is full)."""
    if limit <= 0:
        return []
    sql = db.Sql()
    _, rows = await db.connection().execute_query(
        oppslag_av_person_sql(sql, personidentifikator, limit, before), sql.verdier
    )
    return [
        OppslagAvPerson(
            oppslag_id=int(row[0]),
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
    """The statement of `oppslag_av_person`, newest first from the cursor `before`: the filed
    rows (one index range) and the requests not filed yet (the queue, seconds long), in one
    statement so that a request being filed meanwhile is seen once, in one or the other."""
    pid = sql(personidentifikator)
    filed, queued = f"p.personidentifikator = {pid}", _i_ko(sql, pid)
    if before is not None:
        # Row-value comparison: (tidspunkt, oppslag_id) strictly older than the cursor; the
        # plain bound beside it lets PostgreSQL skip the months after the cursor's.
        naar = sql.tid(before[0])
        eldre = f" < ({naar}, {sql(before[1])})"
        filed += f" AND (p.tidspunkt, p.oppslag_id){eldre} AND p.tidspunkt <= {naar}"
        queued += f" AND (u.tidspunkt, u.oppslag_id){eldre}"
    kategori = (f"u.kategorier[array_position(u.personer, {pid}::varchar)]" if sql.postgres
                else "json_extract(u.kategorier, '$[' || j.key || ']')")
    n = sql(limit)
    # The page is chosen from the person's rows first, and only its rows look up their request:
    # on PostgreSQL one probe each into the request's own month (LATERAL; OFFSET 0 keeps the
    # planner from turning it into a join over every month's requests).
    oppslag = ("CROSS JOIN LATERAL (SELECT consumer, supplier FROM oppslag o"
               " WHERE o.id = x.oppslag_id AND o.tidspunkt = x.tidspunkt OFFSET 0) AS o"
               if sql.postgres else "JOIN oppslag o ON o.id = x.oppslag_id")
    return (
        "SELECT x.oppslag_id, x.tidspunkt, o.consumer, o.supplier, x.kategorier FROM ("
        " SELECT * FROM (SELECT p.oppslag_id, p.tidspunkt, p.kategorier FROM oppslag_person p"
        f" WHERE {filed} ORDER BY p.tidspunkt DESC, p.oppslag_id DESC LIMIT {n}) AS arkiv"
        f" UNION ALL SELECT u.oppslag_id, u.tidspunkt, {kategori} AS kategorier"
        f" FROM {_KO[sql.postgres]} WHERE {queued}"
        f") AS x {oppslag} ORDER BY x.tidspunkt DESC, x.oppslag_id DESC LIMIT {n}"
    )


# The queue's rows naming a person: an array's containment on PostgreSQL, JSON's on SQLite.
_KO = {True: "oppslag_ufordelt u", False: "oppslag_ufordelt u, json_each(u.personer) AS j"}


def _i_ko(sql: db.Sql, pid: str) -> str:
    return f"u.personer @> ARRAY[{pid}::varchar]" if sql.postgres else f"j.value = {pid}"


async def oppslag_av_person_fra(
    personidentifikator: str, cursor: tuple[dt.datetime, int]
) -> bool:
    """Whether the person has a lookup at or after the cursor (the page before a page that
    starts after it: `hasPreviousPage`). One indexed probe, and one of the queue."""
    sql = db.Sql()
    pid = sql(personidentifikator)
    naar = sql.tid(cursor[0])
    fra = f" >= ({naar}, {sql(cursor[1])})"
    _, rows = await db.connection().execute_query(
        f"SELECT 1 WHERE EXISTS (SELECT 1 FROM oppslag_person WHERE personidentifikator = {pid}"
        f" AND (tidspunkt, oppslag_id){fra} AND tidspunkt >= {naar})"
        f" OR EXISTS (SELECT 1 FROM {_KO[sql.postgres]} WHERE {_i_ko(sql, pid)}"
        f" AND (u.tidspunkt, u.oppslag_id){fra})",
        sql.verdier,
    )
    return bool(rows)


def _tid(value: Any) -> dt.datetime:
    moment = db.tid(value)
    assert moment is not None  # the column is NOT NULL
    return moment


# --- retention -------------------------------------------------------------------------------

SLETTEBATCH = 10_000  # rows per delete: each batch its own short transaction


async def prune(*, older_than: dt.datetime, now: dt.datetime | None = None) -> tuple[int, int]:
    """Delete the requests before `older_than` and their person rows; returns (requests,
    person rows) deleted. Lookups go on meanwhile: nothing here holds a lock they wait for.

    PostgreSQL: every month wholly before `older_than` is detached concurrently and dropped (its
    counts read from the request rows first: `antall` is the person rows of a request); in the
    month that holds `older_than`, the older rows are deleted in batches. Then the months ahead
    are made. SQLite: batches of requests and their person rows, each in a transaction.
    An interrupted run leaves only whole batches or whole months gone; the next run finishes.
    """
    if db.dialect() == "postgres":
        fjernet = await _prune_postgres(older_than)
        await lag_maaneder_framover(now or dt.datetime.now(dt.UTC))
        return fjernet
    return await _prune_sqlite(older_than)


async def lag_maaneder_framover(now: dt.datetime) -> None:
    """Make the audit log's partitions from this month to MAANEDER_FRAMOVER months ahead
    (PostgreSQL; SQLite has one table). Run at startup and by prune-audit."""
    if db.dialect() == "postgres":
        framover = now + dt.timedelta(days=31 * partisjoner.MAANEDER_FRAMOVER)
        await partisjoner.sikre(now, framover)


async def _prune_postgres(older_than: dt.datetime) -> tuple[int, int]:
    conn = db.connection()
    oppslag = 0
    grensemaaned = partisjoner.maaned(older_than)
    # Requests not filed yet go first (a filer filing one meanwhile is waited for, and its
    # rows then go with their month below). Their persons are counted here only in the
    # cutoff's month: a month dropped whole counts its persons from its requests' antall.
    sql = db.Sql.paa(conn)
    cutoff, maanedstart = sql.tid(older_than), sql.tid(partisjoner.grense(grensemaaned))
    _, [(personer,)] = await conn.execute_query(
        f"WITH d AS (DELETE FROM oppslag_ufordelt WHERE tidspunkt < {cutoff}"
        " RETURNING tidspunkt, cardinality(personer) AS n)"
        f" SELECT coalesce(sum(n) FILTER (WHERE tidspunkt >= {maanedstart}), 0) FROM d",
        sql.verdier,
    )
    personer = int(personer)
    for partisjon in await partisjoner.eksisterende(conn):
        if partisjon.tabell != "oppslag" or partisjon.maaned > grensemaaned:
            continue
        m = partisjon.maaned
        if m < grensemaaned:  # the whole month is older: count it, then drop it
            _, [(antall, summert)] = await conn.execute_query(
                f"SELECT count(*), coalesce(sum(antall), 0) FROM {partisjon.navn}"
            )
            for tabell in ("oppslag_person", "oppslag"):
                await partisjoner.fjern(conn, tabell, m)
            oppslag, personer = oppslag + int(antall), personer + int(summert)
        else:
            for tabell in ("oppslag_person", "oppslag"):
                slettet = await _slett_i_batcher(
                    conn, partisjoner.navn(tabell, m), older_than
                )
                if tabell == "oppslag":
                    oppslag += slettet
                else:
                    personer += slettet
    return oppslag, personer


async def _slett_i_batcher(conn: BaseDBAsyncClient, tabell: str, older_than: dt.datetime) -> int:
    """Delete the rows of one partition before `older_than`, SLETTEBATCH at a time."""
    totalt = 0
    while True:
        sql = db.Sql.paa(conn)
        cutoff = sql.tid(older_than)
        slettet, _ = await conn.execute_query(
            f"DELETE FROM {tabell} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {tabell}"
            f" WHERE tidspunkt < {cutoff} LIMIT {SLETTEBATCH}))",
            sql.verdier,
        )
        totalt += int(slettet)
        if slettet < SLETTEBATCH:
            return totalt


async def _prune_sqlite(older_than: dt.datetime) -> tuple[int, int]:
    oppslag = personer = 0
    while True:
        async with in_transaction() as conn:
            sql = db.Sql.paa(conn)
            _, rader = await conn.execute_query(
                f"SELECT id FROM oppslag WHERE tidspunkt < {sql.tid(older_than)}"
                f" ORDER BY id LIMIT {SLETTEBATCH // 100}",
                sql.verdier,
            )
            if not rader:
                return oppslag, personer
            ider = db.Sql.paa(conn)
            liste = ider.inn("oppslag_id", [r[0] for r in rader])
            slettet, _ = await conn.execute_query(
                f"DELETE FROM oppslag_person WHERE {liste}", ider.verdier
            )
            _, [(ufordelt,)] = await conn.execute_query(
                "SELECT coalesce(sum(json_array_length(personer)), 0) FROM oppslag_ufordelt"
                f" WHERE {liste}", ider.verdier
            )
            await conn.execute_query(f"DELETE FROM oppslag_ufordelt WHERE {liste}", ider.verdier)
            slettet += int(ufordelt)
            ider = db.Sql.paa(conn)
            liste = ider.inn("id", [r[0] for r in rader])
            fjernet, _ = await conn.execute_query(
                f"DELETE FROM oppslag WHERE {liste}", ider.verdier
            )
        oppslag, personer = oppslag + fjernet, personer + slettet
