"""The floor, served: what a 1000-person lookup cannot do with less.

A minimal Starlette app with one endpoint, POST /graphql, taking the lookup's JSON body
(`{"variables": {"ids": [...]}}`; the query text is ignored), fetching the rows with one
statement (FLOOR_SQL: asyncpg with a pool, or sqlite3) and answering them encoded with orjson,
in the lookup's answer shape (`{"data": {"personer": [...]}}`). No token, no validation, no
audit. bench/load.py serves it with uvicorn and the same worker count as `krr serve`, and hits it
with the same clients and ids; bench/lookup.py times the same statement in process.

    KRR_DATABASE_URL=postgres://... .venv/bin/python -m uvicorn bench.floor_app:app --workers 2
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FLOOR_SQL = """SELECT p.*, l.sertifikat FROM person p
LEFT JOIN postkasseleverandoer l ON l.orgnr = p.postkasseleverandoeradresse
WHERE p.personidentifikator {where}"""
POSTGRES_FLOOR = FLOOR_SQL.format(where="= ANY($1::varchar[])")
POOL_SIZE = 5  # tortoise's asyncpg pool default, which `krr serve` runs with


def sqlite_floor(ids: list[str]) -> str:
    return FLOOR_SQL.format(where=f"IN ({','.join('?' * len(ids))})")


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgres://", "postgresql://", 1)


def encode(rows: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"data": {"personer": rows}})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["KRR_DATABASE_URL"]
    app.state.sqlite = app.state.pool = None
    if url.startswith("sqlite"):
        app.state.sqlite = sqlite3.connect(url.removeprefix("sqlite://"), check_same_thread=False)
        app.state.sqlite.row_factory = sqlite3.Row
    else:
        app.state.pool = await asyncpg.create_pool(
            asyncpg_dsn(url), min_size=1, max_size=POOL_SIZE)
    try:
        yield
    finally:
        if app.state.pool is not None:
            await app.state.pool.close()
        if app.state.sqlite is not None:
            app.state.sqlite.close()


async def personer(request: Request) -> Response:
    ids = orjson.loads(await request.body())["variables"]["ids"]
    state = request.app.state
    if state.pool is not None:
        rows = [dict(r) for r in await state.pool.fetch(POSTGRES_FLOOR, ids)]
    else:
        rows = [dict(r) for r in state.sqlite.execute(sqlite_floor(ids), ids)]
    return Response(encode(rows), media_type="application/json")


app = Starlette(routes=[Route("/graphql", personer, methods=["POST"])], lifespan=lifespan)
