"""The access managers' login (app.innlogging): OpenID Connect through authlib's Starlette
client, against the development provider (dev and test) and against a stand-in ID-porten in
prod mode (private_key_jwt, the ID token's checks), the sessions and their timeouts, logout,
and the configuration refused at start."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import logging
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.config import DEFAULT_LIMITS, ConfigError, Idporten, Limits, Rate, Settings, load_settings
from app.edge.app import create_app
from app.innlogging import forsok, okter
from app.innlogging.models import Forsok, Okt
from app.innlogging.tilbyder import MAKS_ADRESSER, SKJEVHET, godtatt_acr
from app.tilgangsstyrere import store as roller
from tests.admin import choose_person, csrf_of, hidden_fields, log_in, to_provider
from tests.conftest import CONSUMER, FIXED_NOW, lines

PID = "17912099997"
OTHER_PID = "24907999374"


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def web(db: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock()
    app = create_app(db, clock=clock, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c, clock


# --- the flow against the development provider --------------------------------------------------

async def test_login_asks_with_pkce_state_nonce_and_the_security_level(web):
    c, _ = web
    r = await c.get("/admin/logg-inn")
    assert r.status_code == 302
    url = urlsplit(r.headers["location"])
    assert url.path == "/dev/oidc/authorize"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == "krr-tilgangsstyring"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 20 and len(q["nonce"]) >= 20
    assert q["acr_values"] == "idporten-loa-substantial"
    assert q["redirect_uri"] == "http://krr.test/admin/innlogget"
    assert "openid" in q["scope"].split()
    flow = r.headers["set-cookie"]
    assert flow.startswith("krr_innlogging=") and "httponly" in flow.lower()
    assert "path=/admin" in flow.lower() and "samesite=lax" in flow.lower()


async def test_a_person_logs_in_and_comes_back_to_the_page_asked_for(web):
    c, _ = web
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    path = f"/admin/organisasjon/{CONSUMER}/gi"
    r = await log_in(c, PID, path)
    assert r.headers["location"] == path
    page = await c.get(path)
    assert page.status_code == 200 and "Gi tilgang til nytt API" in page.text
    assert await Okt.filter(pid=PID).count() == 1


async def test_the_session_cookie_is_httponly_lax_and_scoped_to_admin(web):
    c, _ = web
    r = await log_in(c, PID)
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("krr_okt="))
    attrs = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")}
    assert "httponly" in attrs and attrs["samesite"].strip().lower() == "samesite=lax"
    assert attrs["path"].strip().lower() == "path=/admin"
    assert "secure" not in attrs  # plain http (dev); https and prod: Secure, below
    key = c.cookies["krr_okt"]
    assert PID not in key and "." in key  # a signed random key, not the person


async def test_over_https_the_cookies_are_secure(db):
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://krr.test") as c:
        r = await log_in(c, PID)
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("krr_okt="))
        assert "secure" in cookie.lower()


async def test_a_forged_or_unsigned_cookie_is_no_session(web):
    c, _ = web
    await log_in(c, PID)
    key = c.cookies["krr_okt"]
    c.cookies.clear()
    c.cookies.set("krr_okt", key.rsplit(".", 1)[0] + ".AAAA", domain="krr.test", path="/admin")
    assert (await c.get("/admin")).status_code == 303
    c.cookies.set("krr_okt", key.rsplit(".", 1)[0], domain="krr.test", path="/admin")
    assert (await c.get("/admin")).status_code == 303


async def test_a_tampered_state_is_refused_and_no_session_made(web):
    c, _ = web
    form = await to_provider(c)
    fields = hidden_fields(form.text)
    r = await c.post("/dev/oidc/authorize", data={**fields, "pid": PID,
                                                 "acr": "idporten-loa-high"})
    callback = r.headers["location"].replace(fields["state"], "x" * len(fields["state"]))
    r = await c.get(callback)
    assert r.status_code == 400 and "Innloggingen mislyktes" in r.text
    assert "krr_okt" not in c.cookies and await Okt.all().count() == 0


async def test_a_callback_cannot_be_replayed(web):
    c, _ = web
    form = await to_provider(c)
    r = await c.post("/dev/oidc/authorize", data={**hidden_fields(form.text), "pid": PID,
                                                 "acr": "idporten-loa-substantial"})
    callback = r.headers["location"]
    assert (await c.get(callback)).status_code == 303
    c.cookies.delete("krr_okt")
    again = await c.get(callback)
    assert again.status_code == 400 and await Okt.all().count() == 1


async def test_cancelling_at_the_provider_says_so(web):
    c, _ = web
    form = await to_provider(c)
    r = await c.post("/dev/oidc/authorize", data={**hidden_fields(form.text), "avbryt": "1"})
    r = await c.get(r.headers["location"])
    assert r.status_code == 400 and "avbrøt" in r.text and "krr_okt" not in c.cookies


async def test_the_provider_refuses_an_invalid_national_id(web):
    c, _ = web
    form = await to_provider(c)
    r = await c.post("/dev/oidc/authorize", data={**hidden_fields(form.text),
                                                 "pid": "12345678901", "acr": "x"})
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text


@pytest.mark.parametrize("neste", ["https://evil.example/", "//evil.example/admin",
                                   "/admin/logg-ut", "/graphql", "/admin\\@evil"])
async def test_after_login_only_admin_pages_are_destinations(web, neste):
    c, _ = web
    r = await c.get("/admin/logg-inn", params={"neste": neste})
    r = await c.get(r.headers["location"])
    r = await choose_person(c, r, PID)
    assert r.headers["location"] == "/admin"


async def test_the_provider_only_sends_codes_to_this_service(web):
    c, _ = web
    r = await c.get("/admin/logg-inn")
    url = r.headers["location"].replace("krr.test%2Fadmin%2Finnlogget", "evil.example%2Fx")
    r = await c.get(url)
    assert r.status_code == 400 and "ikke registrert" in r.text


async def test_the_token_endpoint_checks_client_pkce_and_code(web):
    c, _ = web
    form = await to_provider(c)
    fields = hidden_fields(form.text)
    r = await c.post("/dev/oidc/authorize", data={**fields, "pid": PID, "acr": "idporten-loa-high"})
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    base = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": fields["redirect_uri"], "code_verifier": "v" * 43}
    wrong_client = await c.post("/dev/oidc/token", data=base, auth=("krr-tilgangsstyring", "x"))
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"
    no_client = await c.post("/dev/oidc/token", data=base)
    assert no_client.status_code == 401


async def test_discovery_and_keys_of_the_development_provider(web):
    c, _ = web
    meta = (await c.get("/dev/oidc/.well-known/openid-configuration")).json()
    assert meta["issuer"] == "http://krr.test/dev/oidc"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["acr_values_supported"]) == {"idporten-loa-substantial", "idporten-loa-high"}
    keys = (await c.get("/dev/oidc/jwks")).json()["keys"]
    assert keys and all("d" not in k for k in keys)


async def test_an_id_token_is_not_an_api_token(web, dev_issuer):
    """The development provider signs with the dev issuer's key under its own issuer: the API,
    which trusts that key only as the dev issuer, refuses such a token."""
    c, _ = web
    now = int(time.time())
    id_token = dev_issuer.sign({"iss": "http://krr.test/dev/oidc", "aud": "krr-tilgangsstyring",
                                "pid": PID, "acr": "idporten-loa-high", "iat": now,
                                "exp": now + 60, "scope": "krr:global/kontaktinformasjon.read"})
    r = await c.post("/graphql", json={"query": "{ meg { personidentifikator } }"},
                     headers={"Authorization": f"Bearer {id_token}"})
    assert r.status_code == 401


# --- sessions ----------------------------------------------------------------------------------

async def test_thirty_minutes_idle_ends_the_session(web):
    c, clock = web
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    await log_in(c, PID)
    clock.now += dt.timedelta(minutes=29)
    assert (await c.get(f"/admin/organisasjon/{CONSUMER}")).status_code == 200
    clock.now += dt.timedelta(minutes=29)  # used 29 minutes ago: still alive
    assert (await c.get(f"/admin/organisasjon/{CONSUMER}")).status_code == 200
    clock.now += okter.UBRUKT
    r = await c.get(f"/admin/organisasjon/{CONSUMER}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/admin/logg-inn?neste=%2Fadmin%2Forganisasjon%2F{CONSUMER}"
    assert await Okt.all().count() == 0  # the expired session is gone


async def test_eight_hours_end_a_session_however_busy(web):
    c, clock = web
    await log_in(c, PID)
    for _ in range(8 * 3 - 1):  # 7 h 40 min, never idle
        clock.now += dt.timedelta(minutes=20)
        assert (await c.get("/admin")).status_code == 200
    clock.now += dt.timedelta(minutes=20)  # 8 h after login
    assert (await c.get("/admin")).status_code == 303


async def test_a_new_login_replaces_the_old_session(web):
    c, _ = web
    await log_in(c, PID)
    old = c.cookies["krr_okt"]
    r = await c.get("/admin/logg-inn")  # logging in again while logged in
    await choose_person(c, await c.get(r.headers["location"]), PID)
    assert c.cookies["krr_okt"] != old and await Okt.all().count() == 1


# --- logout ------------------------------------------------------------------------------------

async def test_logout_ends_the_session_here_and_at_the_provider(web):
    c, _ = web
    await log_in(c, PID)
    page = await c.get("/admin")
    r = await c.post("/admin/logg-ut", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    end = urlsplit(r.headers["location"])
    assert end.path == "/dev/oidc/endsession"
    q = {k: v[0] for k, v in parse_qs(end.query).items()}
    assert q["post_logout_redirect_uri"] == "http://krr.test/admin/logget-ut"
    assert q["id_token_hint"].count(".") == 2 and q["state"]
    assert await Okt.all().count() == 0
    r = await c.get(r.headers["location"])
    assert r.status_code == 303 and r.headers["location"].startswith(
        "http://krr.test/admin/logget-ut?state=")
    done = await c.get(r.headers["location"])
    assert done.status_code == 200 and "Du er logget ut" in done.text
    assert (await c.get("/admin")).status_code == 303


async def test_logout_without_the_form_token_is_refused(web):
    c, _ = web
    await log_in(c, PID)
    r = await c.post("/admin/logg-ut", data={"csrf": "wrong"})
    assert r.status_code == 403 and "<h1>Utloggingen ble avvist</h1>" in r.text
    assert (await c.get("/admin")).status_code == 200  # still logged in


# --- prod: a stand-in ID-porten -------------------------------------------------------------------

ISSUER = "https://idporten.test"
CLIENT_ID = "krr-prod-klient"


class StandIn:
    """Discovery, keys and token of an ID-porten as this test wants it to answer; checks the
    client's private_key_jwt assertion and PKCE as ID-porten does."""

    def __init__(self, client_key: RSAKey) -> None:
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.client_key = client_key
        self.claims: dict[str, Any] = {}
        self.challenge = ""
        self.assertions: list[dict[str, Any]] = []
        self.verifiers: list[str] = []  # every PKCE verifier a token request carried

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse({
            "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks",
            "end_session_endpoint": f"{ISSUER}/endsession",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        assertion = jwt.decode(str(form["client_assertion"]), self.client_key)
        self.assertions.append(assertion.claims)
        self.verifiers.append(str(form["code_verifier"]))
        verifier = str(form["code_verifier"]).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != self.challenge or assertion.claims["aud"] != ISSUER:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, self.claims, self.key)
        return JSONResponse({"access_token": "a", "token_type": "Bearer", "expires_in": 60,
                             "id_token": id_token})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks), Route("/token", self.token, methods=["POST"]),
        ])


