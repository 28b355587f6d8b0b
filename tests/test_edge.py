"""The edge's answers to failure, route by route: every 4xx and 5xx is the one JSON error shape
with its code, and no refusal looks anything up.

First a table of routes x failures, run in the test environment and in prod (where the export
is absent, GraphiQL is off and unexpected errors are masked, so a database outage must still be
a 503 there); then the export, which shares the rate limit and the log fields of GraphQL and
REST; then the refusals the guard gives before it looks at a token at all.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from app import db as database
from app.config import Limits, Rate, Settings
from app.edge import probes
from app.edge.app import PerMethod, create_app
from app.edge.bounded import Bounded, OwnDeadline
from app.edge.graphql import refuse_websocket
from app.edge.guard import Guard
from app.edge.ratelimit import Charge, Limiter, MemoryLimiter
from app.edge.signed import JWKS_PATH
from app.errors import (
    BAD_REQUEST,
    BAD_USER_INPUT,
    BATCH_NOT_ALLOWED,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    SERVICE_UNAVAILABLE,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    DeadlinePassed,
)
from app.personer import register
from app.revisjon import store as revisjon
from app.revisjon.models import Oppslag
from app.signing import store as signing
from app.statistikk import store as statistikk
from app.testdata import csv_export
from app.testdata import store as testdata
from authz.principal import Caller
from authz.tokens import TokenVerifier
from tests.answer_headers import assert_never_kept
from tests.conftest import CONSUMER, FIXED_NOW, lines, spy_calls
from tests.factories import new_id
from tests.test_feed import registrert
from tests.test_paa_vegne_av import VENDOR, delegate, ordning
from tests.test_ratelimit import FakeClock

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
HENTENDRING = "krr:global/hentendring.read"
SOK = "krr:test/sok.read"
BOTH = f"{KONTAKT} {POST}"
ALT = f"{BOTH} {HENTENDRING} {SOK}"

GRAPHQL = "/graphql"
PERSONER = "/rest/v2/personer"
ENDRINGER = "/rest/v2/krr/hentEndringer"
EXPORT = csv_export.PATH
STATISTIKK = "/statistikk"
JOSE = "application/jose"  # a signed answer: prod has no signing key here

PID = new_id(40)
EPOST = "edge.person@example.no"  # in the register: must never reach a refusal
TOO_BIG = b"x" * (Settings.max_body_bytes + 1)
# One request, then none: the clock is pinned, so nothing refills (no waiting, no timing).
# One request, the next 100 s later: refused, too far off to be held (KRR_RATE_WAIT).
TINY = Limits(Rate(0.01, 1), Rate(1000, 1000))


def _json(document: Any) -> bytes:
    return orjson.dumps(document)


LOOKUP = _json({
    "query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
             "{ status kontaktinformasjon { epostadresse } } }",
    "variables": {"ids": [PID]},
})
TYPENAME = _json({"query": "{ __typename }"})
PERSONER_BODY = _json({"personidentifikatorer": [PID]})
ENDRINGER_BODY = _json({"fraEndringsId": 0})

Mint = Callable[..., str]
Token = Callable[[Mint], str]


def org(scope: str = ALT, **claims: Any) -> Token:
    """An organisation's token (the conftest's consumer unless `claims` say otherwise)."""
    return lambda mint: mint(scope, **claims)


def resident(mint: Mint) -> str:
    """A resident's ID-porten token, with every scope an organisation's route could ask for."""
    return mint(ALT, consumer=None, pid=PID)


def garbage(_: Mint) -> str:
    return "abc.def.ghi"


@dataclasses.dataclass(frozen=True, slots=True)
class Ask:
    """One request, with the token minted when it is sent."""

    method: str
    path: str
    token: Token | None = None
    body: bytes = b""
    content_type: str = "application/json"
    accept: str | None = None
    params: tuple[tuple[str, str], ...] = ()


async def send(client: httpx.AsyncClient, ask: Ask, mint: Mint, **headers: str) -> httpx.Response:
    if ask.token is not None:
        headers["Authorization"] = f"Bearer {ask.token(mint)}"
    if ask.body:
        headers["Content-Type"] = ask.content_type
    if ask.accept:
        headers["Accept"] = ask.accept
    return await client.request(ask.method, ask.path, content=ask.body or None,
                                params=list(ask.params), headers=headers)


# --- what breaks -----------------------------------------------------------------------------

Breaker = Callable[[pytest.MonkeyPatch], None]


def _failing(error: type[BaseException], message: str) -> Callable[..., Any]:
    async def fails(*_: object, **__: object) -> Any:
        raise error(message)

    return fails


def _refused() -> Any:
    raise ConnectionRefusedError("the database is down")


def database_down(patch: pytest.MonkeyPatch) -> None:
    """Every connection refused, as tests/test_observability.py breaks the readiness probe."""
    patch.setattr(database, "connection", _refused)


def audit_unwritable(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(revisjon, "skriv_oppslag", _failing(OSError, "disk full"))


def migration_pending(patch: pytest.MonkeyPatch) -> None:
    applied = probes.expected_migrations()
    patch.setattr(probes, "expected_migrations", lambda: applied | {"0099_neste"})


async def _never_answers(*_: object, **__: object) -> Any:
    await asyncio.Event().wait()


def hangs_in(module: object, name: str) -> Breaker:
    """The database stops answering: what the handler reads never comes back, and nothing is
    raised. (tests/test_faults.py drops a real database's packets.)"""

    def breaks(patch: pytest.MonkeyPatch) -> None:
        patch.setattr(module, name, _never_answers)

    return breaks


def probe_hangs(patch: pytest.MonkeyPatch) -> None:
    """The readiness probe's own timeout, shortened, on a database that stops answering."""
    patch.setattr(probes, "READY_TIMEOUT", DEADLINE)
    hangs_in(probes, "_pending_migrations")(patch)


def bug_in(module: object, name: str) -> Breaker:
    """A bug: something the handler calls raises what no rule answers for."""

    def breaks(patch: pytest.MonkeyPatch) -> None:
        patch.setattr(module, name, _failing(RuntimeError, "a bug"))

    return breaks


# --- the table -------------------------------------------------------------------------------

ENVS = ("test", "prod")
DEADLINE = 0.2  # KRR_REQUEST_TIMEOUT where a case needs it: the database stops answering


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    failure: str
    ask: Ask
    status: int
    code: str
    breaker: Breaker | None = None
    prime: Ask | None = None  # sent first by the same caller: uses up the tiny rate limit
    envs: tuple[str, ...] = ENVS
    retry_after: bool | None = None  # None: required on every 429 and 503
    deadline: float | None = None  # the request's deadline, when not the default
    @property
    def id(self) -> str:
        return f"{self.ask.method} {self.ask.path} {self.status} {self.failure}"


def _graphql() -> list[Case]:
    lookup = Ask("POST", GRAPHQL, org(), LOOKUP)
    return [
        Case("body not JSON", dataclasses.replace(lookup, body=b"not json"), 400, BAD_REQUEST),
        Case("JSON without query", dataclasses.replace(lookup, body=_json({"variables": {}})),
             400, BAD_REQUEST),
        Case("batch", Ask("POST", GRAPHQL, body=_json([{"query": "{ __typename }"}])),
             400, BATCH_NOT_ALLOWED),
        Case("no token", dataclasses.replace(lookup, token=None), 401, UNAUTHENTICATED),
        Case("garbage token", dataclasses.replace(lookup, token=garbage), 401, UNAUTHENTICATED),
        Case("GET as JSON", Ask("GET", GRAPHQL, org(), accept="application/json"),
             405, METHOD_NOT_ALLOWED),
        Case("GET for GraphiQL", Ask("GET", GRAPHQL, accept="text/html"), 405,
             METHOD_NOT_ALLOWED, envs=("prod",)),
        Case("PUT", dataclasses.replace(lookup, method="PUT"), 405, METHOD_NOT_ALLOWED),
        Case("too large", Ask("POST", GRAPHQL, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE),
        Case("text/plain", Ask("POST", GRAPHQL, body=LOOKUP, content_type="text/plain"),
             415, UNSUPPORTED_MEDIA_TYPE),
        Case("rate limited", lookup, 429, RATE_LIMITED,
             prime=dataclasses.replace(lookup, body=TYPENAME)),
        Case("signed answer without a signing key", dataclasses.replace(lookup, accept=JOSE),
             406, NOT_ACCEPTABLE, envs=("prod",)),
        Case("database down", lookup, 503, SERVICE_UNAVAILABLE, database_down),
        Case("audit log not writable", lookup, 503, SERVICE_UNAVAILABLE, audit_unwritable),
        Case("database stops answering", lookup, 503, SERVICE_UNAVAILABLE,
             hangs_in(register, "hent_personer"), deadline=DEADLINE),
    ]


def _rest(path: str, body: bytes, bad_body: bytes, scope: str, reader: str) -> list[Case]:
    ask = Ask("POST", path, org(scope), body)
    refused = dataclasses.replace(ask, body=b"{}")  # charged, then refused by the handler
    return [
        Case("bad body", dataclasses.replace(ask, body=bad_body), 400, BAD_USER_INPUT),
        Case("no token", dataclasses.replace(ask, token=None), 401, UNAUTHENTICATED),
        Case("garbage token", dataclasses.replace(ask, token=garbage), 401, UNAUTHENTICATED),
        Case("resident's token", dataclasses.replace(ask, token=resident), 403, FORBIDDEN),
        Case("vendor without delegation",
             dataclasses.replace(ask, token=org(scope, supplier=VENDOR)), 403, FORBIDDEN),
        Case("GET", dataclasses.replace(ask, method="GET", body=b""), 405, METHOD_NOT_ALLOWED),
        Case("too large", Ask("POST", path, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE),
        Case("signed answer without a signing key", dataclasses.replace(ask, accept=JOSE), 406,
             NOT_ACCEPTABLE, envs=("prod",)),
        Case("rate limited", ask, 429, RATE_LIMITED, prime=refused),
        Case("audit log not writable", ask, 503, SERVICE_UNAVAILABLE, audit_unwritable),
        Case("database down", ask, 503, SERVICE_UNAVAILABLE, database_down),
        Case("database stops answering", ask, 503, SERVICE_UNAVAILABLE,
             hangs_in(register, reader), deadline=DEADLINE),
        Case("unexpected exception", ask, 500, INTERNAL_SERVER_ERROR, bug_in(register, reader)),
    ]


def _export() -> list[Case]:
    ask = Ask("GET", EXPORT, org())
    only = ("test",)  # prod has no export: see the 404 below
    return [
        Case("bad parameter", dataclasses.replace(ask, params=(("status", "x"),)),
             400, BAD_USER_INPUT, envs=only),
        Case("no token", dataclasses.replace(ask, token=None), 401, UNAUTHENTICATED, envs=only),
        Case("garbage token", dataclasses.replace(ask, token=garbage), 401, UNAUTHENTICATED,
             envs=only),
        Case("resident's token", dataclasses.replace(ask, token=resident), 403, FORBIDDEN,
             envs=only),
        Case("no search scope", dataclasses.replace(ask, token=org(BOTH)), 403, FORBIDDEN,
             envs=only),
        Case("POST", dataclasses.replace(ask, method="POST"), 405, METHOD_NOT_ALLOWED,
             envs=only),
        Case("too large", dataclasses.replace(ask, token=None, body=TOO_BIG), 413,
             PAYLOAD_TOO_LARGE, envs=only),
        Case("rate limited", ask, 429, RATE_LIMITED, envs=only,
             prime=dataclasses.replace(ask, params=(("status", "x"),))),
        Case("database down", ask, 503, SERVICE_UNAVAILABLE, database_down, envs=only),
        Case("database stops answering", ask, 503, SERVICE_UNAVAILABLE,
             hangs_in(testdata, "side"), envs=only, deadline=DEADLINE),
        Case("audit log not writable", ask, 503, SERVICE_UNAVAILABLE, audit_unwritable,
             envs=only),
        Case("unexpected exception", ask, 500, INTERNAL_SERVER_ERROR, bug_in(testdata, "side"),
             envs=only),
        Case("absent in prod", ask, 404, NOT_FOUND, envs=("prod",)),
    ]


def _unguarded() -> list[Case]:
    page = Ask("GET", STATISTIKK)
    ready = Ask("GET", "/readyz")
    keys = Ask("GET", JWKS_PATH)
    return [
        Case("POST", Ask("POST", STATISTIKK), 405, METHOD_NOT_ALLOWED),
        Case("database down", page, 503, SERVICE_UNAVAILABLE, database_down),
        Case("database stops answering", page, 503, SERVICE_UNAVAILABLE,
             hangs_in(statistikk, "statistikk"), deadline=DEADLINE),
        Case("unexpected exception", page, 500, INTERNAL_SERVER_ERROR,
             bug_in(statistikk, "statistikk")),
        # A probe's 503 is for the load balancer, which does not read Retry-After.
        Case("migration pending", ready, 503, SERVICE_UNAVAILABLE, migration_pending,
             retry_after=False),
        Case("database down", ready, 503, SERVICE_UNAVAILABLE, database_down,
             retry_after=False),
        Case("database stops answering", ready, 503, SERVICE_UNAVAILABLE, probe_hangs,
             retry_after=False),
        Case("POST", Ask("POST", JWKS_PATH), 405, METHOD_NOT_ALLOWED),
        Case("database down", keys, 503, SERVICE_UNAVAILABLE, database_down),
        Case("database stops answering", keys, 503, SERVICE_UNAVAILABLE,
             hangs_in(signing, "recorded"), deadline=DEADLINE),
        Case("unexpected exception", keys, 500, INTERNAL_SERVER_ERROR, bug_in(signing, "recorded")),
        Case("POST", Ask("POST", "/healthz"), 405, METHOD_NOT_ALLOWED),
        Case("POST", Ask("POST", "/metrics"), 405, METHOD_NOT_ALLOWED),
        Case("unknown path", Ask("GET", "/ukjent"), 404, NOT_FOUND),
        Case("unknown path", Ask("POST", "/rest/v2/ukjent", org(), PERSONER_BODY),
             404, NOT_FOUND),
    ]


CASES = [
    *_graphql(),
    *_rest(PERSONER, PERSONER_BODY, b"not json", BOTH, "hent_personer"),
    *_rest(ENDRINGER, ENDRINGER_BODY, _json({"fraEndringsId": -1}), f"{HENTENDRING} {BOTH}",
           "hent_endringer"),
    *_export(),
    *_unguarded(),
]
TABLE = [pytest.param(env, case, id=f"{env} {case.id}") for case in CASES for env in case.envs]


@asynccontextmanager
async def edge(
    settings: Settings, env: str, verifier: TokenVerifier | None = None,
    limiter: Limiter | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, in `env`. Prod trusts the dev issuer as if it were a real one (as in
    tests/test_observability.py); `raise_app_exceptions=False` because Starlette re-raises a
    500's exception after answering it."""
    if env == "prod":
        settings = dataclasses.replace(settings, env="prod")
    app = create_app(settings, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False,
                     limiter=limiter)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield client


@pytest.fixture
def verifiers(dev_issuer: Any) -> Callable[[str], TokenVerifier | None]:
    """env -> the verifier to build the app with: the app's own outside prod."""
    return lambda env: TokenVerifier({}, dev_issuer=dev_issuer) if env == "prod" else None


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions that read persons, each time one is called."""
    return spy_calls(monkeypatch, ((register, "hent_personer"), (register, "hent_endringer"),
                                   (testdata, "side")))


def assert_error(response: httpx.Response, status: int, code: str,
                 retry_after: bool | None = None) -> dict[str, Any]:
    """The one error shape, as JSON, with the headers its status calls for; the error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body.get("data") is None
    assert body["errors"], body
    for error in body["errors"]:
        assert isinstance(error["message"], str) and error["message"]
    error = body["errors"][0]
    assert error["extensions"]["code"] == code
    assert response.headers["x-request-id"]
    assert_never_kept(response)  # a refusal too may say whose lookup it refused
    if status == 401:  # RFC 6750 3.1: no error named when no token was presented
        challenge = response.headers["www-authenticate"]
        assert challenge == "Bearer" or challenge.startswith('Bearer error="invalid_token"')
    if status == 405:
        assert response.headers["allow"]
    if retry_after if retry_after is not None else status in (429, 503):
        assert int(response.headers["retry-after"]) >= 1
    if status == 500:
        request_id = response.headers["x-request-id"]
        assert error["extensions"] == {"code": INTERNAL_SERVER_ERROR, "request_id": request_id}
        assert request_id in error["message"] and "a bug" not in response.text
    return error


def access_line(stream: Any, response: httpx.Response) -> dict[str, Any]:
    """The access log line of the request `response` answers."""
    request_id = response.headers["x-request-id"]
    (line,) = [line for line in lines(stream)
               if line["logger"] == "krr.access" and line["request_id"] == request_id]
    return line


@pytest.mark.parametrize(("env", "case"), TABLE)
async def test_every_failure_is_the_one_json_error_with_its_code(
    db, mint, monkeypatch, verifiers, lookups, env, case
):
    await registrert(PID, epost=EPOST)
    limiter = MemoryLimiter(TINY, clock=lambda: 0.0) if case.prime else None
    settings = db if case.deadline is None else dataclasses.replace(db, request_timeout=DEADLINE)
    async with edge(settings, env, verifiers(env), limiter) as client:
        if case.prime is not None:
            primed = await send(client, case.prime, mint)
            assert primed.status_code in (200, 400), primed.text
        with monkeypatch.context() as patch:
            if case.breaker is not None:
                case.breaker(patch)
            async with asyncio.timeout(30):  # a hang fails here, not by hanging the suite
                response = await send(client, case.ask, mint)
    assert_error(response, case.status, case.code, case.retry_after)
    assert PID not in response.text and EPOST not in response.text
    assert await Oppslag.all().count() == 0  # nothing disclosed, so nothing recorded
    if case.status < 500:
        assert lookups == []  # refused before anything was read


async def test_a_500_names_the_request_the_access_log_names(
    db, mint, monkeypatch, json_log, caplog
):
    """The request id in a 500's answer is how an operator finds the request in the log."""
    bug_in(register, "hent_personer")(monkeypatch)
    caplog.set_level(logging.INFO)
    async with edge(db, "test") as client:
        response = await send(client, Ask("POST", PERSONER, org(BOTH), PERSONER_BODY), mint,
                              **{"X-Request-ID": "bug-1"})
    assert_error(response, 500, INTERNAL_SERVER_ERROR)
    assert response.headers["x-request-id"] == "bug-1"
    line = access_line(json_log, response)
    assert (line["path"], line["status"], line["consumer"]) == (PERSONER, 500, CONSUMER)
    # The traceback itself is logged in the request's context, so its id finds it too.
    (failure,) = [entry for entry in lines(json_log) if entry["logger"] == "krr.edge"]
    assert failure["request_id"] == "bug-1" and failure["level"] == "ERROR"
    assert "RuntimeError" in failure["exception"]


# --- the export: rate-limited and logged like the rest ----------------------------------------


async def test_the_export_is_rate_limited_like_the_rest(db, mint, json_log, caplog):
    await registrert(PID, epost=EPOST)
    clock = FakeClock()
    caplog.set_level(logging.INFO)
    token = {"Authorization": f"Bearer {mint(ALT)}"}
    async with edge(db, "test", limiter=MemoryLimiter(TINY, clock=clock)) as client:
        first = await client.get(EXPORT, headers=token)
        refused = await client.get(EXPORT, headers=token)
        # One budget per consumer, whichever route spends it.
        rest = await client.post(PERSONER, content=PERSONER_BODY, headers=token)
        other = await client.get(EXPORT, headers={"Authorization": "Bearer "
                                                  + mint(ALT, consumer="991825827")})
        clock.now += 100.0  # one request's worth
        again = await client.get(EXPORT, headers=token)
        metrics = (await client.get("/metrics")).text

    for served in (first, other, again):
        assert served.status_code == 200, served.text
        assert served.headers["content-type"].startswith("text/csv")
    for response in (refused, rest):
        assert_error(response, 429, RATE_LIMITED)
    assert "content-disposition" not in refused.headers
    assert "personidentifikator" not in refused.text and PID not in refused.text
    assert await Oppslag.all().count() == 3  # the served exports; the refused one read nothing
    assert "krr_rate_limited_total 2.0" in metrics
    line = access_line(json_log, refused)
    assert (line["path"], line["status"], line["consumer"]) == (EXPORT, 429, CONSUMER)
    (limited,) = [x for x in lines(json_log) if x["message"].startswith("rate limited")
                  and x["request_id"] == refused.headers["x-request-id"]]
    assert limited["consumer"] == CONSUMER


# --- the export's deadline: the first page under the request's, then one per page -----------


@asynccontextmanager
async def raising(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI with its exceptions raised in the test: how a stream that ends
    unfinished shows (a server closes the connection before the body's end)."""
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield client


async def test_export_whose_database_stops_answering_mid_stream_ends_unfinished(
    db, mint, monkeypatch
):
    """Page one is read, sent and audited; page two never comes back: the stream ends at that
    page's deadline, unfinished (never a truncated file passed off as whole), instead of
    holding the worker and the connection."""
    for n in (44, 45, 46):
        await registrert(new_id(n))
    monkeypatch.setattr(csv_export, "SIDE", 1)
    real, pages = testdata.side, []

    async def side(*args: Any, **kwargs: Any) -> Any:
        pages.append(args)
        if len(pages) > 1:
            await _never_answers()
        return await real(*args, **kwargs)

    monkeypatch.setattr(testdata, "side", side)
    async with raising(dataclasses.replace(db, request_timeout=DEADLINE)) as client:
        async with asyncio.timeout(30):
            with pytest.raises(Exception) as raised:  # Starlette's, for a started response
                await client.get(EXPORT, headers={"Authorization": f"Bearer {mint(ALT)}"})
        metrics = (await client.get("/metrics")).text
    assert isinstance(raised.value.__cause__, DeadlinePassed), raised.value
    assert len(pages) == 2
    assert await Oppslag.all().count() == 1  # the page sent; nothing for the one never read
    assert "krr_deadlines_passed_total 1.0" in metrics


async def test_long_export_is_not_cut_while_each_page_comes_within_the_deadline(
    db, mint, monkeypatch
):
    """Four pages each taking half the deadline (on the event loop's clock, moved forward
    instead of waited for): twice the deadline in all, and the export is whole."""
    ids = [new_id(n) for n in (47, 48, 49, 50)]
    for pid in ids:
        await registrert(pid)
    monkeypatch.setattr(csv_export, "SIDE", 1)
    loop = asyncio.get_running_loop()
    real_time, real_side, moved = loop.time, testdata.side, [0.0]
    monkeypatch.setattr(loop, "time", lambda: real_time() + moved[0])

    async def side(*args: Any, **kwargs: Any) -> Any:
        moved[0] += db.request_timeout / 2
        return await real_side(*args, **kwargs)

    monkeypatch.setattr(testdata, "side", side)
    async with raising(db) as client:
        response = await client.get(EXPORT, headers={"Authorization": f"Bearer {mint(ALT)}"})
    assert response.status_code == 200, response.text
    assert moved[0] >= 2 * db.request_timeout
    assert [row["personidentifikator"] for row in csv.DictReader(io.StringIO(response.text))
            ] == sorted(ids)


VENDOR_SCOPES = f"{SOK} {BOTH}"
ROUTES = {
    "graphql": Ask("POST", GRAPHQL, org(VENDOR_SCOPES, supplier=VENDOR), _json({
        "query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
                 "{ status } }", "variables": {"ids": [new_id(41), new_id(42), new_id(43)]}})),
    "rest": Ask("POST", PERSONER, org(VENDOR_SCOPES, supplier=VENDOR),
                _json({"personidentifikatorer": [new_id(41), new_id(42), new_id(43)]})),
    "export": Ask("GET", EXPORT, org(VENDOR_SCOPES, supplier=VENDOR)),
}


@pytest.mark.parametrize("route", ROUTES)
async def test_the_export_is_logged_like_the_rest(db, mint, monkeypatch, json_log, caplog, route):
    """A vendor under a delegation: the access line, and every line written while the request
    runs (one per audit record here, the export's streamed pages included), name the request,
    the consumer and the supplier."""
    for n in (41, 42, 43):
        await registrert(new_id(n))
    await delegate()  # the lookups; the search (the export) needs its own scope delegated:
    async with ordning("test-sok", SOK, BOTH) as sok:
        await delegate(ordning=sok)
        await _logged_like_the_rest(db, mint, monkeypatch, json_log, caplog, route)


async def _logged_like_the_rest(db, mint, monkeypatch, json_log, caplog, route) -> None:
    monkeypatch.setattr(csv_export, "SIDE", 1)  # three pages: two written while streaming
    write = revisjon.skriv_oppslag

    async def written(**record: Any) -> int:
        logging.getLogger("krr.test").info("audit record written")
        return await write(**record)

    monkeypatch.setattr(revisjon, "skriv_oppslag", written)
    caplog.set_level(logging.INFO)
    async with edge(db, "test") as client:
        response = await send(client, ROUTES[route], mint, **{"X-Request-ID": f"edge-{route}"})
    assert response.status_code == 200, response.text

    records = await Oppslag.all()
    assert len(records) == (3 if route == "export" else 1)
    assert {r.request_id for r in records} == {f"edge-{route}"}
    during = [line for line in lines(json_log) if line["logger"] == "krr.test"]
    assert len(during) == len(records)
    for line in [access_line(json_log, response), *during]:
        assert line["request_id"] == f"edge-{route}"
        assert (line["consumer"], line["supplier"]) == (CONSUMER, VENDOR)


# --- refused before the token -----------------------------------------------------------------


class CountingVerifier(TokenVerifier):
    """The dev issuer's verifier, counting the tokens it is asked to verify."""

    calls = 0

    async def verify(self, token: str) -> Caller:
        self.calls += 1
        return await super().verify(token)


class CountingLimiter(MemoryLimiter):
    charges = 0

    async def charge(self, subject: str, persons: int | None, max_wait: float = 0.0) -> Charge:
        self.charges += 1
        return await super().charge(subject, persons, max_wait)


EARLY = [
    pytest.param(Ask("POST", GRAPHQL, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE, id="graphql 413"),
    pytest.param(Ask("POST", PERSONER, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE, id="personer 413"),
    pytest.param(Ask("POST", ENDRINGER, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE,
                 id="hentEndringer 413"),
    pytest.param(Ask("GET", EXPORT, body=TOO_BIG), 413, PAYLOAD_TOO_LARGE, id="export 413"),
    pytest.param(Ask("POST", GRAPHQL, body=LOOKUP, content_type="text/plain"), 415,
                 UNSUPPORTED_MEDIA_TYPE, id="graphql 415"),
    pytest.param(Ask("POST", GRAPHQL, body=_json([{"query": "{ __typename }"}])), 400,
                 BATCH_NOT_ALLOWED, id="graphql batch"),
]


@pytest.mark.parametrize("token", [None, garbage, org()], ids=["none", "garbage", "valid"])
@pytest.mark.parametrize(("ask", "status", "code"), EARLY)
async def test_refusals_before_the_token_need_none_and_do_nothing(
    db, dev_issuer, mint, lookups, ask, status, code, token
):
    """Whatever the token (none, garbage or valid), the body's refusal is the answer: the token
    is never verified, nothing is charged to a rate limit and nothing is read."""
    await registrert(PID, epost=EPOST)
    verifier = CountingVerifier({}, dev_issuer=dev_issuer)
    limiter = CountingLimiter(TINY)
    async with edge(db, "test", verifier, limiter) as client:
        response = await send(client, dataclasses.replace(ask, token=token), mint)
    assert_error(response, status, code)
    assert (verifier.calls, limiter.charges, lookups) == (0, 0, [])
    assert await Oppslag.all().count() == 0


# --- every route under the deadline -------------------------------------------------------------


def _keeps_a_deadline(app: Any) -> bool:
    if isinstance(app, PerMethod):
        return _keeps_a_deadline(app.get) and _keeps_a_deadline(app.post)
    return isinstance(app, (Guard, Bounded, OwnDeadline))


@pytest.mark.parametrize("env", ENVS)
def test_every_route_is_under_the_deadline(settings, env):
    """Routes outside the guard once had no deadline: the login's answer and the logout waited
    a minute on a database that stopped answering. The app puts every route it is composed of
    under KRR_REQUEST_TIMEOUT (app.edge.bounded); this holds it so for routes added later: each
    is a Guard, Bounded, or says where it is made that it keeps a deadline of its own."""
    app = create_app(dataclasses.replace(settings, env=env), manage_db=False)
    routes = [route for route in app.routes if isinstance(route, Route | Mount)]
    # The one WebSocket route refuses before a WebSocket opens (app.edge.graphql): no deadline.
    sockets = [route for route in app.routes if isinstance(route, WebSocketRoute)]
    assert [(r.path, r.endpoint) for r in sockets] == [("/graphql", refuse_websocket)]
    assert len(routes) + len(sockets) == len(app.routes) > 15
    assert [r.path for r in routes if not _keeps_a_deadline(r.app)] == []
    assert [r.path for r in routes if isinstance(r.app, OwnDeadline)] == ["/readyz"]
    paths = {r.path for r in routes}
    assert {"/admin/innlogget", "/admin/logg-ut", "/statistikk", JWKS_PATH, "/readyz", "/hjelp",
            "/kontakt", "/tilgjengelighet"} <= paths
