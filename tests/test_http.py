"""The HTTP edge: no token, no data; GET never runs a query; dev-only GraphiQL/introspection."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from app.edge import graphql
from app.edge.app import create_app
from app.edge.schema import build_schema
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

QUERY = {"query": "{ personer(personidentifikatorer: [\"17912099997\"]) { status } }"}


# No bearer token presented: no Authorization header, or one of another scheme or without a
# token. RFC 6750 3.1: the challenge then names no error.
NO_TOKEN = frozenset({"missing", "malformed header"})


def assert_401(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401
    if reason in NO_TOKEN:
        assert response.headers["www-authenticate"] == "Bearer"
        reason = reason.removesuffix(" header")
    else:
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}


async def test_missing_token_is_401(client):
    assert_401(await client.post("/graphql", json=QUERY), "missing")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    "])
async def test_malformed_authorization_header_is_401(client, header):
    response = await client.post("/graphql", json=QUERY, headers={"Authorization": header})
    assert_401(response, "malformed header")


async def test_garbage_token_is_401(client):
    headers = {"Authorization": "Bearer abc.def.ghi"}
    response = await client.post("/graphql", json=QUERY, headers=headers)
    assert response.status_code == 401
    assert "data" not in response.json()


async def test_expired_token_is_401_and_says_so(client, mint):
    issued = int(FIXED_NOW.timestamp())  # the dev issuer's clock is real time; FIXED_NOW is past
    token = mint("krr:global/kontaktinformasjon.read",
                 extra_claims={"iat": issued, "exp": issued + 120})
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post("/graphql", json=QUERY, headers=headers)
    assert_401(response, "expired")
    assert "expired" in response.json()["errors"][0]["message"].lower()


async def test_valid_token_gets_data(client, mint):
    pid = new_id(50)
    await person(pid)
    query = {"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'}
    headers = {"Authorization": f"Bearer {mint('krr:global/kontaktinformasjon.read')}"}
    response = await client.post("/graphql", json=query, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"personer": [{"status": "AKTIV"}]}}


async def test_get_never_runs_a_query(client, mint):
    pid = new_id(51)
    await person(pid)
    response = await client.get(
        "/graphql",
        params={"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'},
        headers={"Authorization": f"Bearer {mint()}", "Accept": "application/json"},
    )
    assert response.status_code == 405
    assert "AKTIV" not in response.text


async def test_graphiql_and_introspection_are_on_outside_prod(client, mint):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    response = await client.post(
        "/graphql", json={"query": "{ __schema { queryType { name } } }"},
        headers={"Authorization": f"Bearer {mint()}"},
    )
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_prod_has_no_graphiql_no_introspection_and_no_dev_issuer(db, mint):
    prod = dataclasses.replace(db, env="prod")
    app = create_app(prod, clock=lambda: FIXED_NOW, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr") as c:
        page = await c.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        # The development issuer's tokens are worthless in prod.
        headers = {"Authorization": f"Bearer {mint()}"}
        response = await c.post("/graphql", json=QUERY, headers=headers)
        assert_401(response, "unknown_issuer")


async def test_prod_refuses_introspection(db, dev_issuer, mint):
    prod = dataclasses.replace(db, env="prod")
    # Trust the dev key explicitly (as if it were a real issuer) to reach the GraphQL layer.
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)
    app = create_app(prod, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr") as c:
        response = await c.post(
            "/graphql", json={"query": "{ __schema { queryType { name } } }"},
            headers={"Authorization": f"Bearer {mint()}"},
        )
    body = response.json()
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_without_a_token_only_public_aggregates_may_be_asked(client):
    def offentlig(query: str) -> bool:
        return graphql.offentlig(query, graphql.offentlige_felt(build_schema()))

    assert offentlig("{ __typename }")
    assert offentlig("query Q { statistikk { __typename } }")
    for query in (
        "{ statistikk { __typename } personer(personidentifikatorer: []) { status } }",
        "mutation { reserver { advarsler { kode } } }",
        "{ ...F } fragment F on Query { personer(personidentifikatorer: []) { status } }",
        "{ __typename } query Other { personer { status } }",
        "{ statistikk { __typename ",
    ):
        assert not offentlig(query), query
    for body in (b"not json", b'{"query": 42}', b'{"query": "{ statistikk { __typename } '
                 b'personer(personidentifikatorer: []) { status } }"}'):
        response = await client.post("/graphql", content=body,
                                     headers={"content-type": "application/json"})
        assert_401(response, "missing")
    # Over HTTP: a public-only query reaches GraphQL without a token, anything else is 401.
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert_401(await client.post("/graphql", json=QUERY), "missing")
