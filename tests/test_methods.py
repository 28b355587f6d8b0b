"""OPTIONS and `Allow` (app.edge.methods): every route of the app, in test and in prod, says in
a plain OPTIONS which methods it serves, and those are exactly the methods that are not refused
405; a 405 names no more than OPTIONS does (the router's the same, a handler's its own: GET
/graphql says to POST). An OPTIONS needs no token and is not charged."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from app.config import Limits, Rate, Settings
from app.edge.app import create_app
from app.edge.ratelimit import MemoryLimiter
from tests.conftest import CONSUMER, FIXED_NOW

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Browsers' Accept for a page: GET /graphql serves GraphiQL to it outside prod.
PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PARAMETER = re.compile(r"\{[^}]+\}")
ONE_REQUEST = Limits(Rate(0.1, 1), Rate(1000, 1000))  # one request, then 429 (past KRR_RATE_WAIT)


def concrete(route: Route | Mount) -> str:
    """A path the route serves: an organisation number or an id for each parameter."""
    if isinstance(route, Mount):
        return f"{route.path}/graphiql-start.css"
    return PARAMETER.sub(lambda m: CONSUMER if m.group() == "{orgnr}" else "1", route.path)


@asynccontextmanager
async def app_in(settings: Settings, env: str,
                 limiter: MemoryLimiter | None = None) -> AsyncIterator[
                     tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(dataclasses.replace(settings, env=env), clock=lambda: FIXED_NOW,
                     manage_db=False,
                     limiter=limiter or MemoryLimiter(Limits(Rate(1e6, 1e6), Rate(1e6, 1e6))))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield app, client


def allowed(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_options_names_exactly_the_methods_each_route_serves(db, env):
    async with app_in(db, env) as (app, client):
        paths = {concrete(r) for r in app.router.routes if isinstance(r, (Route, Mount))}
        assert {"/graphql", "/rest/v1/personer", "/rest/v2/personer", "/admin",
                f"/admin/organisasjon/{CONSUMER}/gi", "/statistikk", "/healthz", "/hjelp",
                "/kontakt", "/tilgjengelighet"} <= paths
        for path in sorted(paths):
            options = await client.options(path)
            assert options.status_code == 204, path
            assert options.content == b""
            served = allowed(options)
            assert "OPTIONS" in served and "ratelimit" not in options.headers, path
            assert ("HEAD" in served) == ("GET" in served), path
            for method in METHODS:
                answer = await client.request(method, path, headers=PAGE)
                refused = answer.status_code == 405
                assert refused == (method not in served), (path, method, answer.status_code)
                if refused:  # the router's names what OPTIONS names; a handler's, no more
                    assert method not in allowed(answer), (path, method)
                    assert allowed(answer) <= served, (path, method)
                    if path != "/graphql":
                        assert allowed(answer) == served, (path, method)


@pytest.mark.parametrize(("env", "graphql"), [("test", "GET, HEAD, OPTIONS, POST"),
                                              ("prod", "OPTIONS, POST")])
async def test_each_kind_of_route_tells_its_methods(db, env, graphql):
    """GraphQL (GET is GraphiQL's page, outside prod only), REST, the pages for people, a
    page and its form at one path, static files; a path nothing serves is 404."""
    async with app_in(db, env) as (_, client):
        for path, expected in (
            ("/graphql", graphql),
            ("/rest/v1/personer", "OPTIONS, POST"),
            ("/rest/v2/personer", "OPTIONS, POST"),
            ("/rest/v2/krr/hentEndringer", "OPTIONS, POST"),
            ("/rest/v2/printSertifikat", "GET, HEAD, OPTIONS"),
            ("/.well-known/jwks.json", "GET, HEAD, OPTIONS"),
            ("/admin", "GET, HEAD, OPTIONS"),
            (f"/admin/organisasjon/{CONSUMER}/gi", "GET, HEAD, OPTIONS, POST"),
            ("/admin/logg-ut", "OPTIONS, POST"),
            ("/statisk/krr.css", "GET, HEAD, OPTIONS"),
        ):
            response = await client.options(path)
            assert (response.status_code, response.headers["allow"]) == (204, expected), path
            put = await client.put(path)
            assert (put.status_code, put.headers["allow"]) == (405, expected), path
        missing = await client.options("/rest/v2/ukjent")
        assert missing.status_code == 404 and "allow" not in missing.headers
        assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_options_needs_no_token_and_is_not_charged(db):
    async with app_in(db, "prod", MemoryLimiter(ONE_REQUEST, clock=lambda: 0.0)) as (_, client):
        for _ in range(5):
            assert (await client.options("/graphql")).status_code == 204
            assert (await client.options("/rest/v2/personer")).status_code == 204
        public = await client.post("/graphql", json={"query": "{ __typename }"})
        assert public.status_code == 200, public.text  # the one request the budget holds
        assert (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 429
