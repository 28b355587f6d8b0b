"""Pages on other origins calling the API (app.edge.cors, KRR_CORS_ORIGINS).

In process, in test and in prod: a preflight from an allowed origin on every API route is
allowed with the route's methods and the headers the API reads, without a token, a media type
or a rate charge; from any other origin, or on the pages for people, it is refused naming
nothing; every answer of the API varies on Origin, and to an allowed origin names it and
exposes what clients read back, a 401 and a 429 as much as a 200; never credentials, never a
cookie.

In a real browser (Debian's headless Chromium through Playwright): `krr serve` as `make run`
starts it (dev, no KRR_CORS_ORIGINS: pages on this machine may call) and as an operator names
one origin; a page served from another origin (another port, or another name that Chromium
resolves to 127.0.0.1) calls GraphQL and REST with fetch(), a bearer token and JSON, and reads
the answer and the exposed headers, or is blocked by the browser.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.config import CorsOrigins, Limits, Rate, Settings
from app.edge.app import create_app
from app.edge.cors import for_programs
from app.edge.ratelimit import MemoryLimiter
from app.edge.signed import JWKS_PATH
from app.personer import register
from authz.dev_issuer import DevIssuer
from authz.tokens import TokenVerifier
from tests.conftest import CONSUMER, FIXED_NOW
from tests.servers import krr_serving, serve_bytes
from tests.servers import run_krr as krr

KUNDE = "https://kunde.example"  # the agency's front end, allowed
ORIGINS = CorsOrigins(frozenset({KUNDE}))
KONTAKT = "krr:global/kontaktinformasjon.read"
LOOKUP = {"query": 'query { personer(personidentifikatorer: ["17912099997"]) { status } }'}
PERSONER_BODY = {"personidentifikatorer": ["17912099997"]}
REQUESTED = "authorization,content-type,x-request-id"  # what fetch() below asks for
READ = {"authorization", "content-type", "accept", "x-request-id"}
EXPOSED = {"ratelimit", "ratelimit-policy", "retry-after", "x-request-id", "www-authenticate"}
ONE_REQUEST = Limits(Rate(0.1, 1), Rate(1000, 1000))  # one, then 429 (10 s: past KRR_RATE_WAIT)


def api_routes(env: str) -> dict[str, str]:
    """Every route pages on other origins may call, and the methods they are allowed."""
    routes = {"/graphql": "GET, POST" if env != "prod" else "POST",
              "/rest/v1/personer": "POST", "/rest/v1/mf/personer": "POST",
              "/rest/v2/personer": "POST", "/rest/v2/krr/hentEndringer": "POST",
              "/rest/v2/printSertifikat": "GET", JWKS_PATH: "GET"}
    if env != "prod":
        routes["/export/personer.csv"] = "GET"
    return routes


@asynccontextmanager
async def app_in(settings: Settings, env: str, origins: CorsOrigins = ORIGINS,
                 limiter: MemoryLimiter | None = None,
                 dev_issuer: DevIssuer | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app in `env` with `origins`; in prod trusting `dev_issuer` as if it were a real
    issuer (as tests/test_edge.py does)."""
    settings = dataclasses.replace(settings, env=env, cors_origins=origins)
    verifier = TokenVerifier({}, dev_issuer=dev_issuer) if dev_issuer and env == "prod" else None
    app = create_app(settings, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False,
                     limiter=limiter)
    assert {r.path for r in app.router.routes if for_programs(r.path)} == set(api_routes(env))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield client


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": REQUESTED}


