"""`krr serve --workers N` on PostgreSQL: migrations once, then several processes answer."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.servers import wait_until_up

ROOT = Path(__file__).resolve().parent.parent
KRR = [sys.executable, "-m", "app.cli"]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Its own database, named per run: two suites on one PostgreSQL (both backends, two checkouts)
# must not drop each other's.
DATABASE = f"krr_workers_{uuid.uuid4().hex[:12]}"
SCOPES = "krr:global/kontaktinformasjon.read krr:global/digitalpost.read"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database for this test, dropped afterwards. The PostgreSQL on 127.0.0.1:5432 is
    part of the test set-up: without it this fails, it never skips."""
    try:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        asyncio.run(_admin(f"CREATE DATABASE {DATABASE}"))
    except (OSError, ImportError) as exc:
        pytest.fail(f"no PostgreSQL on 127.0.0.1:5432 (workers run on PostgreSQL): {exc}")
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))


def _env(tmp_path: Path, database_url: str, env: str = "dev") -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return base | {
        "KRR_ENV": env,
        "KRR_VAR_DIR": str(tmp_path / "var"),
        "KRR_DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }


def _krr(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KRR, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=check
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_worker_counts_are_refused(tmp_path):
    sqlite = _env(tmp_path, f"sqlite:///{tmp_path / 'w.sqlite3'}")
    zero = _krr(sqlite, "serve", "--workers", "0", check=False)
    assert zero.returncode == 2 and "--workers" in zero.stderr
    prod = _krr(sqlite | {"KRR_ENV": "prod"}, "serve", "--workers", "2", check=False)
    assert prod.returncode == 2 and "PostgreSQL" in prod.stderr


def test_two_workers_on_postgres_answer_lookups(tmp_path, postgres_url):
    env = _env(tmp_path, postgres_url)
    _krr(env, "seed", "--persons", "200", "--seed", "7")
    token = _krr(env, "token", "--scope", SCOPES, "--consumer", "974760673").stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [*KRR, "serve", "--workers", "2", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        wait_until_up(url, server, 60, "krr serve --workers 2")
        query = """query { personer(personidentifikatorer: ["17912099997"]) {
            personidentifikator status kontaktinformasjon { epostadresse } } }"""

        async def lookups() -> list[httpx.Response]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(timeout=20) as client:
                return await asyncio.gather(
                    *(client.post(url, json={"query": query}, headers=headers) for _ in range(12))
                )

        for response in asyncio.run(lookups()):
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            assert body["data"]["personer"][0]["kontaktinformasjon"] == {
                "epostadresse": "kjell@test.no"
            }
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # uvicorn logs one "Started server process [pid]" per worker (text or JSON log lines)
    pids = set(re.findall(r"Started server process \[(\d+)\]", stderr))
    assert len(pids) == 2, stderr[-2000:]
