"""The published keys in the database (app.signing.models): recorded once per key, read by the
JWKS endpoint. Several instances record the same key at once without harm (the insert does
nothing when the key is there), and nothing is ever deleted: a rotation adds a key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from app import db
from app.signing.keys import SigningKey


async def record(key: SigningKey, now: dt.datetime) -> None:
    """The key's public half, recorded unless it is already."""
    sql = db.Sql()
    await db.connection().execute_query(
        "INSERT INTO signing_key (kid, jwk, first_used) "
        f"VALUES ({sql(key.kid)}, {sql(orjson.dumps(key.public).decode())}, {sql.tid(now)}) "
        "ON CONFLICT (kid) DO NOTHING",
        sql.verdier,
    )


async def recorded() -> list[dict[str, Any]]:
    """Every recorded public JWK, oldest first."""
    _, rows = await db.connection().execute_query(
        "SELECT jwk FROM signing_key ORDER BY first_used, kid"
    )
    return [orjson.loads(row["jwk"]) for row in rows]
