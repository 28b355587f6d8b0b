"""Faults: the database going away is a quick 503 and the service recovers by itself; a write
that fails half-way leaves nothing behind.

The outage tests bring their own PostgreSQL (a throwaway cluster in a temporary folder), so
they run in both suite runs; they fail, never skip, when the cluster cannot be made. They run
`krr serve` in its own process, in the test environment and in prod (where unexpected errors
are masked, so a fault that slipped past the one mapping would show there as a 500 or a 200).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from app import db as database
from app.innbyggere import store as residents
from app.personer import endringsnummer as changes
from app.personer.models import Person
from authz.dev_issuer import DevIssuer
from authz.scopes import DIGITALPOST_READ, KONTAKTINFORMASJON_READ
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person
from tests.servers import free_port, serve_json, wait_until_up

PG_BIN = Path(os.environ.get("KRR_PG_BIN", "/usr/lib/postgresql/15/bin"))
BOTH = f"{KONTAKTINFORMASJON_READ} {DIGITALPOST_READ}"
ENVS = ("test", "prod")


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

    def url(self, port: int | None = None) -> str:
        """Its URL, or the URL of whatever listens on `port` in front of it (a proxy)."""
        return f"postgres://postgres@127.0.0.1:{port or self.port}/postgres"


@contextmanager
def running_cluster() -> Iterator[Cluster]:
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
def cluster() -> Iterator[Cluster]:
    with running_cluster() as made:
        yield made


@contextmanager
def krr_serve(environment: dict[str, str]) -> Iterator[str]:
    """`krr serve` (migrations, then uvicorn) in its own process, so its ORM state is its own;
    yields its base URL."""
    port = free_port()
    krr = Path(sys.executable).parent / "krr"
    process = subprocess.Popen(
        [str(krr), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **environment}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


Serve = Callable[..., str]


@contextmanager
def serving(var_dir: Path, dev_issuer: DevIssuer) -> Iterator[Serve]:
    """serve(env, database_url, **more_settings) -> the base URL of a `krr serve` process.
    The conftest's dev issuer mints the tokens: in test it is trusted as such (same var dir),
    in prod as a real issuer is, through its JWKS URL (plain http on loopback, which prod
    allows). Everything started is stopped when the block ends."""
    with ExitStack() as stack:

        def serve(env: str, database_url: str, **settings: str) -> str:
            environment = {"KRR_ENV": env, "KRR_VAR_DIR": str(var_dir),
                           "KRR_DATABASE_URL": database_url, **settings}
            if env == "prod":
                jwks = stack.enter_context(serve_json(dev_issuer.jwks()))
                environment["KRR_TRUSTED_ISSUERS"] = json.dumps({dev_issuer.issuer: jwks})
            base = stack.enter_context(krr_serve(environment))
            page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=10)
            assert (page.status_code == 405) == (env == "prod"), "prod serves no GraphiQL"
            return base

        yield serve


@pytest.fixture
def serve(var_dir: Path, dev_issuer: DevIssuer) -> Iterator[Serve]:
    with serving(var_dir, dev_issuer) as start:
        yield start


def _lookup(base: str, token: str, pid: str) -> tuple[httpx.Response, float]:
    query = {"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'}
    start = time.monotonic()
    response = httpx.post(f"{base}/graphql", json=query, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    return response, time.monotonic() - start


def _rest(base: str, token: str, pid: str) -> httpx.Response:
    return httpx.post(f"{base}/rest/v2/personer", json={"personidentifikatorer": [pid]},
                      timeout=10, headers={"Authorization": f"Bearer {token}"})


def assert_unavailable(response: httpx.Response) -> None:
    """503 SERVICE_UNAVAILABLE with Retry-After, in the one error shape, and nothing else."""
    assert response.status_code == 503, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert {error["extensions"]["code"] for error in body["errors"]} == {"SERVICE_UNAVAILABLE"}
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("env", ENVS)
def test_database_outage_answers_503_with_retry_after_never_200_internal_error(
    cluster: Cluster, serve: Serve, mint, env: str
) -> None:
    """A database outage in prod was once answered HTTP 200 with INTERNAL_SERVER_ERROR (the
    driver's error masked as a bug). Every environment, GraphQL and REST: a quick 503
    SERVICE_UNAVAILABLE with Retry-After, and the same app serves again once the database is
    back."""
    server = serve(env, cluster.url())
    token, pid = mint(BOTH), new_id(1)
    up, _ = _lookup(server, token, pid)
    assert up.status_code == 200, up.text
    assert up.json()["data"]["personer"][0]["status"]
    assert _rest(server, token, pid).status_code == 200

    cluster.stop()
    for _ in range(3):  # the pooled connection the stop killed, then fresh connects refused
        down, elapsed = _lookup(server, token, pid)
        assert_unavailable(down)
        assert elapsed < 3
    assert_unavailable(_rest(server, token, pid))

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
