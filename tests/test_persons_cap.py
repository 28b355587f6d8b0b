"""The persons cap counts every field that returns persons, not the lookup alone.

One request may ask for at most 1000 persons however they are spread: the lookup by its
distinct ids, the change feed (`endringer`) by `antall` (a full page, 1000, when left out), the
search (`sokPersoner`) by `first` (50 when left out) and `opprettTestpersoner` by `antall`.
Over the cap, the request is refused (TOO_MANY_PERSONS) before anything is read or created;
one field over its own maximum keeps that field's own BAD_USER_INPUT. The rate limit charges
the same count, and REST's feed page what GraphQL's does. Prod has no search and no test
persons, so there those attacks meet a schema without the fields.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from graphql import Undefined

from app.api.internals import graphql_schema
from app.api.limits import persons_in_body
from app.config import Limits, Rate
from app.edge.ratelimit import MemoryLimiter
from app.edge.schema import build_schema, personbegrensning
from app.personer import register
from app.personer.models import Person
from app.personer.rest import antall_personer
from app.testdata import store as testdata
from authz.tokens import TokenVerifier
from tests.conftest import spy_calls
from tests.factories import new_id
from tests.test_edge import edge
from tests.test_ratelimit import FakeClock

ENVS = ("test", "prod")
HENTENDRING = "krr:global/hentendring.read"
KONTAKT = "krr:global/kontaktinformasjon.read"
SOK = "krr:test/sok.read"
WRITE = "krr:test/testpersoner.write"
ALT = f"{HENTENDRING} {KONTAKT} {SOK} {WRITE}"


def page(alias: str, antall: int | str | None = None) -> str:
    argument = "" if antall is None else f", antall: {antall}"
    return f"{alias}: endringer(fraEndringsId: 0{argument}) {{ tilEndringsId }}"


def lookup(alias: str, n: int, start: int = 0) -> str:
    ids = ", ".join(f'"{new_id(i)}"' for i in range(start, start + n))
    return f"{alias}: personer(personidentifikatorer: [{ids}]) {{ status }}"


def search(alias: str, first: int | str | None = None) -> str:
    argument = "" if first is None else f"(first: {first})"
    return f"{alias}: sokPersoner{argument} {{ totalCount }}"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions that read or create persons, each time one is called."""
    return spy_calls(monkeypatch, ((register, "hent_personer"), (register, "hent_endringer"),
                                   (testdata, "side"), (testdata, "tell"),
                                   (testdata, "opprett_testpersoner")))


@pytest.fixture
def verifiers(dev_issuer: Any) -> Any:
    """env -> the verifier to build the app with (prod trusts the dev issuer as a real one)."""
    return lambda env: TokenVerifier({}, dev_issuer=dev_issuer) if env == "prod" else None


async def ask(db: Any, env: str, verifier: Any, mint: Any, query: str,
              variables: dict[str, Any] | None = None, limiter: Any = None) -> dict[str, Any]:
    async with edge(db, env, verifier, limiter) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {mint(ALT)}"},
        )
    assert response.status_code == 200, response.text
    return response.json()


def refused(body: dict[str, Any], antall: int) -> None:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "TOO_MANY_PERSONS", "antall": antall, "maks": 1000}


def served(body: dict[str, Any]) -> None:
    assert "errors" not in body, body


# --- the feed --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
async def test_thirty_aliased_feed_pages_are_refused_before_the_feed_is_read(
    db, mint, verifiers, reads, env
):
    """30 aliases of `endringer(antall: 1000)`: 30,000 persons in one request."""
    query = "{ " + " ".join(page(f"p{i}", 1000) for i in range(30)) + " }"
    refused(await ask(db, env, verifiers(env), mint, query), 30_000)
    assert reads == []