def cors_fields(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def varies_on_origin(response: httpx.Response) -> bool:
    return "origin" in {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def names(value: str) -> set[str]:
    return {v.strip().lower() for v in value.split(",")}


# --- preflights ---------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_preflight_from_an_allowed_origin_is_allowed_on_every_api_route(db, env):
    async with app_in(db, env, limiter=MemoryLimiter(ONE_REQUEST, clock=lambda: 0.0)) as client:
        for path, methods in api_routes(env).items():
            response = await client.options(path, headers=preflight(KUNDE, methods.split(", ")[-1]))
            assert response.status_code == 204, (path, response.text)
            fields = cors_fields(response)
            assert fields.pop("access-control-allow-origin") == KUNDE
            assert fields.pop("access-control-allow-methods") == methods, path
            assert names(fields.pop("access-control-allow-headers")) == READ
            assert 0 < int(fields.pop("access-control-max-age")) <= 7200  # Chromium's cap
            assert fields == {}, fields  # never Allow-Credentials
            assert varies_on_origin(response)
            assert "set-cookie" not in response.headers and "ratelimit" not in response.headers
        # No token, no body, no media type: neither refused nor charged (the one request an
        # anonymous caller's budget holds is still there).
        public = await client.post("/graphql", json={"query": "{ __typename }"})
        assert public.status_code == 200, public.text


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_preflight_from_another_origin_is_refused_naming_nothing(db, env):
    others = ("https://fremmed.example", "https://kunde.example:8443", "http://kunde.example",
              "https://kunde.example.fremmed.example", "null", "https://KUNDE.example")
    async with app_in(db, env) as client:
        for path, methods in api_routes(env).items():
            for origin in others:
                asked = preflight(origin, methods.split(", ")[-1])
                response = await client.options(path, headers=asked)
                assert response.status_code == 403, (path, origin)
                assert cors_fields(response) == {}, (path, origin)
                assert varies_on_origin(response)
                error = response.json()["errors"][0]
                assert error["extensions"] == {"code": "FORBIDDEN"}
                assert "KRR_CORS_ORIGINS" in error["message"] and origin not in error["message"]
    async with app_in(db, env, origins=CorsOrigins()) as client:  # the default in test and prod
        response = await client.options("/graphql", headers=preflight(KUNDE))
        assert response.status_code == 403 and cors_fields(response) == {}


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_pages_for_people_are_not_offered_to_other_origins(db, env):
    async with app_in(db, env) as client:
        for path in ("/admin", f"/admin/organisasjon/{CONSUMER}/gi", "/admin/logg-inn",
                     "/admin/logg-ut", "/statistikk", "/healthz", "/metrics", "/statisk/krr.css"):
            response = await client.options(path, headers=preflight(KUNDE))
            assert response.status_code == 403, path
            assert cors_fields(response) == {}, path
            assert response.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
        page = await client.get("/statistikk", headers={"Origin": KUNDE})
        assert page.status_code == 200 and cors_fields(page) == {}
        # A path nothing serves is 404, preflight or not.
        missing = await client.options("/rest/v2/ukjent", headers=preflight(KUNDE))
        assert missing.status_code == 404


# --- answers ------------------------------------------------------------------------------------

def assert_readable_by(response: httpx.Response, origin: str) -> None:
    fields = cors_fields(response)
    assert fields.pop("access-control-allow-origin") == origin
    assert names(fields.pop("access-control-expose-headers")) == EXPOSED
    assert fields == {}, fields  # never Allow-Credentials
    assert varies_on_origin(response)
    assert "set-cookie" not in response.headers  # the API sets no cookie


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_answers_to_an_allowed_origin_name_it_and_expose_what_clients_read(
        db, mint, dev_issuer, env):
    token = {"Authorization": f"Bearer {mint(KONTAKT)}", "Origin": KUNDE,
             "X-Request-ID": "kunde-1"}
    async with app_in(db, env, dev_issuer=dev_issuer) as client:
        for path, body in (("/graphql", LOOKUP), ("/rest/v2/personer", PERSONER_BODY)):
            answer = await client.post(path, json=body, headers=token)
            assert answer.status_code == 200, answer.text
            assert_readable_by(answer, KUNDE)
            assert answer.headers["ratelimit"] and answer.headers["x-request-id"] == "kunde-1"
        keys = await client.get(JWKS_PATH, headers={"Origin": KUNDE})
        assert keys.status_code == 200
        assert_readable_by(keys, KUNDE)
        # Refusals are read the same way: no token (the challenge) ...
        refused = await client.post("/graphql", json=LOOKUP, headers={"Origin": KUNDE})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert_readable_by(refused, KUNDE)
    # ... and over the limit (an anonymous caller's one request spent).
    limiter = MemoryLimiter(ONE_REQUEST, clock=lambda: 0.0)
    async with app_in(db, env, limiter=limiter) as client:
        public = {"query": "{ __typename }"}
        assert (await client.post("/graphql", json=public)).status_code == 200
        spent = await client.post("/graphql", json=public, headers={"Origin": KUNDE})
        assert spent.status_code == 429 and int(spent.headers["retry-after"]) >= 1
        assert_readable_by(spent, KUNDE)


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_bugs_500_is_readable_with_its_request_id(db, mint, dev_issuer, monkeypatch, env):
    """The 500 is answered outside every middleware (starlette's last handler): it carries
    what Cors would have added, so the page reads the request id to report."""

    async def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(register, "hent_personer", bug)
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}", "Origin": KUNDE}
    async with app_in(db, env, dev_issuer=dev_issuer) as client:
        answer = await client.post("/rest/v2/personer", json=PERSONER_BODY, headers=headers)
        assert answer.status_code == 500
        assert_readable_by(answer, KUNDE)
        assert answer.headers["x-request-id"] in answer.json()["errors"][0]["message"]
        other = await client.post("/rest/v2/personer", json=PERSONER_BODY,
                                  headers={**headers, "Origin": "https://fremmed.example"})
        assert other.status_code == 500 and cors_fields(other) == {}


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_answers_to_other_origins_carry_no_cors_fields(db, mint, dev_issuer, env):
    token = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    async with app_in(db, env, dev_issuer=dev_issuer) as client:
        for headers in ({**token, "Origin": "https://fremmed.example"}, token):
            answer = await client.post("/graphql", json=LOOKUP, headers=headers)
            assert answer.status_code == 200  # answered: the browser keeps it from the page
            assert cors_fields(answer) == {} and varies_on_origin(answer)
    async with app_in(db, env, CorsOrigins(), dev_issuer=dev_issuer) as client:
        # No origin may call (the default): nothing varies on it.
        answer = await client.post("/graphql", json=LOOKUP, headers={**token, "Origin": KUNDE})
        assert answer.status_code == 200
        assert cors_fields(answer) == {} and not varies_on_origin(answer)


# --- in a browser -------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
KRR = [sys.executable, "-m", "app.cli"]
FREMMED = "fremmed.test"  # a name that is not this machine's, which Chromium resolves to it
KUNDE_NAVN = "kunde.test"
# The agency's page: its script calls the API with fetch(), a bearer token and JSON, and hands
# back what it could read (or the error fetch() rejected with).
PAGE = b"""<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><title>Kunde</title></head>
<body><h1>Kunde</h1>
<script>
async function kall(url, token, body, requestId, credentials = "same-origin") {
  const headers = {"Content-Type": "application/json", "X-Request-ID": requestId};
  if (token) headers.Authorization = "Bearer " + token;
  try {
    const answer = await fetch(url, {method: "POST", headers, body: JSON.stringify(body),
                                     credentials});
    const read = (name) => answer.headers.get(name);
    return {status: answer.status, body: await answer.json(), rateLimit: read("RateLimit"),
            rateLimitPolicy: read("RateLimit-Policy"), requestId: read("X-Request-ID"),
            challenge: read("WWW-Authenticate"), vary: read("Vary")};
  } catch (error) {
    return {error: String(error)};
  }
}
</script></body></html>
"""


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[int, int]]:
    """Two pages' ports: two origins on each name."""
    page = (PAGE, "text/html; charset=utf-8")
    with serve_bytes(*page) as first, serve_bytes(*page) as second:
        yield first, second