@pytest.fixture
def prod_settings(db: Settings, tmp_path: Path) -> tuple[Settings, StandIn]:
    """Prod with ID-porten (private_key_jwt), and the stand-in that answers for it."""
    client_key = RSAKey.generate_key(2048, auto_kid=True)
    pem = tmp_path / "klient.pem"
    pem.write_bytes(client_key.as_pem(private=True))
    settings = Settings(
        env="prod", database_url=db.database_url, var_dir=tmp_path,
        idporten=Idporten(issuer=ISSUER, client_id=CLIENT_ID,
                          redirect_url="https://krr.test/admin/innlogget", client_key=pem),
        session_secret="s" * 40,
    )
    return settings, StandIn(client_key)


def _browser(settings: Settings, stand_in: StandIn | None,
             cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    """A browser on the app `settings` make (prod's at https, with the stand-in ID-porten)."""
    transport = None if stand_in is None else httpx2.ASGITransport(app=stand_in.app())
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False,
                     idp_transport=transport)
    base = "https://krr.test" if settings.is_prod else "http://krr.test"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                             cookies=cookies)


@pytest.fixture
async def prod(prod_settings: tuple[Settings, StandIn]):
    settings, stand_in = prod_settings
    async with _browser(settings, stand_in) as c:
        yield c, stand_in


