"""Bad strings: a NUL character or an unpaired surrogate in anything a client hands in.

A NUL in a string argument (`ordning` of delegerTilgang, say) used to reach PostgreSQL and fail
there; an unpaired surrogate in an id (the JSON escape "\\ud800") used to come back in the
error's extensions, which the encoder cannot write: a 500. Both are now BAD_USER_INPUT naming
the argument (GraphQL, in a 200, before execution) or the field (REST, a 400), for every
string argument of every operation, literal or variable, nested in lists and input objects,
and the bad value is never echoed. The whole suite runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)

from app.api.internals import graphql_schema
from app.api.limits import persons_in_body
from app.delegering.models import Delegering
from app.edge.schema import build_schema, personbegrensning
from app.revisjon.models import Oppslag
from authz.tokens import TokenVerifier
from tests.factories import new_id
from tests.test_edge import edge

ENVS = ("test", "prod")
NUL, SURROGATE = "\x00", "\ud800"
BAD = {"NUL": NUL, "surrogate": SURROGATE}
# Every scope an operation could ask for: the refusal must come before any permission matters.
SCOPES = ("krr:global/kontaktinformasjon.read krr:global/digitalpost.read "
          "krr:global/hentendring.read krr:global/spraak.write krr:admin/folkeregister "
          "krr:admin/delegering.write krr:test/sok.read krr:test/testpersoner.write")
ADMIN_PID = "17912099997"


@pytest.fixture
def verifiers(dev_issuer: Any) -> Callable[[str], TokenVerifier | None]:
    """env -> the verifier to build the app with (prod trusts the dev issuer as a real one)."""
    return lambda env: TokenVerifier({}, dev_issuer=dev_issuer) if env == "prod" else None


def no_echo(response: httpx.Response) -> None:
    """The answer holds neither bad value, raw or escaped (it can always be encoded)."""
    text = response.text
    for echoed in ("\\u0000", "\\ud800", "\\udc00", NUL):
        assert echoed not in text, text


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    no_echo(response)
    return error


def as_json(document: Any) -> bytes:
    """JSON with every non-ASCII character escaped, as "\\ud800" must be (httpx's own
    encoding cannot write an unpaired surrogate)."""
    return json.dumps(document).encode()


async def post(client: httpx.AsyncClient, mint: Any, query: str, variables: Any = None,
               operation: str | None = None, **token: Any) -> httpx.Response:
    token.setdefault("pid", ADMIN_PID)
    body = {"query": query, "variables": variables, "operationName": operation}
    return await client.post("/graphql", content=as_json(body), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {mint(SCOPES, **token)}"})


# --- the cases of the report -------------------------------------------------------------------

DELEGER = 'mutation { delegerTilgang(til: "889640782", ordning: %s) { id } }'
DELEGER_VAR = 'mutation($o: ID!) { delegerTilgang(til: "889640782", ordning: $o) { id } }'


@pytest.mark.parametrize("env", ENVS)
async def test_a_nul_in_ordning_is_refused_before_it_reaches_the_database(
    db, mint, verifiers, env
):
    async with edge(db, env, verifiers(env)) as client:
        literal = await post(client, mint, DELEGER % '"krr-paa-vegne-av\\u0000"')
        variable = await post(client, mint, DELEGER_VAR, {"o": "krr-paa-vegne-av\x00"})
    for response in (literal, variable):
        error = refusal(response)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "ordning",
                                       "field": "delegerTilgang"}
        assert "NUL" in error["message"] and "'ordning'" in error["message"]
    assert await Delegering.all().count() == 0


LOOKUP = "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }"


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
async def test_a_bad_string_in_an_id_is_bad_user_input_not_a_500(db, mint, verifiers, env, bad):
    async with edge(db, env, verifiers(env)) as client:
        response = await post(client, mint, LOOKUP, {"ids": [new_id(1), f"1791209999{bad}"]})
    error = refusal(response)
    assert error["extensions"] == {"code": "BAD_USER_INPUT",
                                   "argument": "personidentifikatorer[1]", "field": "personer"}
    assert await Oppslag.all().count() == 0  # nobody looked up, nothing recorded


@pytest.mark.parametrize("env", ENVS)
async def test_a_surrogate_written_as_raw_utf8_bytes_is_refused_like_an_escaped_one(
    db, mint, verifiers, env
):
    body = (b'{"query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) '
            b'{ status } }", "variables": {"ids": ["\xed\xa0\x80"]}}')
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json",
                                               "Authorization": f"Bearer {mint(SCOPES)}"})
    assert refusal(response)["extensions"]["argument"] == "personidentifikatorer[0]"


@pytest.mark.parametrize("env", ENVS)
async def test_a_surrogate_in_a_literal_is_a_syntax_error_that_does_not_echo_it(
    db, mint, verifiers, env
):
    """The GraphQL lexer refuses an unpaired surrogate in the query text itself."""
    body = b'{"query": "{ personer(personidentifikatorer: [\\"\\ud800\\"]) { status } }"}'
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json",
                                               "Authorization": f"Bearer {mint(SCOPES)}"})
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert "Syntax Error" in error["message"] and "U+D800" in error["message"]
    no_echo(response)


@pytest.mark.parametrize("env", ENVS)
async def test_nested_literals_and_variables_in_input_objects_and_defaults_are_refused(
    db, mint, verifiers, env
):
    cases = [
        ('mutation { endreIdentifikator(fra: "a", til: "b\\u0000") { endret } }', None,
         "til", "endreIdentifikator"),
        ('query($ids: [String!]! = ["x", "y\\u0000"]) { personer(personidentifikatorer: $ids) '
         "{ status } }", None, "personidentifikatorer[1]", "personer"),
        ("mutation($v: String!) { velgSpraak(spraak: $v) { advarsler { kode } } }",
         {"v": SURROGATE}, "spraak", "velgSpraak"),
        ("mutation($k: Kanal!) { sendKode(kanal: $k) { advarsler { kode } } }",
         {"k": SURROGATE}, "kanal", "sendKode"),  # an enum would echo it when coerced
        ('query($n: Int!) { endringer(fraEndringsId: $n) { tilEndringsId } }', {"n": NUL},
         "fraEndringsId", "endringer"),
        ('query One { __typename } query Other { ...G } fragment G on Query { '
         'personer(personidentifikatorer: ["\\u0000"]) { status } }', None,
         "personidentifikatorer[0]", "personer"),
        ("query($b: Boolean!) { __typename @include(if: $b) }", {"b": NUL}, "if", "@include"),
    ]
    if env == "test":
        cases += [
            ('{ sokPersoner(filter: {spraak: "n\\u0000"}) { totalCount } }', None,
             "filter.spraak", "sokPersoner"),
            ("query($f: PersonFilter) { sokPersoner(filter: $f) { totalCount } }",
             {"f": {"spraak": SURROGATE}}, "filter.spraak", "sokPersoner"),
            ("query($f: PersonFilter) { sokPersoner(filter: $f) { totalCount } }",
             {"f": {SURROGATE: 1}}, "filter", "sokPersoner"),  # a bad key: named by its object
        ]
    resident = ('{ meg { oppslag(after: "\\u0000") { edges { cursor } } } }', None, "after",
                "oppslag")
    async with edge(db, env, verifiers(env)) as client:
        for query, variables, argument, field in [*cases, resident]:
            token = {"consumer": None} if field == "oppslag" else {}
            response = await post(client, mint, query, variables,
                                  "Other" if "Other" in query else None, **token)
            error = refusal(response)
            assert (error["extensions"]["argument"], error["extensions"]["field"]) == (
                argument, field), (query, error)


# --- every string argument of every operation --------------------------------------------------


def _harmless(type_: GraphQLInputType) -> Any:
    """A value of the type that is no bad string (the operation is refused before it runs)."""
    if isinstance(type_, GraphQLNonNull):
        return _harmless(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLInputObjectType):
        return {}
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    return {"Int": 1, "Boolean": False, "Date": "2026-06-15"}.get(type_.name, "x")


def _bad(type_: GraphQLInputType, bad: str, path: str) -> tuple[Any, str]:
    """A value of the type's shape holding the bad string, and the path it is found at."""
    if isinstance(type_, GraphQLNonNull):
        return _bad(type_.of_type, bad, path)
    if isinstance(type_, GraphQLList):
        inner, where = _bad(type_.of_type, bad, f"{path}[0]")
        return [inner], where
    if isinstance(type_, GraphQLInputObjectType):
        name, field = next((n, f) for n, f in type_.fields.items()
                           if get_named_type(f.type).name == "String")
        inner, where = _bad(field.type, bad, f"{path}.{name}")
        return {name: inner}, where
    return bad, path


