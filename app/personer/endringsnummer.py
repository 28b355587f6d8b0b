"""Change numbers for the change feed, and the one way into a transaction that writes persons.

Every change to an entry takes the next number from the single row of `endringsteller`,
inside the writer's transaction. The row stays locked until that transaction ends, so numbers
are committed in the order they are taken: a reader paging the feed by number never passes a
change that commits later with a smaller number.

The lock order of writers: every transaction that writes the person table opens with
`skrivetransaksjon`, which locks the counter row before anything else. Person rows are locked
only by holders of that lock, so their order no longer matters and writers cannot deadlock;
and a writer reads the holders of an address after every earlier writer has committed, so none
is missed when their duplicate flags change (app.personer.register).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction


@asynccontextmanager
async def skrivetransaksjon() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction for writing persons, the counter row locked first (no number taken).

    On PostgreSQL a SELECT ... FOR UPDATE: writers of persons run one at a time from here to
    their commit, readers are not held. SQLite needs no lock: a transaction holds the only
    connection, so its writers run one at a time anyway.
    """
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_query("SELECT siste FROM endringsteller WHERE id = 1 FOR UPDATE")
        yield conn


async def neste_endrings_id(conn: BaseDBAsyncClient) -> int:
    """Take the next change number. `conn` must be the writer's transaction
    (skrivetransaksjon)."""
    return await ta_endrings_ider(conn, 1)


async def ta_endrings_ider(conn: BaseDBAsyncClient, antall: int) -> int:
    """Take `antall` consecutive change numbers in one statement; the first of them.

    execute_query_dict, not execute_query: tortoise's asyncpg client runs a statement starting
    with UPDATE without fetching, so RETURNING would hand back no row on PostgreSQL.
    """
    rows = await conn.execute_query_dict(
        f"UPDATE endringsteller SET siste = siste + {int(antall)} WHERE id = 1 RETURNING siste"
    )
    return int(rows[0]["siste"]) - antall + 1


async def siste_endrings_id(conn: BaseDBAsyncClient) -> int:
    """The last number handed out (committed or not; readers see it only once committed)."""
    _, rows = await conn.execute_query("SELECT siste FROM endringsteller WHERE id = 1")
    return int(rows[0][0])