async def _to_stand_in(c: httpx.AsyncClient, stand_in: StandIn, **claims: Any) -> dict[str, str]:
    """The login begun, and the stand-in set to answer it with `claims` (None: left out);
    returns what the service sent to its authorize endpoint."""
    r = await c.get("/admin/logg-inn")
    assert r.status_code == 302, r.text
    url = urlsplit(r.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/authorize"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    stand_in.challenge = q["code_challenge"]
    now = int(time.time())
    stand_in.claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "pairwise", "pid": PID,
                       "acr": "idporten-loa-substantial", "nonce": q["nonce"], "iat": now,
                       "exp": now + 120, **claims}
    stand_in.claims = {k: v for k, v in stand_in.claims.items() if v is not None}
    return q


def _callback(q: dict[str, str]) -> str:
    return "/admin/innlogget?" + urlencode({"code": "c", "state": q["state"]})


async def _prod_login(c: httpx.AsyncClient, stand_in: StandIn, **claims: Any) -> httpx.Response:
    return await c.get(_callback(await _to_stand_in(c, stand_in, **claims)))


async def test_prod_logs_in_with_private_key_jwt_and_a_checked_id_token(prod):
    c, stand_in = prod
    r = await _prod_login(c, stand_in)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    [assertion] = stand_in.assertions
    assert assertion["iss"] == assertion["sub"] == CLIENT_ID and assertion["aud"] == ISSUER
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("krr_okt="))
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()
    page = await c.get("/admin")
    assert page.status_code == 200
    assert "https://idporten.test" in page.headers["content-security-policy"]  # logout form