def _arguments(env: str) -> list[Any]:
    schema = graphql_schema(build_schema(prod=env == "prod"))
    cases = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert isinstance(root, GraphQLObjectType)
        for field_name, field in root.fields.items():
            for argument_name in field.args:
                cases.append(pytest.param(env, kind, field_name, field, argument_name,
                                          id=f"{env} {field_name}({argument_name})"))
    return cases


def _document(kind: str, name: str, field: GraphQLField) -> str:
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    return f"{kind}({declared}) {{ {name}({passed}){selection} }}"


@pytest.mark.parametrize(("env", "kind", "name", "field", "argument"),
                         [*_arguments("test"), *_arguments("prod")])
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
async def test_every_argument_of_every_operation_refuses_bad_strings_in_variables(
    db, mint, verifiers, env, kind, name, field, argument, bad
):
    """Whatever the argument's type (a string, a list of them, an input object, or an enum or
    number that coercion would echo), a bad string in its variable names the argument."""
    args: dict[str, GraphQLArgument] = field.args
    variables = {a: _harmless(arg.type) for a, arg in args.items()}
    variables[argument], where = _bad(args[argument].type, bad, argument)
    async with edge(db, env, verifiers(env)) as client:
        response = await post(client, mint, _document(kind, name, field), variables)
    error = refusal(response)
    assert (error["extensions"]["argument"], error["extensions"]["field"]) == (where, name)


