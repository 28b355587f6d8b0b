"""Shared fixtures: one migrated database per run (SQLite by default, PostgreSQL when
KRR_TEST_DATABASE_URL points at one), emptied before each test that asks for `db`."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from tortoise import Tortoise

from app import db as database
from app import logs
from app.config import Settings
from app.edge.app import create_app
from authz.dev_issuer import DevIssuer

POSTGRES_PREFIXES = ("postgres://", "postgresql://")
# Reference data that the migrations write (schemes, organisation names): kept between tests.
REFERENCE_TABLES = frozenset({"delegeringsordning", "organisasjon", "endringsteller"})
# Tables with no model, written with SQL only (the audit log's person rows and its queue).
SQL_TABLES = ("oppslag_person", "oppslag_ufordelt")


def _test_database_url(tmp: Path) -> str:
    return os.environ.get("KRR_TEST_DATABASE_URL") or f"sqlite://{tmp / 'krr-test.sqlite3'}"


async def _reset_postgres(url: str) -> None:
    """Start from an empty schema so the migrations under test run from scratch."""

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(var_dir: Path) -> Settings:
    return Settings(env="test", database_url=_test_database_url(var_dir), var_dir=var_dir)


@pytest.fixture(scope="session")
async def migrated(settings: Settings) -> AsyncIterator[Settings]:
    if settings.database_url.startswith(POSTGRES_PREFIXES):
        await _reset_postgres(settings.database_url)
    await database.migrate(settings)
    await database.connect(settings)
    yield settings
    await database.disconnect()


@pytest.fixture
async def db(migrated: Settings) -> Settings:
    """An empty, migrated register (reference data from the migrations kept)."""
    conn = database.connection()
    for table in SQL_TABLES:
        await conn.execute_script(f'DELETE FROM "{table}"')
    for table in _tables_referrers_first():
        if table not in REFERENCE_TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')
    return migrated


def _tables_referrers_first() -> list[str]:
    """Table names ordered so that no row is deleted before the rows that refer to it."""
    models = list(Tortoise.apps[database.APP_LABEL].values())
    ordered: list[str] = []
    pending = {m._meta.db_table: m for m in models}
    while pending:
        for table, model in list(pending.items()):
            referrers = {
                other._meta.db_table
                for other in models
                for fk in other._meta.fk_fields
                if other._meta.fields_map[fk].related_model is model and other is not model
            }
            if not referrers & pending.keys():
                ordered.append(table)
                del pending[table]
    return ordered


# --- the service over HTTP -------------------------------------------------------------------

CONSUMER = "974760673"  # a valid organisation number (a public body)
FIXED_NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def dev_issuer(var_dir: Path) -> DevIssuer:
    return DevIssuer.load_or_create(var_dir)


@pytest.fixture
def mint(dev_issuer: DevIssuer):
    """mint("scope1 scope2", consumer=..., supplier=...) -> bearer token from the dev issuer."""

    def _mint(scope: str = "", **kwargs: object) -> str:
        kwargs.setdefault("consumer", CONSUMER)
        return dev_issuer.mint(scope=scope, **kwargs)  # type: ignore[arg-type]

    return _mint


@pytest.fixture
async def client(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, on the test database, with the clock pinned at FIXED_NOW."""
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as c:
        yield c


# --- the krr command ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An isolated register (its own SQLite file and dev key) for the command under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {
        "KRR_ENV": "dev",
        "KRR_VAR_DIR": str(tmp_path / "var"),
        "KRR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "PYTHONPATH": str(ROOT),
    }
    return env


# --- spies ------------------------------------------------------------------------------------


def spy_calls(monkeypatch: pytest.MonkeyPatch, targets: Iterable[tuple[Any, str]]) -> list[str]:
    """Each call of these functions, by name, in order (they still run): to show a refused
    request reads or creates nobody."""
    called: list[str] = []
    for module, name in targets:
        real = getattr(module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            called.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return called


# --- logs ------------------------------------------------------------------------------------


@contextmanager
def root_log(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """The root logger's output through `formatter`, with the redacting filter on the handler,
    as `krr serve` writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(logs.RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """JSON lines, as in test and prod."""
    with root_log(logs.JsonFormatter()) as stream:
        yield stream


def lines(stream: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]