@pytest.mark.parametrize("claims", [
    {"nonce": "another"}, {"aud": "someone-else"}, {"iss": "https://evil.test"},
    {"exp": 1000}, {"pid": None}, {"pid": "12345678901"},
], ids=["nonce", "aud", "iss", "expired", "no-pid", "bad-pid"])
async def test_prod_refuses_an_id_token_that_does_not_hold(prod, claims):
    c, stand_in = prod
    r = await _prod_login(c, stand_in, **claims)
    assert r.status_code == 400 and "Innloggingen" in r.text
    assert "krr_okt" not in r.headers.get("set-cookie", "") and await Okt.all().count() == 0


@pytest.mark.parametrize("acr", ["idporten-loa-low", "Level3", None])
async def test_prod_refuses_a_login_below_substantial(prod, acr):
    c, stand_in = prod
    r = await _prod_login(c, stand_in, acr=acr)
    assert r.status_code == 403 and "Sikkerhetsnivået er for lavt" in r.text
    assert await Okt.all().count() == 0


async def test_prod_has_no_development_provider(prod):
    c, _ = prod
    assert (await c.get("/dev/oidc/.well-known/openid-configuration")).status_code == 404


async def test_prod_without_idporten_starts_and_says_the_login_is_not_set_up(db, tmp_path):
    settings = Settings(env="prod", database_url=db.database_url, var_dir=tmp_path)
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://krr.test") as c:
        r = await c.get("/admin/logg-inn")
        assert r.status_code == 503 and "Innlogging er ikke satt opp" in r.text
        assert (await c.get("/dev/oidc/jwks")).status_code == 404


# --- prod: the ID token's times, and each login used once -----------------------------------------

