"""Faults: the database going away is a quick 503 and the service recovers by itself; a
database that stops answering is a 503 at the request's deadline, not a hang; a write that
fails half-way leaves nothing behind.

The outage tests bring their own PostgreSQL (a throwaway cluster in a temporary folder), so
they run in both suite runs; they fail, never skip, when the cluster cannot be made. They run
`krr serve` in its own process, in the test environment and in prod (where unexpected errors
are masked, so a fault that slipped past the one mapping would show there as a 500 or a 200).
A TCP proxy (tests/proxy.py) between the service and the cluster drops or cuts the traffic.
"""

from __future__ import annotations

import asyncio
import contextvars
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

import asyncpg
import httpx
import pytest

from app import db as database
from app.enhetsregisteret.store import BATCH
from app.innbyggere import store as residents
from app.personer import endringsnummer as changes
from app.personer.models import Person
from authz.dev_issuer import DevIssuer
from authz.scopes import DIGITALPOST_READ, KONTAKTINFORMASJON_READ
from tests.admin import csrf_of, hidden_fields, log_in
from tests.conftest import FIXED_NOW, ROOT
from tests.factories import new_id, person
from tests.proxy import Proxy
from tests.servers import KRR, free_port, serve_json, wait_until_up
from tests.test_organisasjoner import orgnumre

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


# --- a database that stops answering --------------------------------------------------------

DEADLINE = 0.5  # KRR_REQUEST_TIMEOUT of the servers behind the proxy: short, for a quick suite
BOUND = 20 * DEADLINE  # what would be a hang: a request not answered by then fails the test


@pytest.fixture(scope="module", params=ENVS)
def proxied(request: pytest.FixtureRequest, var_dir: Path, dev_issuer: DevIssuer
            ) -> Iterator[tuple[Proxy, str]]:
    """A cluster, a proxy in front of it and `krr serve` (in test, then in prod) behind the
    proxy with a short deadline: one per environment for the tests below, each of which leaves
    traffic passing. The app is never restarted between them."""
    with running_cluster() as made, serving(var_dir, dev_issuer) as serve:
        proxy = Proxy(made.port)
        proxy.start()
        try:
            # The outbox's dispatcher and the audit log's filer run outside any request: one
            # round at start, then none that could be caught in the tests' dropped traffic
            # but what the tests' own lookups wake (`_served` waits for that).
            yield proxy, serve(request.param, made.url(proxy.port),
                               KRR_REQUEST_TIMEOUT=str(DEADLINE), KRR_OUTBOX_INTERVAL="3600",
                               KRR_AUDIT_FILER_INTERVAL="3600")
        finally:
            proxy.stop()


@pytest.fixture
def behind_proxy(proxied: tuple[Proxy, str]) -> Iterator[tuple[Proxy, str]]:
    proxy, _ = proxied
    proxy.pass_traffic()
    try:
        yield proxied
    finally:
        proxy.pass_traffic()


def _client(base: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                             timeout=BOUND)


async def _graphql(client: httpx.AsyncClient, pid: str) -> httpx.Response:
    query = f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'
    return await client.post("/graphql", json={"query": query})


async def _personer(client: httpx.AsyncClient, pid: str) -> httpx.Response:
    return await client.post("/rest/v2/personer", json={"personidentifikatorer": [pid]})


async def _served(client: httpx.AsyncClient, pid: str) -> None:
    """Both lookups answered, and their audit records filed: the filer, which they woke, holds
    no connection the test's dropped traffic could catch instead of the next lookup's."""
    graphql, rest = await _graphql(client, pid), await _personer(client, pid)
    assert graphql.status_code == 200, graphql.text
    assert graphql.json()["data"]["personer"][0]["status"] == "IKKE_REGISTRERT"
    assert rest.status_code == 200, rest.text
    async with asyncio.timeout(BOUND):
        while True:  # one person a lookup: all are filed when the two counts agree
            metrics = (await client.get("/metrics")).text
            if _counter(metrics, "krr_audit_requests_filed_total") == _counter(
                    metrics, "krr_persons_disclosed_total"):
                return
            await asyncio.sleep(0.01)


def _counter(metrics: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith(name + " "))


async def _swallowing(proxy: Proxy, done: Callable[[int], bool]) -> None:
    """Waits (in a thread, so this loop's requests go on) until `done(n)` holds for n, the
    connections to the database on which the proxy has dropped bytes and that are still open."""
    await asyncio.to_thread(proxy.wait_until_swallowing, done, BOUND)