@pytest.fixture(scope="module", params=["make run", "KRR_CORS_ORIGINS"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            pages: tuple[int, int]) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """`krr serve` as `make run` starts it (dev, nothing set: pages on this machine may call),
    or in test with one origin named; yields its address, a token, the origins that may call
    and some that may not."""
    first, second = pages
    tmp = tmp_path_factory.mktemp("cors")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")} | {
        "KRR_VAR_DIR": str(tmp / "var"), "PYTHONPATH": str(ROOT),
        "KRR_DATABASE_URL": f"sqlite:///{tmp / 'cors.sqlite3'}"}
    if request.param == "make run":
        env["KRR_ENV"] = "dev"
        allowed = [f"http://localhost:{first}", f"http://127.0.0.1:{second}"]
        refused = [f"http://{FREMMED}:{first}"]
    else:
        env |= {"KRR_ENV": "test", "KRR_CORS_ORIGINS": f"http://{KUNDE_NAVN}:{first}"}
        allowed = [f"http://{KUNDE_NAVN}:{first}"]
        # Another port is another origin; and the named origin replaces dev's default.
        refused = [f"http://{KUNDE_NAVN}:{second}", f"http://localhost:{first}"]
    krr(env, "migrate")
    token = krr(env, "token", "--consumer", CONSUMER, "--scope", KONTAKT, "--ttl", "600")
    with krr_serving(env) as base:
        yield base, token, allowed, refused