async def test_an_id_token_expired_90_seconds_ago_makes_no_session(prod):
    """authlib's default leeway (120 s) once took an ID token that had expired 90 s before.
    At most SKJEVHET (5 s) of clock skew is allowed."""
    c, stand_in = prod
    now = int(time.time())
    r = await _prod_login(c, stand_in, iat=now - 210, exp=now - 90)
    assert r.status_code == 400 and "Innloggingen kunne ikke bekreftes" in r.text
    assert "krr_okt" not in r.headers.get("set-cookie", "") and await Okt.all().count() == 0


@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_an_id_token_issued_or_valid_a_minute_from_now_makes_no_session(prod, claim):
    c, stand_in = prod
    r = await _prod_login(c, stand_in, **{claim: int(time.time()) + 60})
    assert r.status_code == 400 and await Okt.all().count() == 0


async def test_a_few_seconds_of_clock_skew_still_log_in(prod):
    """Our clock 2 s ahead of the provider's, or behind it: within SKJEVHET."""
    c, stand_in = prod
    now = int(time.time())
    assert SKJEVHET == 5
    ahead = await _prod_login(c, stand_in, iat=now - 60, exp=now - 2)
    assert ahead.status_code == 303, ahead.text
    behind = await _prod_login(c, stand_in, iat=now + 2, nbf=now + 2)
    assert behind.status_code == 303, behind.text


async def test_a_replayed_login_callback_makes_no_second_session(prod):
    """A callback replayed with its own state cookie once made a second session: the state,
    nonce and verifier lived only in the cookie, and a provider that redeems a code twice (as
    the stand-in does) let it through. Each login begun is kept server-side and taken once:
    the replay is refused with a page that says the link was used and offers to start again,
    and it never reaches the provider."""
    c, stand_in = prod
    q = await _to_stand_in(c, stand_in)
    cookie = c.cookies["krr_innlogging"]
    first = await c.get(_callback(q))
    assert first.status_code == 303 and await Okt.all().count() == 1
    assert "krr_innlogging" not in c.cookies  # cleared by the answer

    c.cookies.delete("krr_okt")
    c.cookies.set("krr_innlogging", cookie, domain="krr.test", path="/admin")
    again = await c.get(_callback(q))
    assert again.status_code == 400, again.text
    assert "Innloggingslenken er allerede brukt" in again.text
    assert 'href="/admin/logg-inn"' in again.text  # start again
    assert "krr_okt" not in again.headers.get("set-cookie", "")
    assert await Okt.all().count() == 1 and len(stand_in.assertions) == 1


async def test_two_answers_to_one_login_at_once_make_one_session(prod):
    c, stand_in = prod
    q = await _to_stand_in(c, stand_in)
    answers = await asyncio.gather(c.get(_callback(q)), c.get(_callback(q)))
    assert sorted(a.status_code for a in answers) == [303, 400]
    assert await Okt.all().count() == 1 and len(stand_in.assertions) == 1


def _readings(value: str) -> list[bytes]:
    """Whatever a cookie value could be read as: itself, and each dot-separated part
    base64url-decoded (and inflated, as itsdangerous compresses)."""
    readings = [value.encode()]
    for part in value.split("."):
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        readings.append(decoded)
        try:
            readings.append(zlib.decompress(decoded))
        except zlib.error:
            pass
    return readings


async def test_the_login_cookie_reveals_neither_verifier_nor_nonce(prod):
    """The login's cookie once carried the PKCE verifier and the nonce in the clear (signed,
    not encrypted). They are kept server-side now; the cookie holds the state (which the
    provider's answer carries anyway), signed."""
    c, stand_in = prod
    q = await _to_stand_in(c, stand_in)
    value = c.cookies["krr_innlogging"]
    assert (await c.get(_callback(q))).status_code == 303
    [verifier] = stand_in.verifiers
    for secret in (verifier, q["nonce"]):
        for reading in _readings(value):
            assert secret.encode() not in reading


async def test_the_login_cookie_is_secure_httponly_lax_and_short_lived(prod):
    c, _ = prod
    r = await c.get("/admin/logg-inn")
    cookie = next(v for v in r.headers.get_list("set-cookie")
                  if v.startswith("krr_innlogging="))
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")}
    assert {"secure", "httponly"} <= attrs.keys()
    assert attrs["samesite"].lower() == "samesite=lax" and attrs["path"].lower() == "path=/admin"
    assert attrs["max-age"] == f"Max-Age={int(forsok.VARER.total_seconds())}"


