"""GraphQL over HTTP: the answer's media type and status codes, GET refused, persisted and
trusted operations; and graphql-http's audit of the spec against a live `krr serve`."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.edge.app import create_app
from authz.tokens import TokenVerifier
from tests.conftest import CONSUMER, FIXED_NOW, ROOT
from tests.factories import new_id, person
from tests.servers import krr_serving
from tests.test_cli import krr

GRAPHQL = "/graphql"
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
KONTAKT = "krr:global/kontaktinformasjon.read"
LOOKUP = "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }"
TWICE = ("query($ids: [String!]!) { a: personer(personidentifikatorer: $ids) { status } "
         "b: personer(personidentifikatorer: $ids) { status } }")
AUDIT = ROOT / "tests" / "graphql_http" / "audit.mjs"
AUDIT_PACKAGE = ROOT / "tests" / "graphql_http" / "node_modules" / "graphql-http"


def auth(mint, scope: str = KONTAKT, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(scope)}", **headers}


@pytest.fixture(params=["dev", "prod"])
async def env_client(request, db: Settings, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    """The app in test and in prod (the dev issuer trusted explicitly in prod, as if it were a
    real issuer, so requests reach GraphQL)."""
    settings = dataclasses.replace(db, env=request.param)
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)
    app = create_app(settings, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


# --- the answer's media type and status -------------------------------------------------------

@pytest.mark.parametrize("accept", [None, "*/*", JSON, f"{JSON}, {GRAPHQL_RESPONSE};q=0.5"])
async def test_json_is_answered_with_200_for_every_graphql_error(env_client, mint, accept):
    headers = auth(mint) if accept is None else auth(mint, Accept=accept)
    for body in ({"query": "{ personer("}, {"query": "{ ukjentFelt }"},
                 {"query": LOOKUP, "variables": {"ids": 17}}):
        response = await env_client.post(GRAPHQL, json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == JSON
        assert response.json()["data"] is None
        assert response.json()["errors"]


@pytest.mark.parametrize("accept", [
    GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", f"{JSON}, {GRAPHQL_RESPONSE}",
])
async def test_graphql_response_json_refused_before_execution_is_400_without_data(
    env_client, mint, accept
):
    headers = auth(mint, Accept=accept)
    for body in (
        {"query": "{ personer("},  # does not parse
        {"query": "{ ukjentFelt }"},  # does not validate
        {"query": LOOKUP, "variables": {"ids": 17}},  # variables do not coerce
        {"query": TWICE, "variables": {"ids": [new_id(i) for i in range(600)]}},  # persons cap
    ):
        response = await env_client.post(GRAPHQL, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        assert "data" not in response.json()
        assert response.json()["errors"]


async def test_graphql_response_json_once_execution_started_is_200_with_data(env_client, mint):
    pid = new_id(70)
    await person(pid)
    headers = auth(mint, Accept=GRAPHQL_RESPONSE)
    response = await env_client.post(GRAPHQL, json={"query": LOOKUP, "variables": {"ids": [pid]}},
                                     headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    # A field error (no scope for it) is execution's: 200, data present.
    refused = await env_client.post(GRAPHQL, json={"query": LOOKUP, "variables": {"ids": [pid]}},
                                    headers=auth(mint, "", Accept=GRAPHQL_RESPONSE))
    assert refused.status_code == 200
    assert "data" in refused.json()
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_refusals_of_the_http_request_stay_the_one_json_shape(client, mint):
    """The edge's refusals, and strawberry's of a request it cannot run (here an unknown
    operationName), keep their status and the one error shape, in application/json."""
    for body, headers, status, code in (
        ({"query": LOOKUP}, {}, 401, "UNAUTHENTICATED"),
        ({"query": "query A { __typename }", "operationName": "B"}, auth(mint), 400,
         "BAD_REQUEST"),
    ):
        response = await client.post(GRAPHQL, json=body,
                                     headers={**headers, "Accept": GRAPHQL_RESPONSE})
        assert response.status_code == status
        assert response.headers["content-type"] == JSON
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"] == code


# --- GET ----------------------------------------------------------------------------------------

GET_REFUSED = ("Send GraphQL operations by POST: a query in a URL would put personal ids in "
               "access logs")


def assert_get_refused(response: httpx.Response) -> None:
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == JSON
    assert response.json() == {"errors": [{"message": GET_REFUSED,
                                           "extensions": {"code": "METHOD_NOT_ALLOWED"}}]}


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("params", "accept"), [
    ({"query": "{ __typename }"}, JSON),
    ({"query": "{ __typename }"}, BROWSER),  # a query in the URL, even from a browser
    ({"extensions": '{"persistedQuery":{"version":1,"sha256Hash":"00"}}'}, BROWSER),
    ({}, JSON),
    ({}, GRAPHQL_RESPONSE),
    ({}, "*/*"),
    ({}, None),
])
async def test_get_is_refused_with_a_code_and_says_to_use_post(env_client, mint, params, accept):
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    if accept is not None:
        headers["Accept"] = accept
    assert_get_refused(await env_client.get(GRAPHQL, params=params, headers=headers))


async def test_a_browser_gets_graphiql_outside_prod_only(db):
    for env, page in (("test", True), ("prod", False)):
        app = create_app(dataclasses.replace(db, env=env), clock=lambda: FIXED_NOW,
                         manage_db=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://krr.test") as c:
            response = await c.get(GRAPHQL, headers={"Accept": BROWSER})
        if page:
            assert response.status_code == 200
            assert "graphiql" in response.text.lower()
        else:
            assert_get_refused(response)


# --- graphql-http's audit -----------------------------------------------------------------------

# The audits that may stay unmet, each a deliberate choice (anything else not "ok" fails).
DELIBERATE = {
    "5A70": "GET is refused: a query in a URL would put personal ids in access logs",
    "D6D5": "GET is refused (as 5A70)",
    "6A70": "GET is refused (as 5A70)",
}


def test_graphql_http_audit_finds_no_failure_and_no_warning(cli_env):
    node = shutil.which("node")
    if node is None or not AUDIT_PACKAGE.exists():
        pytest.fail("node or graphql-http is missing: run `make test` (or `make graphql-http`), "
                    "which installs it from tests/graphql_http/package.json")
    token = krr(cli_env, "token", "--scope", KONTAKT, "--consumer", CONSUMER).stdout.strip()
    with krr_serving(cli_env) as base:
        run = subprocess.run([node, str(AUDIT), f"{base}{GRAPHQL}", f"Bearer {token}"],
                             capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(run.stdout)
    assert len(results) > 50  # the audits ran
    unmet = {r["id"]: f"{r['status']}: {r['name']} ({r['reason']})"
             for r in results if r["status"] != "ok"}
    assert unmet.keys() - DELIBERATE.keys() == set(), unmet
    assert all(r["status"] == "notice" for r in results if r["id"] in DELIBERATE)