@pytest.mark.parametrize("env", ENVS)
async def test_feed_pages_without_antall_count_a_full_page(db, mint, verifiers, reads, env):
    refused(await ask(db, env, verifiers(env), mint, "{ " + page("a") + " " + page("b") + " }"),
            2000)
    by_variable = ("query($n: Int, $m: Int) { " + page("a", "$n") + " " + page("b", "$m")
                   + " }")
    refused(await ask(db, env, verifiers(env), mint, by_variable, {"n": 600, "m": None}), 1600)
    by_default = "query($n: Int = 700) { " + page("a", "$n") + " " + page("b", "$n") + " }"
    refused(await ask(db, env, verifiers(env), mint, by_default), 1400)
    assert reads == []
    served(await ask(db, env, verifiers(env), mint, "{ " + page("a", 500) + " "
                     + page("b", 500) + " }"))
    assert reads == ["hent_endringer", "hent_endringer"]


@pytest.mark.parametrize("env", ENVS)
async def test_a_feed_page_beside_a_lookup_is_refused_over_the_cap(db, mint, verifiers, reads,
                                                                    env):
    refused(await ask(db, env, verifiers(env), mint,
                      "{ " + page("f", 600) + " " + lookup("l", 500) + " }"), 1100)
    assert reads == []
    served(await ask(db, env, verifiers(env), mint,
                     "{ " + page("f", 500) + " " + lookup("l", 500) + " }"))


@pytest.mark.parametrize("env", ENVS)
async def test_feed_pages_in_fragments_count_each_spread(db, mint, verifiers, reads, env):
    query = ("{ ...A ...B ... on Query { " + page("c", 400) + " } } "
             "fragment A on Query { " + page("a", 400) + " } "
             "fragment B on Query { ...A " + page("b", 400) + " }")
    refused(await ask(db, env, verifiers(env), mint, query), 1600)
    other_operation = ("query One { " + page("a", 600) + " } query Two { " + page("b", 600)
                       + " }")
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post("/graphql", json={
            "query": other_operation, "operationName": "One"},
            headers={"Authorization": f"Bearer {mint(ALT)}"})
    refused(response.json(), 1200)
    assert reads == []


@pytest.mark.parametrize("env", ENVS)
async def test_one_feed_page_over_its_own_maximum_stays_bad_user_input(db, mint, verifiers,
                                                                       reads, env):
    body = await ask(db, env, verifiers(env), mint, "{ " + page("a", 5000) + " }")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "antall must be from 1 to 1000" in error["message"]
    assert reads == []


# --- search and test persons (not in prod) ----------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
async def test_aliased_searches_are_refused_before_the_register_is_searched(
    db, mint, verifiers, reads, env
):
    """21 searches of the default 50 are 1050 persons; prod has no search at all."""
    bodies = [
        await ask(db, env, verifiers(env), mint,
                  "{ " + " ".join(search(f"s{i}") for i in range(21)) + " }"),
        await ask(db, env, verifiers(env), mint,
                  "query($f: Int) { " + search("a", "$f") + " " + search("b", 1) + " }",
                  {"f": 1000}),
    ]
    if env == "prod":
        for body in bodies:
            assert body["data"] is None
            assert "Cannot query field 'sokPersoner'" in body["errors"][0]["message"]
    else:
        refused(bodies[0], 1050)
        refused(bodies[1], 1001)
    assert reads == []


async def test_aliased_test_person_creation_is_refused_before_anything_is_created(
    db, mint, verifiers, reads
):
    create = "{n}: opprettTestpersoner(antall: 600, profil: FULL) {{ status }}"
    body = await ask(db, "test", verifiers("test"), mint,
                     "mutation { " + create.format(n="a") + " " + create.format(n="b") + " }")
    refused(body, 1200)
    assert reads == []
    assert await Person.all().count() == 0


# --- the rate limit charges the same --------------------------------------------------------


def charged(query: str, variables: dict[str, Any] | None = None, *, prod: bool = False) -> int:
    body = orjson.dumps({"query": query, "variables": variables or {}})
    return persons_in_body(body, personbegrensning(prod=prod), 5000)