async def test_a_flood_of_logins_begun_is_refused_before_it_writes(prod_settings):
    """Each login begun keeps a row (its verifier and nonce) before anyone is known: without a
    limit, anyone could fill the table. Logins begun and their answers are charged to the
    client's address as anonymous requests are; past the budget a page says so (429,
    Retry-After) and nothing is written."""
    settings, stand_in = prod_settings
    settings = dataclasses.replace(settings, rate_limits=Limits(
        requests=Rate(0.01, 3), persons=DEFAULT_LIMITS.persons))
    async with _browser(settings, stand_in) as c:
        begun = [await c.get("/admin/logg-inn") for _ in range(6)]
        answered = await c.get("/admin/innlogget?code=c&state=flood")
    assert [r.status_code for r in begun] == [302] * 3 + [429] * 3
    refused = begun[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert "For mange forespørsler" in refused.text and int(refused.headers["retry-after"]) > 0
    assert answered.status_code == 429
    assert await Forsok.all().count() == 3


async def test_an_answer_after_ten_minutes_is_refused(web):
    c, clock = web
    form = await to_provider(c)
    r = await c.post("/dev/oidc/authorize", data={**hidden_fields(form.text), "pid": PID,
                                                 "acr": "idporten-loa-substantial"})
    clock.now += forsok.VARER
    r = await c.get(r.headers["location"])
    assert r.status_code == 400 and "ventet for lenge" in r.text
    assert await Okt.all().count() == 0


# --- a database that stops answering -------------------------------------------------------------

DEADLINE = 0.2  # KRR_REQUEST_TIMEOUT of the app whose database stops answering


async def _never_answers(*_: object, **__: object) -> Any:
    await asyncio.Event().wait()


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_database_that_stops_answering_holds_no_login_page_past_the_deadline(
    db, prod_settings, monkeypatch, env
):
    """The login's answer and the logout once waited a minute for a database that stopped
    answering: they were outside the deadline the API has. Now every step of the login is
    under it: a 503 page with Retry-After at KRR_REQUEST_TIMEOUT. (A browser on the app with
    the short deadline carries the cookies a browser on the usual one got: same database, same
    secret.)"""
    settings, stand_in = prod_settings if env == "prod" else (db, None)
    async with _browser(settings, stand_in) as c:
        if stand_in is None:
            await log_in(c, PID)
            r = await c.get("/admin/logg-inn")
            form = await c.get(r.headers["location"])
            r = await c.post("/dev/oidc/authorize", data={
                **hidden_fields(form.text), "pid": PID, "acr": "idporten-loa-substantial"})
            callback = r.headers["location"]
        else:
            assert (await _prod_login(c, stand_in)).status_code == 303
            callback = _callback(await _to_stand_in(c, stand_in))
        csrf = csrf_of((await c.get("/admin")).text)
        cookies = c.cookies
    short = dataclasses.replace(settings, request_timeout=DEADLINE)
    async with _browser(short, stand_in, cookies) as c:
        monkeypatch.setattr(forsok, "ta", _never_answers)
        monkeypatch.setattr(forsok, "begynn", _never_answers)
        monkeypatch.setattr(okter, "hent", _never_answers)
        async with asyncio.timeout(30):  # a hang fails here, not by hanging the suite
            pages = [await c.get(callback), await c.post("/admin/logg-ut", data={"csrf": csrf}),
                     await c.get("/admin/logg-inn")]
    for page in pages:
        assert page.status_code == 503, page.text
        assert "Tjenesten er midlertidig utilgjengelig" in page.text
        assert int(page.headers["retry-after"]) >= 1


async def test_the_development_providers_form_is_under_the_deadline(db, monkeypatch):
    monkeypatch.setattr("app.edge.app.alle_tilgangsstyrere", _never_answers)
    async with _browser(dataclasses.replace(db, request_timeout=DEADLINE), None) as c:
        async with asyncio.timeout(30):
            r = await c.get("/admin/logg-inn")
            r = await c.get(r.headers["location"])
    assert r.status_code == 503 and r.json()["errors"][0]["extensions"]["code"] == (
        "SERVICE_UNAVAILABLE")


# --- configuration -----------------------------------------------------------------------------

FULL = {"KRR_ENV": "prod", "KRR_IDPORTEN_ISSUER": "https://idporten.no",
        "KRR_IDPORTEN_CLIENT_ID": "abc", "KRR_IDPORTEN_CLIENT_SECRET": "hemmelig",
        "KRR_IDPORTEN_REDIRECT_URL": "https://krr.example.no/admin/innlogget",
        "KRR_PUBLIC_URL": "https://krr.example.no", "KRR_SESSION_SECRET": "k" * 40}


def test_a_complete_configuration_is_read():
    settings = load_settings(FULL)
    assert settings.idporten == Idporten("https://idporten.no", "abc",
                                         "https://krr.example.no/admin/innlogget", "hemmelig")


@pytest.mark.parametrize("missing", ["KRR_IDPORTEN_ISSUER", "KRR_IDPORTEN_CLIENT_ID",
                                     "KRR_IDPORTEN_CLIENT_SECRET", "KRR_IDPORTEN_REDIRECT_URL"])
def test_an_incomplete_configuration_is_refused_naming_what_is_missing(missing):
    env = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("KRR_IDPORTEN_ISSUER", "http://idporten.no", "https"),
    ("KRR_IDPORTEN_REDIRECT_URL", "https://krr.example.no/callback", "/admin/innlogget"),
    ("KRR_IDPORTEN_CLIENT_KEY", "/nonexistent.pem", "both"),
    ("KRR_SESSION_SECRET", "short", "32"),
    ("KRR_IDPORTEN_ACR", "idporten-loa-low", "KRR_IDPORTEN_ACR"),
])
def test_bad_values_are_refused_naming_the_variable(name, value, says):
    with pytest.raises(ConfigError, match=says):
        load_settings({**FULL, name: value})


