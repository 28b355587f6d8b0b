"""Faults: the database going away is a quick 503 and the service recovers by itself; a write
that fails half-way leaves nothing behind.

The outage test brings its own PostgreSQL (a throwaway cluster in a temporary folder), so it
runs in both suite runs; it fails, never skips, when the cluster cannot be made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import db as database
from app.innbyggere import store as residents
from app.personer import endringsnummer as changes
from app.personer.models import Person
from authz.scopes import DIGITALPOST_READ, KONTAKTINFORMASJON_READ
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person
from tests.servers import free_port, wait_until_up

PG_BIN = Path(os.environ.get("KRR_PG_BIN", "/usr/lib/postgresql/15/bin"))
BOTH = f"{KONTAKTINFORMASJON_READ} {DIGITALPOST_READ}"


class Cluster:
    """A PostgreSQL cluster in a temporary folder, started and stopped on demand. As root the
    server runs as the `postgres` OS user (it refuses to run as root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(folder, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="krr-pg-"))
    made = Cluster(folder)
    made.init()  # raises (the test fails) when no cluster can be made here
    made.start()
    try:
        yield made
    finally:
        try:
            made.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(cluster: Cluster, var_dir: Path) -> Iterator[str]:
    """`krr serve` (migrations, then uvicorn) in its own process on the throwaway cluster: its
    ORM state is its own, and tokens from the conftest's dev issuer are trusted (same var dir)."""
    port = free_port()
    env = {**os.environ, "KRR_ENV": "test", "KRR_VAR_DIR": str(var_dir),
           "KRR_DATABASE_URL": cluster.url}
    krr = Path(sys.executable).parent / "krr"
    process = subprocess.Popen(
        [str(krr), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/graphql", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lookup(base: str, token: str, pid: str) -> tuple[httpx.Response, float]:
    query = {"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'}
    start = time.monotonic()
    response = httpx.post(f"{base}/graphql", json=query, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    return response, time.monotonic() - start


def _rest(base: str, token: str, pid: str) -> httpx.Response:
    return httpx.post(f"{base}/rest/v2/personer", json={"personidentifikatorer": [pid]},
                      timeout=10, headers={"Authorization": f"Bearer {token}"})


def _code(response: httpx.Response) -> str | None:
    return response.json()["errors"][0]["extensions"]["code"]


def test_database_outage_is_a_quick_503_and_recovers(cluster: Cluster, server: str, mint) -> None:
    token, pid = mint(BOTH), new_id(1)
    up, _ = _lookup(server, token, pid)
    assert up.status_code == 200, up.text
    assert up.json()["data"]["personer"][0]["status"]
    assert _rest(server, token, pid).status_code == 200

    cluster.stop()
    for _ in range(3):  # the pooled connection the stop killed, then fresh connects refused
        down, elapsed = _lookup(server, token, pid)
        assert down.status_code == 503, down.text
        assert _code(down) == "SERVICE_UNAVAILABLE"
        assert down.headers["Retry-After"]
        assert elapsed < 3
    rest_down = _rest(server, token, pid)
    assert rest_down.status_code == 503, rest_down.text
    assert _code(rest_down) == "SERVICE_UNAVAILABLE"

    cluster.start()  # the same app, not restarted
    deadline = time.monotonic() + 10
    while True:
        again, _ = _lookup(server, token, pid)
        if again.status_code == 200:
            break
        assert again.status_code == 503 and time.monotonic() < deadline, again.text
        time.sleep(0.2)
    assert again.json() == up.json()
    assert _rest(server, token, pid).status_code == 200


# --- every write is one transaction ----------------------------------------------------------


class Injected(Exception):
    """The failure injected between two statements of a write."""


async def _fail(*_: object, **__: object) -> int:
    raise Injected


async def test_resident_change_fails_half_way_leaves_nothing(db, monkeypatch) -> None:
    """_endring creates the entry (first statement), then takes a change number: failing there
    must roll the insert back too."""
    pid = new_id(2)
    monkeypatch.setattr("app.innbyggere.store.neste_endrings_id", _fail)
    with pytest.raises(Injected):
        await residents.reserver(pid, FIXED_NOW)
    assert not await Person.exists(personidentifikator=pid)


async def test_resident_update_fails_half_way_keeps_old_values(db, monkeypatch) -> None:
    """The change number is taken and the entry updated, then the feed step fails: neither the
    counter nor the entry may keep what the first two statements wrote."""
    pid = new_id(3)
    await person(pid, reservasjon=False)
    before = await Person.get(personidentifikator=pid)
    counter = await changes.siste_endrings_id(database.connection())
    monkeypatch.setattr("app.personer.register.renummerer", _fail)
    with pytest.raises(Injected):
        await residents.reserver(pid, FIXED_NOW)
    after = await Person.get(personidentifikator=pid)
    assert (after.reservasjon, after.endrings_id) == (before.reservasjon, before.endrings_id)
    assert await changes.siste_endrings_id(database.connection()) == counter
