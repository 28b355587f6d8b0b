"""Database connection and migrations, one place for the tortoise configuration."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import Context, ContextVar
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

from app.config import Settings

APP_LABEL = "models"
MODEL_MODULES = [
    "app.personer.models", "app.delegering.models", "app.revisjon.models", "app.meldinger.models",
    "app.signing.models", "app.tilgangsstyrere.models", "app.innlogging.models",
    "app.printsertifikat.models", "app.returadresser.models",
]


# Bounded waits on PostgreSQL, so a database that is down or unreachable is a quick 503
# (app.faults) rather than a hang: connect, each statement, and idle pooled connections (which
# a database restart leaves dead). Query parameters in KRR_DATABASE_URL override them.
POSTGRES_TIMEOUTS: dict[str, float] = {
    "timeout": 2,  # asyncpg connect timeout, seconds
    "command_timeout": 30,
    "max_inactive_connection_lifetime": 60,
}


# The connections a piece of work (a request) has taken from the pool, so that they can be
# discarded when it is abandoned: see `track` and `discard`.
_held: ContextVar[list[Any] | None] = ContextVar("krr_held_connections", default=None)


async def _note_acquired(connection: Any) -> None:
    """asyncpg's pool `setup` hook: it runs in the acquiring task, on every acquire, so each
    connection lands in the list of the work that took it (tasks copy their context)."""
    held = _held.get()
    if held is not None:
        held.append(connection)


def track(context: Context) -> list[Any]:
    """A new list, filled with the pooled connections that work running in `context` (and the
    tasks it creates) acquires from now on."""
    held: list[Any] = []
    context.run(_held.set, held)
    return held


def discard(held: list[Any]) -> int:
    """Terminates every connection in `held` its work still holds, and says how many.

    On a socket that no longer answers, anything gentler hangs: cancelling the statement sends
    a CancelRequest over a new connection and the pool waits for it (up to command_timeout)
    before it takes the connection back, and a graceful close waits for the server's goodbye.
    terminate() closes the socket at once and hands the pool an empty slot, so the next request
    connects afresh; the server rolls back whatever transaction the connection had open. A
    connection already released is back in the pool, maybe someone else's by now: asyncpg's
    proxy refuses to touch it (InterfaceError), and it is left alone."""
    terminated = 0
    for connection in held:
        try:
            connection.terminate()
        except asyncpg.InterfaceError:
            continue
        terminated += 1
    return terminated


async def _reset(connection: Any) -> None:
    """asyncpg's pool `reset` hook, run on every release after the pool's own reset (which
    rolls back an open transaction and drops listeners). Its default also sends a statement
    (`RESET ALL`, `CLOSE ALL`, `UNLISTEN *`, advisory locks released): a round trip after each
    of ours, before the work that ran it may go on. The service keeps no session state (no
    SET, LISTEN, advisory locks or cursors outside a transaction), so there is nothing to send."""


def _connection(url: str) -> str | dict[str, Any]:
    if not url.startswith(("postgres://", "postgresql://")):
        return url
    config = expand_db_url(url)
    for name, value in POSTGRES_TIMEOUTS.items():
        config["credentials"].setdefault(name, value)
    config["credentials"]["setup"] = _note_acquired
    config["credentials"]["reset"] = _reset
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(settings.database_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "app.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite://"):
        path = settings.database_url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def migrate(settings: Settings) -> None:
    """Apply pending schema migrations (never generate_schemas: production upgrades in place)."""
    _ensure_sqlite_dir(settings)
    await tortoise_migrate(config=tortoise_config(settings))
    await Tortoise.close_connections()


async def connect(settings: Settings) -> None:
    """Initialise the process-wide ORM state. The global fallback is what lets request tasks
    (which uvicorn runs outside the lifespan task's context) see the connection."""
    _ensure_sqlite_dir(settings)
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def disconnect() -> None:
    await Tortoise.close_connections()


def connection() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


def dialect() -> str:
    """'postgres' or 'sqlite': the raw hot-path queries differ only in placeholders."""
    return connection().capabilities.dialect


@asynccontextmanager
async def lifespan_db(settings: Settings) -> AsyncIterator[None]:
    await connect(settings)
    try:
        yield
    finally:
        await disconnect()


class Sql:
    """The one helper for raw SQL in either dialect: numbered placeholders ($n on PostgreSQL,
    ?n on SQLite, so a value can be used twice), collected in `verdier` in order, and values
    as each driver takes them. Every raw statement is built with it.

    Moments are stored as tortoise writes an aware DatetimeField: timestamptz on PostgreSQL,
    UTC text ("2026-01-02 03:04:05.123456+00:00") on SQLite, so that text order is time order;
    days as dates, or ISO text on SQLite."""

    def __init__(self, dialekt: str | None = None) -> None:
        """`dialekt`: 'postgres' or 'sqlite'; the default connection's when not given."""
        self.postgres = (dialekt or dialect()) == "postgres"
        self.verdier: list[Any] = []

    @classmethod
    def paa(cls, conn: BaseDBAsyncClient) -> Sql:
        """For a statement run on `conn` (a transaction's connection, say)."""
        return cls(conn.capabilities.dialect)

    def __call__(self, verdi: Any) -> str:
        self.verdier.append(verdi)
        return f"${len(self.verdier)}" if self.postgres else f"?{len(self.verdier)}"

    def tid(self, moment: dt.datetime) -> str:
        """A moment as the column holds it (aware; SQLite compares the ORM's UTC text)."""
        return self(self.tidsverdi(moment))

    def tidsverdi(self, moment: dt.datetime) -> dt.datetime | str:
        """The value `tid` passes, for a driver's bulk calls (executemany, COPY)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("moments written to the database must be timezone-aware")
        moment = moment.astimezone(dt.UTC)
        return moment if self.postgres else moment.isoformat(" ")

    def dato(self, dag: dt.date) -> str:
        """A day as a DateField holds it."""
        return self(dag if self.postgres else dag.isoformat())

    def inn(self, kolonne: str, verdier: Sequence[str]) -> str:
        """`kolonne` is one of `verdier`: one array parameter on PostgreSQL, a list on SQLite."""
        if self.postgres:
            return f"{kolonne} = ANY({self(list(verdier))}::varchar[])"
        return f"{kolonne} IN ({', '.join(self(v) for v in verdier)})"


def tid(value: Any) -> dt.datetime | None:
    """A moment as read: PostgreSQL hands back datetimes, SQLite ISO text; both become aware
    datetimes (UTC where the text has no offset)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return tid_fra_tekst(value)


def tid_fra_tekst(value: str) -> dt.datetime:
    """`tid` of SQLite's text, for a reader that knows it holds text (the batch fetch reads
    ten moments a person)."""
    parsed = _fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


_fromisoformat = dt.datetime.fromisoformat


def dato(value: Any) -> dt.date:
    """A day as read (a date on PostgreSQL, ISO text on SQLite)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