async def test_database_that_stops_answering_is_a_503_at_the_deadline_not_a_hang(
    behind_proxy: tuple[Proxy, str], mint
) -> None:
    """Packets to and from the database dropped on pooled connections once hung a request for
    52 s (command_timeout did not bound it). Now: GraphQL and REST answer 503 with Retry-After
    at the deadline, the connections they were stuck on are closed rather than kept in the
    pool, and once the database answers again the next requests are served by the same app."""
    proxy, base = behind_proxy
    pid = new_id(5)
    async with _client(base, mint(BOTH)) as client:
        await asyncio.gather(*(_served(client, pid) for _ in range(3)))  # pooled connections

        proxy.black_hole()  # then more requests at once than the pool holds (tortoise's: 5)
        async with asyncio.timeout(BOUND):
            answers = await asyncio.gather(*(_graphql(client, pid) for _ in range(4)),
                                           *(_personer(client, pid) for _ in range(4)))
        for answer in answers:
            assert_unavailable(answer)
        assert "did not finish within" in answers[0].text
        await _swallowing(proxy, lambda n: n == 0)  # the stuck connections closed, not kept

        proxy.pass_traffic()  # the same app, not restarted
        await _served(client, pid)
        metrics = (await client.get("/metrics")).text
    assert "krr_deadlines_passed_total" in metrics
    assert "krr_deadlines_passed_total 0.0" not in metrics


@pytest.mark.parametrize("proxied", ["prod"], indirect=True)  # the probe is the same in test
async def test_readiness_probe_on_a_database_that_stops_answering_is_a_503_in_time(
    behind_proxy: tuple[Proxy, str], mint
) -> None:
    """/readyz has a timeout of its own (2 s), which a pooled connection whose packets are
    dropped once stretched to over 30 s: the probe's connection is discarded as a request's."""
    proxy, base = behind_proxy
    async with _client(base, mint(BOTH)) as client:
        assert (await client.get("/readyz")).status_code == 200  # a connection in the pool
        proxy.black_hole()
        async with asyncio.timeout(BOUND):
            ready = await client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["reason"] == "database timeout"
        await _swallowing(proxy, lambda n: n == 0)  # the probe's connection closed
        proxy.pass_traffic()
        assert (await client.get("/readyz")).status_code == 200


async def test_database_connection_cut_mid_query_is_a_503_then_recovers(
    behind_proxy: tuple[Proxy, str], mint
) -> None:
    """The connection under a running lookup is cut (a failover, a firewall reset): that
    lookup is a 503 with Retry-After, and the next ones are served on fresh connections."""
    proxy, base = behind_proxy
    pid = new_id(6)
    async with _client(base, mint(BOTH)) as client:
        await _served(client, pid)  # a pooled connection, on which the next lookup goes
        proxy.black_hole()
        async with asyncio.timeout(BOUND):
            lookup = asyncio.create_task(_graphql(client, pid))
            await _swallowing(proxy, lambda n: n > 0)  # the lookup's query is sent
            proxy.cut()
            proxy.pass_traffic()
            assert_unavailable(await lookup)
        await _served(client, pid)


async def test_abandoned_work_discards_the_connections_it_holds_never_one_it_released(
    cluster: Cluster,
) -> None:
    """What the deadline discards (app.db.track/discard, on asyncpg's own pool): the
    connection the abandoned work still holds is terminated and replaced; the one it released
    and another request took meanwhile is not touched."""
    pool = await asyncpg.create_pool(cluster.url().replace("postgres://", "postgresql://", 1),
                                     min_size=2, max_size=2, setup=database._note_acquired)
    try:
        context = contextvars.copy_context()
        held = database.track(context)
        holding = asyncio.Event()

        async def work() -> None:
            released = await pool.acquire()
            kept = await pool.acquire()
            await pool.release(released)
            await kept.fetchval("SELECT 1")
            holding.set()
            await asyncio.Event().wait()  # the database stopped answering

        task = asyncio.get_running_loop().create_task(work(), context=context)
        async with asyncio.timeout(BOUND):
            await holding.wait()
            async with pool.acquire() as other:  # the released one: another request's now
                assert database.discard(held) == 1
                task.cancel()
                await asyncio.wait((task,))
                assert await other.fetchval("SELECT 2") == 2
            async with pool.acquire() as one, pool.acquire() as two:  # the slot connects afresh
                assert [await one.fetchval("SELECT 3"), await two.fetchval("SELECT 4")] == [3, 4]
    finally:
        pool.terminate()