def test_prod_with_idporten_needs_a_session_secret():
    env = {k: v for k, v in FULL.items() if k != "KRR_SESSION_SECRET"}
    with pytest.raises(ConfigError, match="KRR_SESSION_SECRET"):
        load_settings(env)


def test_an_unreadable_client_key_is_refused_at_start(db, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    settings = Settings(env="prod", database_url=db.database_url, var_dir=tmp_path,
                        idporten=Idporten(ISSUER, CLIENT_ID, "https://krr.test/admin/innlogget",
                                          client_key=bad), session_secret="s" * 40)
    with pytest.raises(ConfigError, match="KRR_IDPORTEN_CLIENT_KEY"):
        create_app(settings, manage_db=False)


def test_security_levels():
    assert godtatt_acr("idporten-loa-high", "idporten-loa-substantial")
    assert godtatt_acr("idporten-loa-substantial", "idporten-loa-substantial")
    assert not godtatt_acr("idporten-loa-substantial", "idporten-loa-high")
    assert not godtatt_acr("idporten-loa-low", "idporten-loa-substantial")


# --- personal data ----------------------------------------------------------------------------

async def test_no_national_id_in_any_url_or_log_line(web, json_log):
    c, _ = web
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    seen: list[str] = []

    async def record(response: httpx.Response) -> None:
        seen.append(str(response.request.url))
        seen.append(response.headers.get("location", ""))

    c.event_hooks["response"] = [record]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)  # whichever logger writes, at any level (the SQL's too)
    try:
        await log_in(c, PID)
        page = await c.get(f"/admin/organisasjon/{CONSUMER}")
        await c.post("/admin/logg-ut", data={"csrf": csrf_of(page.text)})
    finally:
        root.setLevel(level)
    assert len(seen) > 8
    assert not [u for u in seen if PID in u]
    written = lines(json_log)
    assert any("logged in" in line["message"] for line in written)
    assert not [line for line in written if PID in str(line)]


async def test_forged_host_headers_do_not_multiply_the_development_clients(db):
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        for n in range(40):
            r = await c.get("/admin/logg-inn", headers={"Host": f"h{n}.example"})
            assert r.status_code == 302
        assert (await c.get("/admin/logg-inn")).status_code == 302
    assert app.state.innlogging.tilbyder.adresser == MAKS_ADRESSER
