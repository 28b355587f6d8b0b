"""Filing the audit log's persons into the per-person index, after the answer has left.

A lookup's record is durable before anything is disclosed: its request row in `oppslag` and
one row in `oppslag_ufordelt` holding the persons and their categories as arrays, written in
one statement (app.revisjon.store.skriv_oppslag). What it does not do on the lookup's path is
put a thousand rows into "who looked me up"'s index: at national scale that index is far
larger than memory and each row lands on a page of its own (measured: ~1000 pages read and
~800 full-page images in the WAL per 1000-person record). The filer does that afterwards, a
batch of requests per transaction (their rows inserted in key order, the queue rows deleted in
the same transaction, so a person is always in exactly one of the two tables), and the readers
read both (store.oppslag_av_person).

Every served worker runs a filer (`fordeler`), woken by its own writes and every
INTERVALL seconds for what another worker, or one that stopped, left. Woken by a write, it
waits SAMLE seconds first: the record is written while the answer is built, and filing at once
would put the index writes beside the answer of the very request that woke it (measured on two
cores: 7-11 ms on a 1000-person lookup); the pause lets the answer leave and gathers that
moment's requests into one batch. PostgreSQL: batches are
claimed FOR UPDATE SKIP LOCKED, so filers never file a request twice or wait for each other.
SQLite: the transaction's first statement takes the database's write lock, so the batch it
chooses is the batch it deletes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app import db
from app.errors import Unavailable
from app.faults import unavailable
from app.revisjon import partisjoner

log = logging.getLogger(__name__)

BATCH = 16  # requests filed per transaction (up to 16,000 person rows)
INTERVALL = 1.0  # seconds between looks for what no write of this worker woke the filer for
SAMLE = 0.05  # seconds a filer woken by a write waits before filing (the module's docstring)
VENT_VED_FEIL = 2.0  # seconds to wait after the database failed before the next look

_vekkere: set[asyncio.Event] = set()


def varsle() -> None:
    """A request was recorded: wake this process's filer, if it runs one."""
    for vekker in _vekkere:
        vekker.set()


def sql_for_ko(sql: db.Sql, oppslag_id: str, naar: str,
               personer: Sequence[tuple[str, int]]) -> str:
    """The INSERT of a request's queue row: its persons and their category bits as arrays
    (SQLite: JSON arrays), `oppslag_id` and `naar` being expressions of the statement."""
    if sql.postgres:
        pids = sql([pid for pid, _ in personer])
        bits = sql([k for _, k in personer])
        verdier = f"{pids}::varchar[], {bits}::smallint[]"
    else:
        pids = sql(orjson.dumps([pid for pid, _ in personer]).decode())
        bits = sql(orjson.dumps([k for _, k in personer]).decode())
        verdier = f"{pids}, {bits}"
    return (
        "INSERT INTO oppslag_ufordelt (oppslag_id, tidspunkt, personer, kategorier)"
        f" VALUES ({oppslag_id}, {naar}, {verdier})"
    )


async def fordel(batch: int = BATCH) -> int:
    """File up to `batch` requests of the queue, oldest first, in one transaction; returns how
    many were filed (0: nothing this filer could take; on PostgreSQL another filer may hold
    the rest)."""
    if db.dialect() == "postgres":
        return await _fordel_postgres(batch)
    return await _fordel_sqlite(batch)


_PG_FORDEL = (
    "WITH u AS (DELETE FROM oppslag_ufordelt WHERE oppslag_id IN ("
    " SELECT oppslag_id FROM oppslag_ufordelt ORDER BY oppslag_id LIMIT {batch}"
    " FOR UPDATE SKIP LOCKED) RETURNING oppslag_id, tidspunkt, personer, kategorier),"
    " p AS (INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)"
    " SELECT u.oppslag_id, p.pid, u.tidspunkt, p.k"
    " FROM u, unnest(u.personer, u.kategorier) AS p(pid, k)"
    " ORDER BY p.pid, u.tidspunkt, u.oppslag_id)"
    " SELECT count(*), min(tidspunkt), max(tidspunkt) FROM u"
)


async def _fordel_postgres(batch: int) -> int:
    statement = _PG_FORDEL.format(batch=int(batch))
    try:
        _, [(antall, _, _)] = await db.connection().execute_query(statement)
    except Exception as exc:
        if not partisjoner.er_manglende_partisjon(exc):
            raise
        # A request of a month whose partition is gone or never made (the write made it, so
        # only a month dropped since): make the months of what waits, and file once more.
        _, [(fra, til)] = await db.connection().execute_query(
            "SELECT min(tidspunkt), max(tidspunkt) FROM oppslag_ufordelt"
        )
        if fra is not None:
            await partisjoner.sikre(fra, til)
        _, [(antall, _, _)] = await db.connection().execute_query(statement)
    return int(antall)