@pytest.mark.parametrize(("env", "kind", "name", "field", "argument"),
                         [p for p in [*_arguments("test"), *_arguments("prod")]
                          if get_named_type(p.values[3].args[p.values[4]].type).name
                          in ("String", "ID")])
async def test_every_string_argument_refuses_a_nul_in_a_literal(
    db, mint, verifiers, env, kind, name, field, argument
):
    """The argument written out in the document (a NUL as GraphQL's escape), the others in
    variables."""
    args: dict[str, GraphQLArgument] = field.args
    others = {a: arg for a, arg in args.items() if a != argument}
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in others.items())
    value, where = _bad(args[argument].type, "\\u0000", argument)
    passed = ", ".join([f"{argument}: {_literal(value)}", *(f"{a}: ${a}" for a in others)])
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    document = f"{kind}{f'({declared})' if others else ''} {{ {name}({passed}){selection} }}"
    variables = {a: _harmless(arg.type) for a, arg in others.items()}
    async with edge(db, env, verifiers(env)) as client:
        response = await post(client, mint, document, variables)
    error = refusal(response)
    assert (error["extensions"]["argument"], error["extensions"]["field"]) == (where, name)


def _literal(value: Any) -> str:
    """A GraphQL literal of a bad value from `_bad` (its string already escaped for GraphQL)."""
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    return f'"{value}"'


# --- the rate limit and the request itself ---------------------------------------------------


def test_a_surrogate_elsewhere_in_the_body_does_not_dodge_the_persons_count():
    """orjson refuses the body, the view read it all the same: the count reads it as the view
    does, so three ids are charged whatever else the body holds."""
    body = orjson.dumps({"query": LOOKUP, "variables": {
        "ids": [new_id(1), new_id(2), new_id(3)], "padding": "PAD"}}).replace(b"PAD", b"\\ud800")
    assert persons_in_body(body, personbegrensning(), 5000) == 3


@pytest.mark.parametrize("env", ENVS)
async def test_an_operation_name_with_a_surrogate_is_a_400_not_a_500(db, mint, verifiers, env):
    body = b'{"query": "{ __typename }", "operationName": "Q\\ud800"}'
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json",
                                               "Authorization": f"Bearer {mint(SCOPES)}"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    no_echo(response)


@pytest.mark.parametrize("env", ENVS)
async def test_json_nested_deeper_than_python_recurses_is_a_400_not_a_500(
    db, mint, verifiers, env
):
    variables = b"[" * 100_000 + b"]" * 100_000
    body = b'{"query": "{ __typename }", "variables": {"x": ' + variables + b"}}"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {mint(SCOPES)}"}
    async with edge(db, env, verifiers(env)) as client:
        graphql = await client.post("/graphql", content=body, headers=headers)
        rest = await client.post("/rest/v2/personer", headers=headers,
                                 content=b'{"personidentifikatorer": ' + variables + b"}")
    assert graphql.status_code == 400, graphql.text
    assert graphql.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert rest.status_code == 400, rest.text
    assert rest.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- REST ---------------------------------------------------------------------------------------

REST = {
    "personer, escaped surrogate": (
        "/rest/v2/personer", b'{"personidentifikatorer": ["17912099997", "\\ud800"]}',
        "personidentifikatorer[1]"),
    "personer, raw surrogate bytes": (
        "/rest/v2/personer", b'{"personidentifikatorer": ["\xed\xa0\x80"]}',
        "personidentifikatorer[0]"),
    "personer, NUL": (
        "/rest/v2/personer", b'{"personidentifikatorer": ["1791209999\\u0000"]}',
        "personidentifikatorer[0]"),
    "personer, NUL in another field": (
        "/rest/v2/personer",
        b'{"personidentifikatorer": ["17912099997"], "merknad": {"tekst": ["\\u0000"]}}',
        "merknad.tekst[0]"),
    "hentEndringer, surrogate": (
        "/rest/v2/krr/hentEndringer", b'{"fraEndringsId": 0, "x": "\\udc00"}', "x"),
    "hentEndringer, NUL in a key": (
        "/rest/v2/krr/hentEndringer", b'{"fraEndringsId": 0, "a\\u0000": 1}', None),
}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("case", REST)
async def test_rest_bodies_with_bad_strings_are_400_naming_the_field(
    db, mint, verifiers, env, case
):
    path, body, field = REST[case]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {mint(SCOPES)}"}
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    if field is None:
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}
        assert error["message"].startswith("The request body holds a key that contains")
    else:
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
        assert error["message"].startswith(f"{field} contains")
    no_echo(response)
    assert await Oppslag.all().count() == 0
