"""A finished request leaves nothing of itself for the cyclic garbage collector (issue 16,
target 6).

`krr serve` freezes the started app and collects the first generation only every 100,000 net
allocations (app.edge.runtime), so a full collection practically never runs: whatever a
request leaves in a reference cycle (its body, its parsed JSON, its variables, its context)
stays in the worker's memory. Here requests run through the app with the collector off, as a
server would call it (ASGI, no HTTP client in between: httpx keeps cycles of its own), and the
collector is then asked what it would have had to free.

Only a request's objects count: those of the app, its framework and the GraphQL libraries
(frames running their code included). asyncpg builds a class each time it cancels a statement
(the lookup's speculative fetch, cancelled when an id is bad) and asyncio's socket transports
hold their own bound methods: cycles of theirs, a few objects per cancelled statement or
connection, none of them a request's.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import orjson
import pytest
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLString, parse
from starlette.types import ASGIApp, Message

from app.api.execution import AcyclicExecutionContext
from app.config import Settings
from app.edge import runtime
from app.edge.app import create_app
from app.revisjon import store
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
QUERY = """query($ids: [String!]!) { personer(personidentifikatorer: $ids) {
  personidentifikator status reservasjon varslingsstatus spraak sertifikat
  kontaktinformasjon { epostadresse mobiltelefonnummer epostadresseDuplisert }
  digitalPost { postkasseadresse }
} }"""
REQUESTS = 20
# What a request is made of: the app's objects, its framework's and the GraphQL libraries'.
REQUEST_PACKAGES = frozenset({"app", "authz", "starlette", "strawberry", "graphql"})


async def post(app: ASGIApp, path: str, body: bytes, headers: dict[str, str]) -> int:
    """POSTs `body` to the app as a server would; the answer's status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("krr.test", 80),
        "headers": [(b"host", b"krr.test"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items())],
    }
    received = False
    status = 0

    async def receive() -> Message:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the client stays connected
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


@contextmanager
def collector_off() -> Iterator[list[Any]]:
    """Runs the block with the collector off; the list yielded then holds what a full
    collection found unreachable (only objects in reference cycles are: the rest went when
    their last reference did)."""
    gc.collect()
    found: list[Any] = []
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def package_of(thing: object) -> str:
    module = (thing.f_globals.get("__name__", "") if isinstance(thing, FrameType)
              else type(thing).__module__)
    return str(module).partition(".")[0]


async def left_of_requests(app: ASGIApp, path: str, body: dict[str, Any],
                           headers: dict[str, str], status: int) -> None:
    """The objects of REQUESTS such requests that only a full collection would free."""
    raw = orjson.dumps(body)
    # The first of its kind fills what is kept across requests (parsed documents, plans).
    assert await post(app, path, raw, headers) == status
    with collector_off() as garbage:
        for _ in range(REQUESTS):
            assert await post(app, path, raw, headers) == status
    ours = [o for o in garbage if package_of(o) in REQUEST_PACKAGES]
    kinds = Counter(f"{package_of(o)}:{type(o).__qualname__}" for o in ours)
    assert not kinds, (f"{len(garbage)} objects left in reference cycles after {REQUESTS} "
                       f"requests, {len(ours)} of them a request's: {kinds.most_common(12)}")


@pytest.fixture
def app(db: Settings) -> ASGIApp:
    return create_app(db, clock=lambda: FIXED_NOW, manage_db=False)


@pytest.fixture
async def ids(db: Settings) -> list[str]:
    """Four registered persons and one never registered."""
    ids = [new_id(n) for n in range(5)]
    for pid in ids[:4]:
        await person(pid)
    return ids


@pytest.mark.parametrize("scope", [
    f"{KONTAKT} {POST}",  # every field handed out
    KONTAKT,  # the mailbox withheld: FORBIDDEN errors beside the data
    "",  # the lookup refused: neither scope (an Avslag, raised)
])
async def test_a_lookup_leaves_no_cycles(app, mint, ids, scope):
    await left_of_requests(app, "/graphql", {"query": QUERY, "variables": {"ids": ids}},
                           {"Authorization": f"Bearer {mint(scope)}"}, 200)


async def test_a_rest_lookup_leaves_no_cycles(app, mint, ids):
    await left_of_requests(app, "/rest/v2/personer", {"personidentifikatorer": ids},
                           {"Authorization": f"Bearer {mint(KONTAKT)}"}, 200)


@pytest.mark.parametrize(("body", "token", "status"), [
    ({"query": QUERY, "variables": {"ids": ["12345678901"]}}, True, 200),  # BAD_USER_INPUT
    ({"query": "{ personer(personidentifikatorer: 1) { status } }"}, True, 200),  # invalid
    ({"query": QUERY, "variables": {"ids": ["17912099997"]}}, False, 401),  # no token
])
async def test_a_refused_request_leaves_no_cycles(app, mint, db, body, token, status):
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"} if token else {}
    await left_of_requests(app, "/graphql", body, headers, status)


async def test_a_lookup_whose_record_fails_leaves_no_cycles(app, mint, ids, monkeypatch):
    async def broken(**_: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(store, "skriv_oppslag", broken)
    await left_of_requests(app, "/graphql", {"query": QUERY, "variables": {"ids": ids}},
                           {"Authorization": f"Bearer {mint(KONTAKT)}"}, 503)


async def test_the_executors_helpers_do_not_keep_it_alive():
    """graphql-core's execution context hands every resolver helpers that were its own bound
    methods; ours reach it weakly, work while it lives, and still settle work once it is
    gone."""
    schema = GraphQLSchema(GraphQLObjectType("Query", {"a": GraphQLField(GraphQLString)}))
    executor = AcyclicExecutionContext.build(schema, parse("{ a }"))
    assert isinstance(executor, AcyclicExecutionContext)
    helpers = executor.async_helpers
    alive = weakref.ref(executor)

    async def one() -> int:
        return 1

    assert await helpers.gather([one(), one()]) == [1, 1]
    helpers.track([one(), "not awaitable"])
    await asyncio.sleep(0)
    assert executor.background_futures  # tracked by the living context

    del executor
    assert alive() is None  # freed by reference counting: no cycle kept it
    assert await helpers.gather([one()]) == [1]
    settled = one()
    helpers.track([settled])
    await asyncio.sleep(0.01)
    assert settled.cr_frame is None  # run to its end, not left unawaited


async def test_a_serving_app_collects_the_cycles_others_leave():
    """What third-party code leaves in cycles (graphql-core's tokens, say) is collected on a
    timer while the app serves, not left to the rare automatic full collection."""

    class Cyclic:
        me: object

    cyclic = Cyclic()
    cyclic.me = cyclic
    gone = weakref.ref(cyclic)
    del cyclic
    gc.disable()
    try:
        async with runtime.collecting(every=0.01):
            await asyncio.sleep(0.1)
    finally:
        gc.enable()
    assert gone() is None