def test_the_rate_limit_counts_every_field_that_returns_persons():
    assert charged("{ " + page("a") + " }") == 1000
    assert charged("{ " + page("a", 10) + " " + page("b", 20) + " }") == 30
    assert charged("query($n: Int) { " + page("a", "$n") + " }", {"n": 7}) == 7
    assert charged("query($n: Int) { " + page("a", "$n") + " }", {"n": None}) == 1000
    assert charged("{ " + search("a") + " " + search("b", 3) + " }") == 53
    assert charged("mutation { opprettTestpersoner(antall: 12, profil: FULL) { status } }") == 12
    assert charged("{ " + lookup("a", 3) + " ...F ...F } fragment F on Query { "
                   + page("f", 5) + " }") == 13
    # over a field's own maximum: counted as the maximum (the field refuses itself)
    assert charged("{ " + page("a", 5000) + " }") == 1000
    # prod has no test fields: the search counts nothing there (GraphQL refuses it unread)
    assert charged("{ " + search("a") + " }", prod=True) == 0


def test_rest_lookups_are_charged_their_distinct_ids_as_graphql_counts_them():
    ids = [new_id(i) for i in range(3)]
    assert antall_personer(orjson.dumps({"personidentifikatorer": [*ids, ids[0]]})) == 3
    assert charged("{ personer(personidentifikatorer: " + orjson.dumps([*ids, ids[0]]).decode()
                   + ") { status } }") == 3


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("first", ["graphql", "rest"])
async def test_a_feed_page_charges_a_full_page_over_graphql_and_rest_alike(
    db, mint, verifiers, env, first
):
    """1500 persons of burst: one page of the feed (1000) fits, a second does not, whichever
    way each is asked."""
    limiter = MemoryLimiter(Limits(Rate(1000, 1000), Rate(0.01, 1500)), clock=FakeClock())
    token = {"Authorization": f"Bearer {mint(ALT)}"}
    graphql = {"json": {"query": "{ " + page("a") + " }"}}
    rest = {"json": {"fraEndringsId": 0}}
    order = [("/graphql", graphql), ("/rest/v2/krr/hentEndringer", rest)]
    if first == "rest":
        order.reverse()
    async with edge(db, env, verifiers(env), limiter) as client:
        ok = await client.post(order[0][0], headers=token, **order[0][1])
        limited = await client.post(order[1][0], headers=token, **order[1][1])
        small = await client.post("/graphql", headers=token,
                                  json={"query": "{ " + page("a", 10) + " }"})
    assert ok.status_code == 200, ok.text
    assert limited.status_code == 429, limited.text
    assert small.status_code == 200, small.text  # 10 persons still fit


def test_prod_and_test_count_the_same_fields_but_the_test_registers():
    assert {f.felt for f in personbegrensning(prod=True).felt} == {"personer", "endringer"}
    assert {f.felt for f in personbegrensning().felt} == {
        "personer", "endringer", "sokPersoner", "opprettTestpersoner"}
    assert personbegrensning().maks == personbegrensning(prod=True).maks == 1000


@pytest.mark.parametrize("prod", [False, True], ids=["test", "prod"])
def test_every_declared_person_field_is_a_root_field_with_its_argument(prod):
    """The declarations name what the schema has: a root field, its argument and, for a count,
    the argument's default."""
    schema = graphql_schema(build_schema(prod=prod))
    assert schema.query_type is not None and schema.mutation_type is not None
    for felt in personbegrensning(prod=prod).felt:
        field = (schema.query_type.fields.get(felt.felt)
                 or schema.mutation_type.fields.get(felt.felt))
        assert field is not None, felt
        argument = field.args[felt.argument]
        if not felt.teller_ider and argument.default_value is not Undefined:
            assert argument.default_value == felt.standard, felt
