"""The published keys in the database (app.signing.models): recorded once per key, with its
certificate chain (the JWK's `x5c`), read by the JWKS endpoint. Several instances record the
same key at once without harm, and nothing is ever deleted: a rotation adds a key, so an old
key stays published with its own certificates. A key recorded again with another chain (its
certificate renewed, or recorded before chains were) is published with the one the last
process to start with it has; answers signed before keep theirs in their own header."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from app import db
from app.signing.keys import SigningKey


async def record(key: SigningKey, now: dt.datetime) -> None:
    """The key's public half with its chain, recorded unless it is already as it is."""
    sql = db.Sql()
    await db.connection().execute_query(
        "INSERT INTO signing_key (kid, jwk, first_used) "
        f"VALUES ({sql(key.kid)}, {sql(orjson.dumps(key.public).decode())}, {sql.tid(now)}) "
        "ON CONFLICT (kid) DO UPDATE SET jwk = excluded.jwk WHERE signing_key.jwk <> excluded.jwk",
        sql.verdier,
    )


async def recorded() -> list[dict[str, Any]]:
    """Every recorded public JWK, oldest first."""
    _, rows = await db.connection().execute_query(
        "SELECT jwk FROM signing_key ORDER BY first_used, kid"
    )
    return [orjson.loads(row["jwk"]) for row in rows]
