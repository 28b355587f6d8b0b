"""Change numbers for the change feed: every change to an entry takes the next one.

The number comes from the single row of `endringsteller`, updated inside the writer's
transaction. The row stays locked until that transaction ends, so numbers are committed in the
order they are taken: a reader paging the feed by number never passes a change that commits
later with a smaller number.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient


async def neste_endrings_id(conn: BaseDBAsyncClient) -> int:
    """Take the next change number. `conn` must be the writer's transaction (in_transaction)."""
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
