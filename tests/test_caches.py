"""What the service keeps of what callers send, bounded in bytes (issue 23, item 7): 300 distinct
400 KB anonymous bodies took a worker from 123 to 525 MB through three caches of 256 entries
each, and the public-fields check parsed a body without a token before the rate limit.

The caches count what each entry holds (app.cache, app.api.parsing); first that count is shown
to cover what a parsed document and its validation errors really hold (tracemalloc: every byte
allocated and still held), then floods through HTTP leave the counts, and the memory, within
the bounds."""

from __future__ import annotations

import dataclasses
import gc
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
from graphql import parse, specified_rules

from app.api import parsing, validation
from app.api.internals import graphql_schema
from app.api.limits import RequestLimits
from app.cache import ENTRY_BYTES, BoundedCache
from app.config import Limits, Rate, Settings
from app.edge import graphql, persisted
from app.edge.app import create_app
from app.edge.graphql import PUBLIC_MAX_BODY_BYTES, PUBLIC_MAX_TOKENS
from app.edge.ratelimit import MemoryLimiter
from app.edge.schema import build_schema
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW, spy_calls
from tests.test_ratelimit import FakeClock, assert_429

GRAPHQL = "/graphql"
N = 1200  # tokens in each shape below
# Documents of every kind of token and node, N tokens each; "dense" (a field per token) holds
# the most per token.
SHAPES = {
    "dense": "{" + " a" * (N - 2) + "}",
    "aliases": "{" + " a:b" * (N // 3 - 1) + "}",
    "arguments": "{a(" + " x:1" * (N // 3 - 3) + ")}",
    "nested lists": "{a(x:" + "[" * 100 + "]" * 100 + ")}",
    "variables": "query(" + "".join(f"$v{i}:I " for i in range(N // 4 - 4)) + "){a}",
    "variables used": "{a(x:[" + " $v" * (N // 2 - 4) + "])}",
    "input objects": "{a(x:[" + " {a:1}" * (N // 5 - 3) + "])}",
    "directives": "{a" + " @d" * (N // 2 - 2) + "}",
    "fragments": " ".join(f"fragment F{i} on T{{a}}" for i in range(N // 7)),
    "fragment spreads": "{" + " ...F" * (N // 2 - 1) + "}",
    "inline fragments": "{" + " ...{a}" * (N // 4 - 1) + "}",
    "comments": "{a}" + "\n#" * (N - 3),
    "operations": " ".join(f"query Q{i}{{a}}" for i in range(N // 5)),
    "strings": "{a(x:[" + ' "s"' * (N - 6) + "])}",
    "block strings": "{a(x:[" + ' """s"""' * (N - 6) + "])}",
    "numbers": "{a(x:[" + " 1.5e3" * (N - 6) + "])}",
    "one long string": '{a(x:"' + "x" * 50_000 + '")}',
    "one long comment": "#" + "x" * 50_000 + "\n{a}",
    "non-ASCII names and strings": '{a(x:["' + "ø" * 20_000 + '"])}',
}


@contextmanager
def held() -> Iterator[list[int]]:
    """The bytes allocated in the block and still held after it (a full collection first)."""
    result: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        yield result
        gc.collect()
        result.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", SHAPES)
def test_the_bytes_counted_for_a_parsed_document_cover_what_it_holds(shape):
    query = SHAPES[shape]
    with held() as allocated:
        document = parse(query, max_tokens=5000)
    # The text itself was allocated before: the key and the source hold it.
    assert allocated[0] + sys.getsizeof(query) <= parsing.document_bytes(query, document)


def test_the_bytes_counted_for_validation_errors_cover_what_they_hold():
    """The most errors graphql-core gives (100), each naming a node, over the document's bytes
    (which the errors keep too, and which are counted with them)."""
    schema = graphql_schema(build_schema(prod=True))
    query = "{" + "".join(f" f{i}: unknown{i}(x: $v{i})" for i in range(150)) + "}"
    document = parse(query)
    with held() as allocated:
        errors = validation.validated(schema, document, tuple(specified_rules),
                                      RequestLimits(max_aliases=1000), True)
    assert len(errors) >= 100
    assert allocated[0] <= validation.ERROR_BYTES * len(errors)


def test_a_cache_drops_the_least_recently_used_past_its_bytes_and_keeps_no_entry_over_its_cap():
    cache: BoundedCache[str, str] = BoundedCache(max_bytes=4 * (ENTRY_BYTES + 100),
                                                 max_entry_bytes=250)
    for key in "abcd":
        cache.put(key, key, 100)
    assert cache.get("a") == "a"  # used: kept over b
    cache.put("e", "e", 200)  # room for it: b and c go
    assert [k for k in "abcde" if k in cache] == ["a", "d", "e"]
    assert cache.bytes == 2 * (ENTRY_BYTES + 100) + ENTRY_BYTES + 200 <= cache.max_bytes
    cache.put("f", "f", 251)  # over the most one entry may hold: not kept, nothing dropped
    assert "f" not in cache and len(cache) == 3


@pytest.fixture
def empty_caches() -> Iterator[None]:
    """The parse and validation caches empty, before and after (what the test left is big)."""
    parsing.PARSED.clear()
    validation.VALIDATED.clear()
    yield
    parsing.PARSED.clear()
    validation.VALIDATED.clear()


@pytest.fixture
async def prod(db: Settings, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    """The app in prod (the development issuer trusted as if it were a real one), with rate
    limits that let the floods below through."""
    limiter = MemoryLimiter(Limits(Rate(10_000, 10_000), Rate(10_000, 10_000)))
    app = create_app(dataclasses.replace(db, env="prod"), clock=lambda: FIXED_NOW,
                     verifier=TokenVerifier({}, dev_issuer=dev_issuer), manage_db=False,
                     limiter=limiter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


def anonymous_query(i: int) -> str:
    """As large a body as a caller without a token may send, a public query of as many tokens
    as such a caller may have, each distinct: it passes the public check and is refused by its
    aliases (TOO_MANY_ALIASES), so it is parsed by the edge and by GraphQL and validated, and
    each of the three is kept."""
    fields = (PUBLIC_MAX_TOKENS - 2) // 3
    query = "{" + " ".join(f"q{i}_{n}: __typename" for n in range(fields)) + "}"
    return query + " " * (PUBLIC_MAX_BODY_BYTES - len('{"query":""}') - len(query))


async def test_distinct_large_anonymous_bodies_leave_the_caches_within_their_bytes(
    prod, empty_caches, monkeypatch
):
    """The caches at a tenth of their size (a shorter flood): twelve such bodies would be
    counted about twice the bound. The counts stay within it, and what the worker holds after
    the flood is no more than they say (nothing else keeps what the bodies were)."""
    for module, name in ((parsing, "PARSED"), (validation, "VALIDATED")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, BoundedCache(real.max_bytes // 10,
                                                       real.max_entry_bytes))
    bound = parsing.PARSED.max_bytes + validation.VALIDATED.max_bytes
    first = anonymous_query(0)
    each = 3 * parsing.document_bytes(first, parse(first))
    flood = 12
    assert flood * each > 1.8 * bound
    assert (await prod.post(GRAPHQL, json={"query": "{ __typename }"})).status_code == 200
    with held() as allocated:  # what the first request sets up once, set up before
        for i in range(flood):
            response = await prod.post(GRAPHQL, json={"query": anonymous_query(i)})
            assert len(response.request.content) == PUBLIC_MAX_BODY_BYTES
            assert response.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
            assert parsing.PARSED.bytes <= parsing.PARSED.max_bytes
            assert validation.VALIDATED.bytes <= validation.VALIDATED.max_bytes
    counted = parsing.PARSED.bytes + validation.VALIDATED.bytes
    assert allocated[0] <= counted + 1024 * 1024  # the caches, and little else


async def test_anonymous_bodies_over_their_limit_are_refused_unread(prod, empty_caches,
                                                                    monkeypatch):
    """The issue's 400 KB bodies, without a token: refused (413) before their JSON is read,
    and nothing of them kept."""
    reads = spy_calls(monkeypatch, [(parsing, "parse"), (persisted, "load_json"),
                                    (graphql, "load_json")])
    for i in range(20):
        body = b'{"query": "{ __typename } #' + str(i).encode() + b"x" * 400_000 + b'"}'
        response = await prod.post(GRAPHQL, content=body,
                                   headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["errors"][0]["message"] == (
            f"A request without a token may send at most {PUBLIC_MAX_BODY_BYTES} bytes "
            "(only public fields run without one)")
    assert reads == [] and len(parsing.PARSED) == 0


async def test_an_anonymous_flood_is_refused_before_its_bodies_are_parsed(
    db, monkeypatch, empty_caches
):
    clock = FakeClock()
    # Two requests, the next 100 s later: refused at once, too far off to be held.
    limiter = MemoryLimiter(Limits(Rate(0.01, 2), Rate(10, 10)), clock=clock)
    app = create_app(dataclasses.replace(db, env="prod"), clock=lambda: FIXED_NOW,
                     manage_db=False, limiter=limiter)
    reads = spy_calls(monkeypatch, [(parsing, "parse"), (persisted, "load_json"),
                                    (graphql, "load_json")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        public = await c.post(GRAPHQL, json={"query": "{ __typename }"})
        assert public.json() == {"data": {"__typename": "Query"}}
        not_public = await c.post(GRAPHQL, json={"query": "{ personer { status } }"})
        assert not_public.status_code == 401  # charged too
        read_by_two = list(reads)
        assert read_by_two.count("parse") == 3  # the public check's twice, GraphQL's once
        for i in range(30):
            refused = await c.post(GRAPHQL, json={"query": f"{{ __typename }} #{i}"})
            assert_429(refused)
        assert reads == read_by_two  # nothing of the thirty was read


async def test_the_edge_and_graphql_parse_a_query_once(prod, mint, monkeypatch, empty_caches):
    """The persons the rate limit charges are counted from the same parse GraphQL runs."""
    parses = spy_calls(monkeypatch, [(parsing, "parse")])
    query = "query Once($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }"
    response = await prod.post(GRAPHQL, json={"query": query, "variables": {"ids": []}},
                               headers={"Authorization": f"Bearer {mint()}"})
    assert response.status_code == 200
    assert parses == ["parse"]

