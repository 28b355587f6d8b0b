"""Organisation names written in batches: one upsert statement a batch, in either dialect.

The table is the delegation registry's `organisasjon` (app.delegering.models.Organisasjon),
named here rather than imported: the features of one layer stand apart. Names are only
inserted or changed, never deleted: a unit missing from a file keeps the name it had.
"""

from __future__ import annotations

from collections.abc import Mapping

from tortoise.backends.base.client import BaseDBAsyncClient

from app import db

BATCH = 2000  # rows a statement: 4000 parameters, well inside both databases' limits


async def lagre(conn: BaseDBAsyncClient, navn: Mapping[str, str]) -> int:
    """Store `navn` (orgnr -> name, each orgnr once) on `conn` (the import's transaction), and
    say how many were new or changed."""
    if not navn:
        return 0
    sql = db.Sql.paa(conn)
    verdier = ", ".join(f"({sql(orgnr)}, {sql(n)})" for orgnr, n in navn.items())
    # RETURNING names only the rows written: an unchanged name is left alone (no new row
    # version on PostgreSQL), so a second run of the same file writes nothing. (Read as rows:
    # tortoise counts an INSERT's rows on PostgreSQL from the wrong word of its status.)
    rader = await conn.execute_query_dict(
        f"INSERT INTO organisasjon (orgnr, navn) VALUES {verdier} "
        "ON CONFLICT (orgnr) DO UPDATE SET navn = excluded.navn "
        "WHERE organisasjon.navn <> excluded.navn RETURNING orgnr",
        sql.verdier,
    )
    return len(rader)