def test_a_page_on_an_allowed_origin_calls_the_api_and_one_elsewhere_is_blocked(
        service: tuple[str, str, list[str], list[str]]):
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (or `make browser`), which "
                    "installs Debian's chromium package before the tests")
    base, token, allowed, refused = service
    resolve = f"MAP {FREMMED} 127.0.0.1, MAP {KUNDE_NAVN} 127.0.0.1"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", f"--host-resolver-rules={resolve}"])
        try:
            for origin in allowed:
                page, console = open_page(browser, origin)
                for path, body in (("/graphql", LOOKUP), ("/rest/v2/personer", PERSONER_BODY)):
                    got = call(page, f"{base}{path}", token, body, "side-1")
                    assert got.get("status") == 200, (origin, path, got)
                    assert got["requestId"] == "side-1"  # sent, and read back
                    assert '"requests";r=' in got["rateLimit"], got
                    assert '"requests";q=' in got["rateLimitPolicy"], got
                    assert got["vary"] is None  # not exposed, so not readable
                    answer = got["body"]["data"] if path == "/graphql" else got["body"]
                    assert isinstance(answer["personer"], list), got  # the answer, read
                no_token = call(page, f"{base}/graphql", None, LOOKUP, "side-2")
                assert no_token.get("status") == 401, no_token
                assert no_token["challenge"] == "Bearer"
                assert no_token["body"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
                assert not [m for m in console if "CORS" in m], console
                # The README's example, as written, on this page: it logs two lines.
                page.evaluate(f"async (token) => {{ {readme_example(base)} }}", token)
                status, data = [m for m in console if "requests" in m or "personer" in m]
                assert status.startswith('200 "requests";r='), console
                assert json.loads(data)["data"]["personer"], console
                # With the browser's cookies: refused, the API allows no credentials.
                with_cookies = call(page, f"{base}/graphql", token, LOOKUP, "side-4", "include")
                assert with_cookies == {"error": "TypeError: Failed to fetch"}, with_cookies
                assert any("Access-Control-Allow-Credentials" in m for m in console), console
                page.close()
            for origin in refused:
                page, console = open_page(browser, origin)
                got = call(page, f"{base}/graphql", token, LOOKUP, "side-3")
                assert got == {"error": "TypeError: Failed to fetch"}, (origin, got)
                assert any("blocked by CORS policy" in m and origin in m for m in console), console
                page.close()
        finally:
            browser.close()


def open_page(browser: Browser, origin: str) -> tuple[Page, list[str]]:
    page = browser.new_page()
    page.set_default_timeout(15000)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"{origin}/")
    assert page.evaluate("location.origin") == origin
    return page, console


def call(page: Page, url: str, token: str | None, body: dict[str, Any], request_id: str,
         credentials: str = "same-origin") -> dict[str, Any]:
    result = page.evaluate("([url, token, body, id, c]) => kall(url, token, body, id, c)",
                           [url, token, body, request_id, credentials])
    assert isinstance(result, dict), json.dumps(result)
    return result


def readme_example(base: str) -> str:
    """The README's fetch() example (its section on CORS), calling `base`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Calling from a browser (CORS)", 1)[1].split("\n## ", 1)[0]
    example = section.split("```js\n", 1)[1].split("```", 1)[0]
    assert "https://krr.example.no/graphql" in example
    return example.replace("https://krr.example.no", base)
