"""A `krr` command's database work, stopped when the database stops answering.

A request has a deadline (KRR_REQUEST_TIMEOUT, app.edge.deadline). A command's work may rightly
take far longer (a migration building an index, a seed of millions, an import of a million
names, a prune of a large month), so it gets no deadline for its length. It gets one for the
database's silence instead: while it runs, the database is asked every KRR_REQUEST_TIMEOUT
seconds, on a fresh connection of the watchdog's own, to answer `SELECT 1` within
KRR_REQUEST_TIMEOUT. When it does not (packets dropped: a lost network, a hung server, which
raise nothing and would hold the command for minutes), the work's connections are terminated,
the work abandoned, and `DatabaseSilent` raised; likewise when it cannot be reached at all
(refused, unreachable). A database that answers with an error of its own (too many
connections) is answering, and the work goes on. The probe
runs in a thread with a loop of its own, so that work that keeps this loop busy for a while
(parsing, generating) is never taken for a silent database. SQLite, a file, is not watched.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from app import db
from app.faults import unavailable

log = logging.getLogger("krr.watchdog")

T = TypeVar("T")
GRACE = 1.0  # seconds the abandoned work gets to unwind
_CONNECT = ("host", "port", "user", "password", "database", "ssl")


class DatabaseSilent(TimeoutError):
    """The database left the watchdog unanswered for `seconds`: the work was abandoned."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the database stopped answering (no answer within {seconds:g} s, "
                         "KRR_REQUEST_TIMEOUT)")
        self.seconds = seconds


async def watched(database_url: str, seconds: float, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result; DatabaseSilent once the database at `database_url` leaves a probe
    unanswered for `seconds`."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        return await work
    credentials = expand_db_url(database_url)["credentials"]
    connect = {k: credentials[k] for k in _CONNECT if k in credentials}
    context = contextvars.copy_context()
    held = db.track(context)
    task = asyncio.get_running_loop().create_task(work, context=context)
    try:
        while True:
            await asyncio.wait((task,), timeout=seconds)
            if task.done():
                return task.result()
            if not await asyncio.to_thread(_answers, connect, seconds):
                break
    except asyncio.CancelledError:
        task.cancel()
        raise
    discarded = db.discard(held)
    task.add_done_callback(_unwound)
    task.cancel()
    await asyncio.wait((task,), timeout=GRACE)
    log.info("the database did not answer within %gs: work abandoned, %d connection(s) "
             "discarded", seconds, discarded)
    raise DatabaseSilent(seconds)


def _unwound(task: asyncio.Task[Any]) -> None:
    """The abandoned work's own end taken: its connections were terminated under it, so it
    may end with their error (a rollback on a closed connection) rather than the cancellation,
    which is no news and must not be printed as a task's unretrieved exception."""
    if not task.cancelled():
        task.exception()


def _answers(connect: dict[str, Any], seconds: float) -> bool:
    """Does the database answer `SELECT 1` on a new connection within `seconds`? (In a
    thread, on a loop of its own.)"""
    return asyncio.run(_probe(connect, seconds))


async def _probe(connect: dict[str, Any], seconds: float) -> bool:
    connection: asyncpg.Connection[Any] | None = None
    try:
        async with asyncio.timeout(seconds):
            connection = await asyncpg.connect(**connect, timeout=seconds)
            await connection.fetchval("SELECT 1")
            await connection.close()
    except TimeoutError:
        return False
    except Exception as exc:  # unreachable; or it answered with an error (full): not silent
        return not unavailable(exc)
    finally:
        if connection is not None and not connection.is_closed():
            connection.terminate()
    return True