@pytest.mark.parametrize("proxied", ["test"], indirect=True)  # prod: tests/test_innlogging.py
async def test_login_and_logout_on_a_database_that_stops_answering_are_a_503_at_the_deadline(
    behind_proxy: tuple[Proxy, str]
) -> None:
    """The login's answer (/admin/innlogget) and the logout once took 60 s to answer 503 on a
    database that dropped its packets: they were outside the deadline. Every route is under it
    now: the login's pages answer a 503 page with Retry-After at the deadline, the development
    provider's form a 503, and the connections they were stuck on are closed."""
    proxy, base = behind_proxy
    async with httpx.AsyncClient(base_url=base, timeout=BOUND) as c:
        await log_in(c, new_id(7))  # a session, to log out of
        csrf = csrf_of((await c.get("/admin")).text)
        begun = await c.get("/admin/logg-inn")  # a second login, answered while dropped
        form = await c.get(begun.headers["location"])
        answer = await c.post("/dev/oidc/authorize", data={
            **hidden_fields(form.text), "pid": new_id(7), "acr": "idporten-loa-substantial"})
        assert answer.status_code == 303, answer.text

        proxy.black_hole()
        async with asyncio.timeout(BOUND):
            pages = [await c.get(answer.headers["location"]),
                     await c.post("/admin/logg-ut", data={"csrf": csrf}),
                     await c.get("/admin/logg-inn")]
            provider = await c.get(begun.headers["location"])
        for page in pages:
            assert page.status_code == 503, page.text
            assert "Tjenesten er midlertidig utilgjengelig" in page.text
            assert int(page.headers["Retry-After"]) >= 1
        assert_unavailable(provider)
        await _swallowing(proxy, lambda n: n == 0)

        proxy.pass_traffic()
        again = await c.get("/admin/logg-inn")
        assert again.status_code == 302, again.text


# --- the krr command on a database that stops answering ------------------------------------------


def _stored(cluster: Cluster, orgnumre: list[str]) -> int:
    """How many of `orgnumre` the organisation table holds (asked past the proxy)."""

    async def count() -> int:
        connection = await asyncpg.connect(cluster.url().replace("postgres://", "postgresql://"))
        try:
            return int(await connection.fetchval(
                "SELECT count(*) FROM organisasjon WHERE orgnr = ANY($1::varchar[])", orgnumre))
        except asyncpg.UndefinedTableError:  # not migrated yet
            return 0
        finally:
            await connection.close()

    return asyncio.run(count())


def _writing(cluster: Cluster) -> bool:
    """Whether a transaction holds the organisation table for writing (the import's one
    transaction has begun storing rows; they are not visible to others before it commits)."""

    async def held() -> bool:
        connection = await asyncpg.connect(cluster.url().replace("postgres://", "postgresql://"))
        try:
            return bool(await connection.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'organisasjon' AND l.mode = 'RowExclusiveLock' "
                "AND l.pid <> pg_backend_pid()"))
        finally:
            await connection.close()

    return asyncio.run(held())


def test_an_import_whose_database_stops_answering_stops_in_time_exit_3(
    cluster: Cluster, cli_env: dict[str, str]
) -> None:
    """`krr organisasjoner importer` once hung 61 s on a database that dropped its packets,
    then died with a traceback. Its work may rightly take long, so it has no deadline for its
    length: a watchdog asks the database to answer within KRR_REQUEST_TIMEOUT, and when it does
    not, the import stops, says so (nothing was written: the import is one transaction), exit
    3, no traceback."""
    proxy = Proxy(cluster.port)
    proxy.start()
    env = cli_env | {"KRR_DATABASE_URL": cluster.url(proxy.port),
                     "KRR_REQUEST_TIMEOUT": str(DEADLINE)}
    numbers = list(orgnumre(3 * BATCH + 10))
    rows = [f"{orgnr},Enhet {n}\n".encode() for n, orgnr in enumerate(numbers)]
    # Migrated first, so the only writer of the organisation table below is the import.
    subprocess.run([*KRR, "migrate"], env=cli_env | {"KRR_DATABASE_URL": cluster.url()},
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    process = subprocess.Popen([*KRR, "organisasjoner", "importer", "-"], env=env, cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdin is not None
    try:
        process.stdin.write(b"Organisasjonsnummer,Navn\n" + b"".join(rows[:3 * BATCH]))
        process.stdin.flush()
        deadline = time.monotonic() + 60
        while not _writing(cluster):  # the first batch is being written
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.1)

        proxy.black_hole()
        process.stdin.write(b"".join(rows[3 * BATCH:]))
        process.stdin.close()
        process.wait(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        proxy.stop()
        stderr = process.stderr.read().decode() if process.stderr else ""
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    assert process.returncode == 3, stderr
    assert "stopped: the database stopped answering" in stderr
    assert "nothing was written" in stderr
    assert "Traceback" not in stderr
    assert _stored(cluster, numbers) == 0


def test_a_command_on_a_database_that_never_answers_stops_in_time_exit_3(
    cluster: Cluster, cli_env: dict[str, str]
) -> None:
    """Dropped from the start: the command's first connection gets no answer; it stops with
    the reason and exit 3, within the bound, without a traceback."""
    proxy = Proxy(cluster.port)
    proxy.start()
    try:
        proxy.black_hole()
        env = cli_env | {"KRR_DATABASE_URL": cluster.url(proxy.port),
                         "KRR_REQUEST_TIMEOUT": str(DEADLINE)}
        ran = subprocess.run([*KRR, "tilgangsstyrer", "list"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=BOUND)
    finally:
        proxy.stop()
    assert ran.returncode == 3, ran.stderr
    assert ran.stderr.startswith("krr tilgangsstyrer list: stopped: the database ")
    assert "Traceback" not in ran.stderr


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