async def _fordel_sqlite(batch: int) -> int:
    valgt = (
        "SELECT oppslag_id FROM oppslag_ufordelt ORDER BY oppslag_id LIMIT ?1"
    )
    async with in_transaction() as conn:
        # The INSERT first: it takes the write lock, so no one changes the queue before the
        # DELETE below chooses the same requests.
        await conn.execute_query(
            "INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)"
            " SELECT u.oppslag_id, p.value, u.tidspunkt,"
            " json_extract(u.kategorier, '$[' || p.key || ']')"
            f" FROM oppslag_ufordelt u, json_each(u.personer) AS p WHERE u.oppslag_id IN ({valgt})"
            " ORDER BY p.value, u.tidspunkt, u.oppslag_id",
            [batch],
        )
        antall, _ = await conn.execute_query(
            f"DELETE FROM oppslag_ufordelt WHERE oppslag_id IN ({valgt})", [batch]
        )
    return int(antall)


async def ufordelte(conn: BaseDBAsyncClient | None = None) -> int:
    """Requests recorded and not filed yet (the queue's length: a metric, and for tests)."""
    _, [(antall,)] = await (conn or db.connection()).execute_query(
        "SELECT count(*) FROM oppslag_ufordelt"
    )
    return int(antall)


async def fordel_alt(*, tidsfrist: float = 30.0) -> None:
    """File everything recorded before this call, waiting for other filers' batches in hand
    (their rows are locked, not gone). For `krr` commands and tests that read person rows."""
    frist = asyncio.get_running_loop().time() + tidsfrist
    while True:
        if await fordel() == 0:
            if await ufordelte() == 0:
                return
            if asyncio.get_running_loop().time() > frist:
                raise TimeoutError("the audit log's queue was not filed in time")
            await asyncio.sleep(0.01)  # another filer holds a batch: it commits or rolls back


Frist = Callable[[Awaitable[int]], Awaitable[int]]


async def _uten_frist(arbeid: Awaitable[int]) -> int:
    return await arbeid


async def kjoer_fordeler(vekker: asyncio.Event, stopp: asyncio.Event,
                         intervall: float = INTERVALL,
                         fordelt: Callable[[int], None] = lambda _: None,
                         frist: Frist = _uten_frist, samle: float = SAMLE) -> None:
    """The filer's loop: file while there are full batches, then wait for a write (and then
    `samle` seconds more), the interval or the stop; `fordelt` is told how many requests each
    batch filed. `frist` runs each batch: the served app gives it a request's deadline, so a
    database that stops answering costs the filer its connection, not its life
    (app.edge.deadline)."""
    while not stopp.is_set():
        try:
            while True:
                antall = await frist(fordel())
                fordelt(antall)
                if antall < BATCH or stopp.is_set():
                    break
        except Exception as exc:
            if not (unavailable(exc) or isinstance(exc, Unavailable)):
                log.exception("the audit log's filer failed; it tries again")
            else:
                log.warning("the audit log's filer cannot reach the database (%s)",
                            type(exc).__name__)
            await _vent(stopp, VENT_VED_FEIL)
            continue
        vekker.clear()
        stopper = asyncio.ensure_future(stopp.wait())
        vekket = asyncio.ensure_future(vekker.wait())
        try:
            await asyncio.wait({stopper, vekket}, timeout=intervall,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            vekket.cancel()
        if vekker.is_set() and samle > 0:
            await _vent(stopp, samle)


async def _vent(stopp: asyncio.Event, sekunder: float) -> None:
    try:
        await asyncio.wait_for(stopp.wait(), timeout=sekunder)
    except TimeoutError:
        pass


STOP_GRACE = 10.0  # seconds a shutdown waits for the batch in hand


@asynccontextmanager
async def fordeler(intervall: float = INTERVALL,
                   fordelt: Callable[[int], None] = lambda _: None,
                   frist: Frist = _uten_frist, samle: float = SAMLE) -> AsyncIterator[None]:
    """This process's filer for the app's lifetime: on exit it finishes the batch in hand (up
    to STOP_GRACE seconds, then cancelled: the batch's transaction rolls back and the next
    filer takes it)."""
    vekker, stopp = asyncio.Event(), asyncio.Event()
    vekker.set()  # file what waits from before this start at once
    task = asyncio.create_task(kjoer_fordeler(vekker, stopp, intervall, fordelt, frist, samle),
                               name="krr-fordeler")
    _vekkere.add(vekker)
    try:
        yield
    finally:
        _vekkere.discard(vekker)
        stopp.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE)
        except TimeoutError:
            log.warning("the audit log's filer was cancelled at shutdown")
        except Exception:
            log.exception("the audit log's filer stopped with an error")
