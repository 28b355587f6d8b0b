"""Request limits (app.api.limits, app.edge.guard): each refused with its own code, before the
work it guards."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import orjson
import pytest
from graphql import Lexer, Source, TokenKind, get_introspection_query, parse
from graphql.validation.rules import overlapping_fields_can_be_merged as overlapping

from app.api import limits, validation
from app.config import ConfigError, load_settings
from app.edge.app import create_app
from app.personer import graphql as queries
from tests.conftest import FIXED_NOW
from tests.factories import new_id


def auth(mint: Any, scope: str = "krr:global/kontaktinformasjon.read") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(scope)}"}


async def post(client: httpx.AsyncClient, mint: Any, query: str, scope: str | None = None,
               **extra: Any) -> dict:
    headers = auth(mint, scope) if scope else auth(mint)
    response = await client.post("/graphql", json={"query": query, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def nested(depth: int) -> str:
    """An operation `depth` fields deep (not a valid selection beyond the schema: the depth rule
    runs regardless, so what matters is whether QUERY_TOO_DEEP is among the errors)."""
    query = "__typename"
    for _ in range(depth):
        query = f"sokPersoner {{ {query} }}"
    return f"{{ {query} }}"


# --- settings -----------------------------------------------------------------------------------


def test_limits_come_from_the_environment_with_defaults():
    defaults = load_settings({})
    assert (defaults.max_depth, defaults.max_aliases, defaults.max_tokens, defaults.max_fields,
            defaults.max_body_bytes) == (10, 30, 5000, 1000, 1024 * 1024)
    custom = load_settings({"KRR_MAX_DEPTH": "4", "KRR_MAX_ALIASES": "5",
                            "KRR_MAX_TOKENS": "100", "KRR_MAX_FIELDS": "50",
                            "KRR_MAX_BODY_BYTES": "2048"})
    assert (custom.max_depth, custom.max_aliases, custom.max_tokens, custom.max_fields,
            custom.max_body_bytes) == (4, 5, 100, 50, 2048)


@pytest.mark.parametrize("name", ["KRR_MAX_DEPTH", "KRR_MAX_ALIASES", "KRR_MAX_TOKENS",
                                  "KRR_MAX_FIELDS", "KRR_MAX_BODY_BYTES"])
@pytest.mark.parametrize("value", ["0", "-1", "ten", "1.5"])
def test_a_bad_limit_is_a_config_error_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


# --- depth, aliases, tokens ---------------------------------------------------------------------


async def test_depth_over_the_maximum_is_refused(client, mint):
    assert "QUERY_TOO_DEEP" not in codes(await post(client, mint, nested(10)))
    body = await post(client, mint, nested(11))
    assert body["data"] is None
    assert "QUERY_TOO_DEEP" in codes(body)


async def test_depth_limit_is_configurable_and_a_valid_query_at_it_runs(db, mint):
    app = create_app(dataclasses.replace(db, max_depth=3), clock=lambda: FIXED_NOW,
                     manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        ok = await post(c, mint, "{ sokPersoner { edges { node { status } } } }",
                       scope="krr:test/sok.read")
        assert "errors" not in ok, ok
        deep = await post(c, mint, "{ sokPersoner { edges { node { kontaktinformasjon "
                                   "{ epostadresse } } } } }")
    assert deep["data"] is None
    assert codes(deep) == ["QUERY_TOO_DEEP"]


async def test_cached_validation_keeps_each_apps_limits_and_codes(client, db, mint):
    """Parsing and validation are cached across requests (and apps in one process): a query
    accepted under one depth limit is still refused under a lower one, and a refusal served
    from the cache still carries its code."""
    query = "{ sokPersoner { edges { node { kontaktinformasjon { epostadresse } } } } }"
    for _ in range(2):
        ok = await post(client, mint, query, scope="krr:test/sok.read")
        assert "errors" not in ok, ok
    app = create_app(dataclasses.replace(db, max_depth=3), clock=lambda: FIXED_NOW,
                     manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        for _ in range(2):
            deep = await post(c, mint, query, scope="krr:test/sok.read")
            assert deep["data"] is None
            assert codes(deep) == ["QUERY_TOO_DEEP"]
    for _ in range(2):
        assert codes(await post(client, mint, aliases(31))) == ["TOO_MANY_ALIASES"]


def aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"


async def test_more_than_30_aliases_are_refused(client, mint):
    ok = await post(client, mint, aliases(30))
    assert ok == {"data": {f"a{i}": "Query" for i in range(30)}}
    body = await post(client, mint, aliases(31))
    assert body["data"] is None
    assert codes(body) == ["TOO_MANY_ALIASES"]


def token_count(query: str) -> int:
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def with_tokens(total: int) -> str:
    """A one-person lookup, padded to `total` tokens by the unused default of its variable
    (repeated fields would trip graphql-core's own validation budget instead)."""
    base = ("query Q($ids: [String!]! = []) "
            "{ personer(personidentifikatorer: $ids) { status } }")
    padding = total - token_count(base)
    query = base.replace("= []", "= [" + " ".join('"x"' for _ in range(padding)) + "]")
    assert token_count(query) == total
    return query


async def test_more_than_5000_tokens_are_refused(client, mint):
    variables = {"ids": [new_id(1)]}
    ok = await post(client, mint, with_tokens(5000), variables=variables)
    assert ok == {"data": {"personer": [{"status": "IKKE_REGISTRERT"}]}}
    body = await post(client, mint, with_tokens(5001), variables=variables)
    assert body["data"] is None
    assert codes(body) == ["TOO_MANY_TOKENS"]


# --- documents that cost more to validate than to send -------------------------------------------


def fan_out(levels: int, body: str = "...F{next} ...F{next}", leaf: str = "__typename") -> str:
    """`levels` fragments, each spreading the next twice: 2**levels fields in a few hundred
    bytes, which rules that spread every fragment again expand 2**levels times."""
    fragments = [f"fragment F{i} on Query {{ {body.replace('{next}', str(i + 1))} }}"
                 for i in range(levels)]
    return " ".join(["query { ...F0 }", *fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


FAN_OUT = fan_out(20)
FAN_OUT_ATTACKS = {
    "fragments spreading the next twice": (FAN_OUT, None),
    "through inline fragments": (
        fan_out(20, "... on Query { ...F{next} } ... on Query { ...F{next} }"), None),
    "aliases inside the fragments": (fan_out(20, "a: __typename ...F{next} ...F{next}"), None),
    "fields below the spreads": (fan_out(20, "...F{next} ...F{next}",
                                         "statistikk { aktive slettede }"), None),
    "fragments no operation uses": (
        "query { __typename } " + FAN_OUT.removeprefix("query { ...F0 } "), None),
    "many operations spreading them": (
        " ".join(f"query Q{i} {{ ...F0 }}" for i in range(100)) + " "
        + fan_out(4).removeprefix("query { ...F0 } "), "Q0"),
    "fields repeated instead of fragments": ("{ " + "__typename " * 4000 + "}", None),
}


@pytest.fixture
def no_rules(monkeypatch):
    """graphql-core's validation fails the test if it runs; the validation cache starts empty,
    so nothing is answered from an earlier test."""

    def fails(*_: Any, **__: Any) -> Any:
        raise AssertionError("a validation rule ran")

    validation.VALIDATED.clear()
    monkeypatch.setattr(validation, "validate", fails)


async def test_fragment_fan_out_is_refused_before_validation(client, mint, no_rules):
    """Twenty fragments, each spreading the next twice, in under 1 KB and with a token without
    scopes: refused by their size once spread, and no validation rule ran."""
    assert len(FAN_OUT.encode()) < 1024
    body = await post(client, mint, FAN_OUT, scope="")
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "1000 fields" in body["errors"][0]["message"]


@pytest.mark.parametrize("attack", FAN_OUT_ATTACKS)
async def test_fan_out_variants_are_refused_before_validation(client, mint, no_rules, attack):
    query, operation = FAN_OUT_ATTACKS[attack]
    extra = {"operationName": operation} if operation else {}
    body = await post(client, mint, query, scope="", **extra)
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_a_changed_comment_is_a_new_document_refused_alike(client, mint, no_rules):
    """The validation cache is keyed by the query text, so a comment of another length makes a
    new entry: each is measured again, and refused the same, without a rule running."""
    for n in range(3):
        body = await post(client, mint, f"#{'x' * n}\n{FAN_OUT}", scope="")
        assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert len(validation.VALIDATED) == 3


def test_the_document_is_measured_once_per_selection_set(monkeypatch):
    """Linear: each fragment is measured once however often it is spread, each operation once;
    a chain of fragments far longer than Python's recursion limit is measured too."""
    calls = 0
    real = limits._shape

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(limits, "_shape", counting)
    for levels in (20, 40, 5000):
        calls = 0
        document = parse(fan_out(levels), no_location=True)
        (error,) = limits.document_limits(document, limits.RequestLimits())
        assert error.extensions["code"] == "QUERY_TOO_COMPLEX"
        assert calls == levels + 2  # every fragment and the operation, once each


REPEATED = {
    "one field 999 times": "{ " + "__typename " * 999 + "}",
    "one field with a subfield 333 times": "{ " + "statistikk { aktive } " * 333 + "}",
    "two fields of one name with 499 subfields each": (
        "{ statistikk { " + "aktive " * 499 + "} statistikk { " + "aktive " * 499 + "} }"),
}


@pytest.mark.parametrize("attack", REPEATED)
async def test_fields_repeated_under_the_size_limit_stop_at_the_overlap_budget(
    client, mint, monkeypatch, attack
):
    """Under the size limit, repeated fields still make graphql-core's rule for overlapping
    fields compare every pair (quadratic): it stops at its budget, with the code."""
    validation.VALIDATED.clear()
    compared = 0
    real = overlapping.find_conflict

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal compared
        compared += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(overlapping, "find_conflict", counting)
    body = await post(client, mint, REPEATED[attack], scope="")
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert 0 < compared <= validation.OVERLAP_BUDGET


async def test_deeply_nested_inline_fragments_are_answered_or_refused_by_the_parser(
    client, mint
):
    def nested(levels: int) -> str:
        return "{ " + "... on Query { " * levels + "__typename" + " }" * levels + " }"

    assert await post(client, mint, nested(150), scope="") == {
        "data": {"__typename": "Query"}}
    body = await post(client, mint, nested(250), scope="")
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_DEEP"]


async def test_ordinary_documents_pass_the_size_limit(client, mint):
    """GraphiQL's introspection (its depth is not counted) and thirty aliases of a lookup."""
    introspection = await post(client, mint, get_introspection_query(descriptions=True))
    assert "errors" not in introspection and introspection["data"]["__schema"]["types"]
    fields = " ".join(["status reservasjon varslingsstatus spraak kontaktinformasjon",
                       "{ epostadresse mobiltelefonnummer } digitalPost { postkasseadresse }"])
    lookups = " ".join(f'a{i}: personer(personidentifikatorer: ["{new_id(i)}"]) {{ {fields} }}'
                       for i in range(30))
    body = await post(client, mint, "{ " + lookups + " }",
                      scope="krr:global/kontaktinformasjon.read krr:global/digitalpost.read")
    assert "errors" not in body and len(body["data"]) == 30


async def test_size_limit_is_configurable_and_counts_every_spread(db, mint):
    """The fields of every operation and every fragment, each spread counted where it is."""
    six = "a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename"
    app = create_app(dataclasses.replace(db, max_fields=6), clock=lambda: FIXED_NOW,
                     manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        at = [await post(c, mint, "{ " + six + " }"),
              # 2 + 2 in the operation, 2 in the fragment
              await post(c, mint, "{ ...F ...F } fragment F on Query { a: __typename "
                                  "b: __typename }")]
        over = [await post(c, mint, "{ " + six + " g: __typename }"),
                await post(c, mint, "{ ...F ...F ...F } fragment F on Query { a: __typename "
                                    "b: __typename }")]
    for body in at:
        assert "errors" not in body, body
    for body in over:
        assert body["data"] is None
        assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_depth_and_aliases_are_counted_through_fragments(db, mint, no_rules):
    """With the size limit out of the way, the depth and alias limits still see through
    fragments, and refuse as quickly (no rule runs)."""
    app = create_app(dataclasses.replace(db, max_fields=10**9, max_depth=3),
                     clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        aliases = await post(c, mint, fan_out(20, "a: __typename ...F{next} ...F{next}"),
                             scope="")
        deep = await post(c, mint, "{ ...A } fragment A on Query { sokPersoner { ...B } } "
                                   "fragment B on PersonConnection { edges { node { "
                                   "kontaktinformasjon { epostadresse } } } }", scope="")
    assert codes(aliases) == ["TOO_MANY_ALIASES"]
    assert codes(deep) == ["QUERY_TOO_DEEP"]


# --- body size and batches ----------------------------------------------------------------------

MIB = 1024 * 1024


async def call_raw(app: Any, headers: list[tuple[bytes, bytes]], chunks: int, size: int
                   ) -> tuple[int, dict, int]:
    """POST straight to the ASGI app: `chunks` body chunks of `size` bytes. Returns the status,
    the JSON body and how many body bytes the app pulled."""
    pulled = 0
    sent = 0
    out: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled, sent
        if sent == chunks:
            return {"type": "http.disconnect"}
        sent += 1
        pulled += size
        return {"type": "http.request", "body": b" " * size, "more_body": sent < chunks}

    async def send(message: dict) -> None:
        out.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"krr"), *headers], "client": None,
             "server": ("krr", 80)}
    await app(scope, receive, send)

    status = next(m["status"] for m in out if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    return status, orjson.loads(body), pulled


@pytest.fixture
def app(db):
    return create_app(db, clock=lambda: FIXED_NOW, manage_db=False)


async def test_a_large_announced_body_is_413_without_reading_it(app):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(2 * MIB).encode())]
    status, body, pulled = await call_raw(app, headers, chunks=32, size=64 * 1024)
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert pulled == 0


async def test_a_large_streamed_body_is_413_after_at_most_the_maximum(app):
    # No Content-Length (chunked): the bytes are counted as they arrive, and no token is needed
    # to be refused, since the size is checked before the token.
    status, body, pulled = await call_raw(app, [(b"content-type", b"application/json")],
                                          chunks=32, size=64 * 1024)
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert pulled <= MIB + 64 * 1024


async def test_a_body_of_exactly_the_maximum_is_accepted(client, mint):
    content = b'{"query": "{ __typename }"}'
    content += b" " * (MIB - len(content))
    response = await client.post("/graphql", content=content,
                                 headers={**auth(mint), "Content-Type": "application/json"})
    assert response.json() == {"data": {"__typename": "Query"}}
    too_big = await client.post("/graphql", content=content + b" ",
                                headers={**auth(mint), "Content-Type": "application/json"})
    assert too_big.status_code == 413


@pytest.mark.parametrize("with_token", [True, False])
async def test_a_batched_array_body_is_refused(client, mint, with_token):
    headers = {"Content-Type": "application/json", **(auth(mint) if with_token else {})}
    response = await client.post(
        "/graphql", content=b' [{"query": "{ __typename }"}, {"query": "{ __typename }"}]',
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BATCH_NOT_ALLOWED"
    assert "data" not in response.json()


# --- person ids per request ---------------------------------------------------------------------

FIELD = "personer(personidentifikatorer: {ids}) {{ status }}"


def literal(ids: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in ids) + "]"


@pytest.fixture
def lookups(monkeypatch):
    """Every call to the lookup, to show that a refused request looks nobody up."""

    calls: list[int] = []
    real = queries.slaa_opp

    async def counting(ids, *args: Any, **kwargs: Any):
        calls.append(len(ids))
        return await real(ids, *args, **kwargs)

    monkeypatch.setattr(queries, "slaa_opp", counting)
    return calls


def assert_too_many(body: dict, total: int) -> None:
    assert body["data"] is None
    assert codes(body) == ["TOO_MANY_PERSONS"]
    assert str(total) in body["errors"][0]["message"]


async def test_1000_persons_in_one_field_are_looked_up(client, mint, lookups):
    ids = [new_id(i) for i in range(1000)]
    body = await post(client, mint, "{ " + FIELD.format(ids=literal(ids)) + " }")
    assert "errors" not in body
    assert len(body["data"]["personer"]) == 1000
    assert lookups == [1000]


async def test_two_aliases_of_600_are_refused_and_nobody_is_looked_up(client, mint, lookups):
    a, b = [new_id(i) for i in range(600)], [new_id(i) for i in range(600, 1200)]
    query = ("{ a: " + FIELD.format(ids=literal(a)) + " b: " + FIELD.format(ids=literal(b))
             + " }")
    assert_too_many(await post(client, mint, query), 1200)
    assert lookups == []


async def test_ids_in_variables_fragments_and_other_operations_count(client, mint, lookups):
    a, b = [new_id(i) for i in range(600)], [new_id(i) for i in range(600, 1200)]
    by_variables = ("query($a: [String!]!, $b: [String!]!) { x: "
                    + FIELD.format(ids="$a") + " y: " + FIELD.format(ids="$b") + " }")
    assert_too_many(await post(client, mint, by_variables, variables={"a": a, "b": b}), 1200)
    in_a_fragment = ("query($a: [String!]!) { x: " + FIELD.format(ids="$a")
                     + " ...F } fragment F on Query { y: " + FIELD.format(ids=literal(b)) + " }")
    assert_too_many(await post(client, mint, in_a_fragment, variables={"a": a}), 1200)
    by_default = ("query($a: [String!]! = " + literal(a) + ") { x: " + FIELD.format(ids="$a")
                  + " y: " + FIELD.format(ids=literal(b)) + " }")
    assert_too_many(await post(client, mint, by_default), 1200)
    two_operations = ("query A { " + FIELD.format(ids=literal(a)) + " } query B { "
                      + FIELD.format(ids=literal(b)) + " }")
    assert_too_many(await post(client, mint, two_operations, operationName="A"), 1200)
    assert lookups == []


async def test_a_repeated_id_counts_once_per_field(client, mint, lookups):
    ids = [new_id(i) for i in range(1000)]
    body = await post(client, mint, "{ " + FIELD.format(ids=literal([*ids, ids[0]])) + " }")
    assert "errors" not in body
    assert lookups == [1001]  # the lookup itself drops the repeat
