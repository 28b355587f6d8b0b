"""Headers on every answer as the real register sends them (issue 24, item 6; app.edge.headers):
no cache keeps an answer (`no-cache, no-store, max-age=0, must-revalidate`, `Pragma: no-cache`,
`Expires: 0`), none is sniffed or framed, and HSTS only over https. Only what holds nobody's
data says how it may be kept. Every refusal of every route is checked in tests/test_edge.py
(`assert_error`); HSTS behind a real TLS-terminating proxy in tests/test_load_balancer.py."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app.config import Limits, Rate, Settings
from app.edge.app import create_app
from app.edge.ratelimit import MemoryLimiter
from app.edge.signed import JWKS_PATH
from app.personer import register
from app.tilgangsstyrere import store as roller
from authz.tokens import TokenVerifier
from tests.admin import log_in
from tests.answer_headers import assert_every_answer, assert_never_kept
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import new_id, person, provider
from tests.test_lookup import ALL_FIELDS, BOTH

JOSE = "application/jose"
MANAGER = "17912099997"  # manages CONSUMER on the pages
IDS = [new_id(n) for n in range(3)]
LOOKUP = {"query": f"query($ids: [String!]!) {{ personer(personidentifikatorer: $ids) "
                   f"{{ {ALL_FIELDS} }} }}", "variables": {"ids": IDS}}
REST = {"personidentifikatorer": IDS}
BASES = [pytest.param("http://krr.test", id="http"), pytest.param("https://krr.test", id="https")]


@asynccontextmanager
async def krr(settings: Settings, base: str, **kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, asked at `base` (its scheme is the request's, as uvicorn hands on
    the one a trusted proxy forwarded)."""
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False, **kwargs)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        yield client


async def registered() -> None:
    digipost = await provider()
    for pid in IDS:
        await person(pid, postkasseleverandoer=digipost)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("env", ["test", "prod"])
async def test_lookups_and_their_signed_answers_are_never_kept(db, mint, dev_issuer, base, env):
    await registered()
    settings = dataclasses.replace(db, env=env)
    https = base.startswith("https")
    token = {"Authorization": f"Bearer {mint(BOTH)}"}
    # prod trusts the dev issuer here as if it were a real one
    verifier = TokenVerifier({}, dev_issuer=dev_issuer) if env == "prod" else None
    async with krr(settings, base, verifier=verifier) as c:
        asks = [("/graphql", LOOKUP), ("/rest/v2/personer", REST), ("/rest/v1/personer", REST)]
        for path, body in asks:
            answer = await c.post(path, json=body, headers=token)
            assert answer.status_code == 200, answer.text
            assert IDS[0] in answer.text
            assert_never_kept(answer, https=https)
            if env == "test":  # prod has no signing key here: 406, checked in test_edge
                signed = await c.post(path, json=body, headers={**token, "Accept": JOSE})
                assert signed.status_code == 200 and signed.headers["content-type"] == JOSE
                assert_never_kept(signed, https=https)


@pytest.mark.parametrize("base", BASES)
async def test_refusals_before_any_lookup_are_never_kept(db, mint, base):
    https = base.startswith("https")
    # One request, then a wait of 10 s: past KRR_RATE_WAIT, so refused rather than held.
    one_request = MemoryLimiter(Limits(Rate(0.1, 1), Rate(1000, 1000)), clock=lambda: 0.0)
    async with krr(db, base, limiter=one_request) as c:
        unauthenticated = await c.post("/graphql", json=LOOKUP)
        too_large = await c.post("/rest/v2/personer", content=b"x" * (db.max_body_bytes + 1),
                                 headers={"Content-Type": "application/json"})
        token = {"Authorization": f"Bearer {mint(BOTH)}"}
        first = await c.post("/rest/v2/personer", json=REST, headers=token)
        limited = await c.post("/rest/v2/personer", json=REST, headers=token)
    for answer, status in ((unauthenticated, 401), (too_large, 413), (first, 200),
                           (limited, 429)):
        assert answer.status_code == status, answer.text
        assert_never_kept(answer, https=https)


@pytest.mark.parametrize("base", BASES)
async def test_a_500_made_outside_every_middleware_has_them_too(db, mint, monkeypatch, base):
    """Starlette answers an unexpected error outside the middleware: its handler adds them."""

    async def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(register, "hent_personer", bug)
    async with krr(db, base) as c:
        answer = await c.post("/rest/v2/personer", json=REST,
                              headers={"Authorization": f"Bearer {mint(BOTH)}"})
    assert answer.status_code == 500
    assert_never_kept(answer, https=base.startswith("https"))


@pytest.mark.parametrize("base", BASES)
async def test_the_pages_and_the_login_are_never_kept(db, base):
    https = base.startswith("https")
    await roller.legg_til(CONSUMER, MANAGER, "test", FIXED_NOW)
    async with krr(db, base) as c:
        logged_out = await c.get("/admin")
        assert logged_out.status_code == 303
        assert_never_kept(logged_out, https=https)
        no_page = await c.get("/admin/ingen-side")
        assert no_page.status_code == 404 and no_page.headers["content-type"].startswith(
            "text/html")
        assert_never_kept(no_page, https=https)
        await log_in(c, MANAGER)
        page = await c.get(f"/admin/organisasjon/{CONSUMER}")
        assert page.status_code == 200 and CONSUMER in page.text
        assert_never_kept(page, https=https)
        # the pages' own policy agrees: no framing by anyone
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_what_holds_nobody_s_data_says_how_it_may_be_kept(db):
    async with krr(db, "https://krr.test") as c:
        keys = await c.get(JWKS_PATH)
        figures = await c.get("/statistikk")
        style = await c.get("/statisk/krr.css")
        graphiql = await c.get("/graphql", headers={"Accept": "text/html"})
        script = await c.get("/graphiql/graphiql-start.js")
        missing = await c.get("/statisk/ingen.css")
    assert keys.headers["cache-control"] == "public, max-age=300"
    assert figures.headers["cache-control"].startswith("public, max-age=")
    for static in (style, graphiql, script):  # revalidated each time (ETag, Last-Modified)
        assert static.status_code == 200, static.url
        assert static.headers["cache-control"] == "no-cache"
    for kept in (keys, figures, style, graphiql, script):
        assert "pragma" not in kept.headers and "expires" not in kept.headers
        assert_every_answer(kept, https=True)
    assert missing.status_code == 404
    assert_never_kept(missing, https=True)


async def test_a_revalidated_static_file_is_a_304_with_the_same_policy(db):
    async with krr(db, "http://krr.test") as c:
        first = await c.get("/statisk/krr.css")
        again = await c.get("/statisk/krr.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    assert_every_answer(again)
