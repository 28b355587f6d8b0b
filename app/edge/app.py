"""The service: the Starlette app, composed of the features behind the one edge.

Every protected route (GraphQL, the REST endpoints, the export) is a `Guard` (app.edge.guard)
around its handler; the unprotected ones are the public statistics page, the register's public
signing keys (JWKS), the probes, the login and GET /graphql, which never runs an operation.
Every route is under the request's deadline: a Guard keeps it, and every other route is wrapped
in `Bounded` as the app is composed (app.edge.bounded), unless it says it keeps its own. Whatever
a route raises that app.faults knows is answered in the one error shape (a page under /admin);
anything else is a 500 in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import httpx
import httpx2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise.exceptions import OperationalError, TransactionManagementError

from app import db, metrics
from app.api.cursors import Cursors
from app.api.limits import RequestLimits, persons_in_body
from app.config import Settings, load_settings
from app.delegering.store import aktive_scopes
from app.delegering.store import navn as navn_paa
from app.edge import cors, probes, runtime
from app.edge.bounded import Bounded, OwnDeadline
from app.edge.compression import Compressed
from app.edge.deadline import within
from app.edge.graphql import (
    JSON,
    PUBLIC_MAX_BODY_BYTES,
    GraphQLEndpoint,
    KrrGraphQL,
    offentlig,
    offentlige_felt,
    refuse_batch,
    refuse_websocket,
    response_media_type,
    signed_operation,
)
from app.edge.guard import Endpoint, Guard, Inngang, Rutekrav
from app.edge.headers import AnswerHeaders, Cacheable, add_answer_headers
from app.edge.observed import Observed, request_id_of
from app.edge.persisted import PersistedOperations
from app.edge.ratelimit import (
    Hold,
    Limiter,
    RedisLimiter,
    build_limiter,
    charge_client,
    held_per_caller,
)
from app.edge.reading import BodyDeadline
from app.edge.responses import error_response
from app.edge.schema import build_schema, personbegrensning
from app.edge.signed import JWKS_PATH, jwks
from app.edge.slashes import redirect_slashes_relatively
from app.endringer import rest as endringer_rest
from app.errors import (
    INTERNAL_SERVER_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    ClientError,
)
from app.faults import UNAVAILABLE, Answer, answer_for, unavailable
from app.foresporsel import Clock, utc_now
from app.graphiql import side as graphiql_side
from app.hjelp import sider as hjelpesider
from app.innlogging import Innlogging
from app.innlogging.hemmelighet import avledet, okthemmelighet
from app.innlogging.utvikler import Utvikler
from app.meldinger.senders import utsender
from app.personer import rest as personer_rest
from app.printsertifikat import rest as printsertifikat_rest
from app.rest import Rute
from app.revisjon import fordeling as revisjon_fordeling
from app.revisjon import store as revisjon_store
from app.sider import sprak
from app.signing.keys import VARIABLE as SIGNING_KEY_VARIABLE
from app.signing.keys import signing_key_for
from app.signing.signer import PublishedKeys, Signer
from app.statistikk.page import side as statistikk_side
from app.statistikk.store import Buffer as StatistikkBuffer
from app.testdata import csv_export
from app.tilgangsstyrere.store import alle as alle_tilgangsstyrere
from app.tilgangsstyring import inngang as side_inngang
from app.tilgangsstyring import sider as admin
from authz.avslag import Avslag
from authz.dev_issuer import DevIssuer
from authz.tillatelse import TILGANGSSTYRING
from authz.tokens import TokenError, TokenVerifier

log = logging.getLogger("krr.edge")

FORM = frozenset({"application/x-www-form-urlencoded"})
# What the cursors' key is derived for from the service's secret (KRR_SESSION_SECRET, or outside
# prod the one generated under KRR_VAR_DIR): the sealed cursors name a national id
# (app.api.cursors), and only the test register's search has such cursors, never in prod.
CURSOR_KEY = "krr-kursor"
# The access managers' pages (app.tilgangsstyring): path, method, handler.
ADMIN_SIDER: tuple[tuple[str, str, Endpoint], ...] = (
    ("/admin", "GET", admin.forside),
    ("/admin/organisasjon/{orgnr}", "GET", admin.oversikt),
    ("/admin/organisasjon/{orgnr}/gi", "GET", admin.gi_skjema),
    ("/admin/organisasjon/{orgnr}/gi", "POST", admin.gi_kontroller),
    ("/admin/organisasjon/{orgnr}/gi/bekreft", "POST", admin.gi_bekreft),
    ("/admin/organisasjon/{orgnr}/trekk-tilbake/{id}", "GET", admin.trekk_tilbake_side),
    ("/admin/organisasjon/{orgnr}/trekk-tilbake/{id}", "POST", admin.trekk_tilbake),
)


async def testpersoner() -> list[tuple[str, str]]:
    """The development provider's suggestions: every registered access manager, with the
    organisations they manage (by name and number, or number alone; the page says the rest
    in its language)."""
    roller = await alle_tilgangsstyrere()
    navn = await navn_paa({r.orgnr for r in roller})
    per_person: dict[str, list[str]] = {}
    for rolle in roller:
        per_person.setdefault(rolle.pid, []).append(
            f"{navn[rolle.orgnr]} ({rolle.orgnr})" if rolle.orgnr in navn else rolle.orgnr)
    return [(pid, ", ".join(orgs)) for pid, orgs in per_person.items()]


def build_verifier(settings: Settings, http: httpx.AsyncClient | None = None) -> TokenVerifier:
    dev = DevIssuer.load_or_create(settings.var_dir) if settings.trusts_dev_issuer else None
    return TokenVerifier(
        settings.trusted_issuers, dev_issuer=dev, http=http, require_https=settings.is_prod,
        audiences=settings.audiences,
    )


async def _answered(request: Request, exc: Exception) -> Response:
    """A failure the one mapping knows, raised outside a guard (the login, GET /graphql, an
    unguarded route's deadline)."""
    answer = answer_for(exc)
    if answer is None:
        raise exc  # not ours to answer: the 500 handler does
    return _som_side(request, answer) or error_response(answer)


async def _http(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals: no such route (404), a method the route does not take (405)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        code, message = METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}"
    elif exc.status_code == 404:
        code, message = NOT_FOUND, f"There is nothing at {request.url.path}"
    else:
        code, message = f"HTTP_{exc.status_code}", str(exc.detail)
    answer = Answer(exc.status_code, message, {"code": code}, dict(exc.headers or {}))
    return _som_side(request, answer) or error_response(answer)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug: 500 in the one shape, naming the request id (the detail is in the log).

    Starlette answers it outside every middleware, Observed and AnswerHeaders included, so the
    X-Request-ID and the headers every other answer gets from them are set here, and the CORS
    fields."""
    request_id = request_id_of(request)
    answer = answer_for(exc) or Answer(  # an outage wrapped by the ORM reaches here too
        500, f"internal error (request id {request_id})",
        {"code": INTERNAL_SERVER_ERROR, "request_id": request_id},
    )
    response = _som_side(request, answer) or error_response(answer)
    response.headers["X-Request-ID"] = request_id
    add_answer_headers(response.headers, https=request.url.scheme == "https")
    cors.on_failure(request, response)
    return response


def _som_side(request: Request, answer: Answer) -> Response | None:
    """Under /admin a person is reading: a failure outside the pages' guard (a bug, a path that
    is no page) is a page too, not the JSON shape meant for programs."""
    if request.url.path == "/admin" or request.url.path.startswith("/admin/"):
        return side_inngang.feilside_for(request, answer)
    return None


async def _publish(signer: Signer, clock: Clock) -> None:
    """The signing key recorded at startup, so the published keys name it before any answer it
    signs exists; if the database cannot take it now, the first signed answer records it."""
    try:
        await signer.publish(clock())
    except Exception as exc:
        if not unavailable(exc):
            raise
        log.warning("the signing key is not recorded yet (%s); the first signed answer will "
                    "record it", type(exc).__name__)


async def _audit_months(clock: Clock) -> None:
    """The audit log's months ahead made at startup, so no lookup waits to make one; if the
    database cannot do it now (down, or a lock not had in time), the first write of a month
    makes that month, so this never stops a start."""
    try:
        await revisjon_store.lag_maaneder_framover(clock())
    except Exception as exc:
        log.warning("the audit log's months ahead are not made yet (%s)", type(exc).__name__)


def uten_token(_: Request, body: bytes) -> bytes:
    """A public route's request without a token runs as it is (it reads nobody's data)."""
    return body


class PerMethod:
    """One path, an ASGI app for POST and one for GET (the route refuses any other method)."""

    def __init__(self, *, get: ASGIApp, post: ASGIApp) -> None:
        self.get, self.post = get, post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.post if scope["method"] == "POST" else self.get)(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    clock: Clock = utc_now,
    manage_db: bool = True,
    limiter: Limiter | None = None,
    hold: Hold | None = None,
    idp_transport: httpx2.AsyncBaseTransport | None = None,
) -> Starlette:
    """The service. Tests pass their own verifier/clock, rate limiter and hold (its sleep), and
    manage the database themselves (and may reach a stand-in ID-porten through
    `idp_transport`).

    Raises ConfigError when KRR_SIGNING_KEY names no usable key."""
    signing_key = signing_key_for(settings)  # first: a ConfigError leaves nothing open
    for kode in sprak.SPRAAK:  # the pages' catalogues read now: a broken one stops the start
        sprak.oversettelser(kode)
    http_client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    verifier = verifier or build_verifier(settings, http_client)
    limiter = limiter or build_limiter(settings.rate_limits, settings.redis_url)
    hold = hold or Hold(settings.rate_wait, held_per_caller(settings.max_connections))
    app_metrics = metrics.Metrics()
    if isinstance(limiter, RedisLimiter):
        breaker = limiter.breaker
        app_metrics.watch_redis_circuit(lambda: breaker.is_open)
    limits = RequestLimits(
        max_depth=settings.max_depth, max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens, max_fields=settings.max_fields,
        max_body_bytes=settings.max_body_bytes,
    )
    schema = build_schema(prod=settings.is_prod, limits=limits)
    persons = personbegrensning(prod=settings.is_prod)
    offentlige = offentlige_felt(schema)
    persisted = PersistedOperations(settings.trusted_documents,
                                    offentlig=lambda query: offentlig(query, offentlige))
    hemmelighet = okthemmelighet(settings)
    graphql = GraphQLEndpoint(KrrGraphQL(
        schema, cursors=Cursors(avledet(hemmelighet, CURSOR_KEY)),
        graphql_ide=None if settings.is_prod else "graphiql", allow_queries_via_get=False,
    ), persisted)
    signer = Signer(signing_key) if signing_key is not None else None
    inngang = Inngang(verifier, limiter, hold, clock, settings.max_body_bytes, aktive_scopes,
                      settings.request_timeout, signer)
    selv: list[ASGIApp] = []  # the app itself, once built: the development provider's back channel

    async def til_selv(scope: Scope, receive: Receive, send: Send) -> None:
        await selv[0](scope, receive, send)

    if idp_transport is None and settings.idporten is None:
        idp_transport = httpx2.ASGITransport(app=til_selv)

    async def begrens(request: Request) -> None:
        """The login's rate limit: the client's address, as for an anonymous request."""
        await charge_client(limiter, hold, request.client.host if request.client else None)

    innlogging = Innlogging(settings, hemmelighet, clock, idp_transport, begrens)
    side_kaller = side_inngang.kaller(innlogging)

    def side_rute(path: str, method: str, handler: Endpoint) -> Route:
        krav = Rutekrav(tillatelse=TILGANGSSTYRING, kaller=side_kaller,
                        feilside=side_inngang.feilside_for,
                        media_types=FORM if method == "POST" else None)
        return Route(path, Guard(inngang, handler, krav), methods=[method])

    def guarded(rute: Rute) -> Route:
        krav = Rutekrav(tillatelse=rute.tillatelse, personer=rute.personer,
                        signable=rute.signable, claims_in_header=rute.claims_in_header,
                        anonym=uten_token if rute.tillatelse.offentlig else None)
        return Route(rute.path, Guard(inngang, rute.handler, krav), methods=list(rute.methods))

    rest: list[Rute] = [*personer_rest.RUTER, endringer_rest.RUTE, printsertifikat_rest.RUTE]
    if not settings.is_prod:  # the test register's export: absent (404) in prod
        rest.append(csv_export.RUTE)
    graphql_post = Guard(inngang, graphql, Rutekrav(
        personer=lambda body: persons_in_body(body, persons, limits.max_tokens),
        media_types=JSON,
        form=refuse_batch,
        dokument=persisted.resolve,
        anonym=persisted.resolve_anonymous,
        anonym_max_body=PUBLIC_MAX_BODY_BYTES,
        signable=True,
        signert=lambda body: signed_operation(body, limits.max_tokens),
        feiltype=response_media_type,
    ))
    routes: list[BaseRoute] = [
        # One route, so a refused method's Allow names both GET (GraphiQL) and POST.
        Route("/graphql", PerMethod(get=request_response(graphql.get), post=graphql_post),
              methods=["GET", "POST"]),
        *(guarded(r) for r in rest),
        # The pages' language chooser (app/sider/sprak.py): the cookie, then back to the page.
        Route(f"{sprak.VELG_STI}/{{sprak}}", sprak.velg(settings.is_prod), methods=["GET"]),
        # Public key figures as a page: aggregates only, no token (like `statistikk`).
        Route("/statistikk", statistikk_side(clock), methods=["GET"]),
        # Help, contact and the accessibility statement, every page's footer leads to: public.
        *(Route(path, handler, methods=["GET"])
          for path, handler in hjelpesider.sider(settings.kontakt)),
        # The keys signed answers are checked with: public, no token.
        Route(JWKS_PATH, jwks(PublishedKeys(signing_key)), methods=["GET"]),
        *probes.routes(app_metrics, limiter),
        # The access managers' pages and their login (ID-porten; outside prod the development
        # provider, below).
        *innlogging.routes(),
        *(side_rute(path, method, handler) for path, method, handler in ADMIN_SIDER),
        # The pages' one style sheet (app/sider): nothing on a page is loaded from elsewhere.
        Mount("/statisk", Cacheable(StaticFiles(packages=[("app.sider", "statisk")])),
              name="statisk"),
    ]

    if not settings.is_prod:
        utvikler = Utvikler(settings, DevIssuer.load_or_create(settings.var_dir), hemmelighet,
                            testpersoner)
        routes.extend(utvikler.routes())
        # GraphiQL's scripts and styles (GET /graphql's page): nothing loaded from a CDN.
        routes.append(Mount(graphiql_side.PREFIX, Cacheable(graphiql_side.statiske()),
                            name="graphiql"))
    elif settings.idporten is None:
        log.warning("the access managers' page has no login: KRR_IDPORTEN_* is not set")
    if settings.is_prod and not settings.kontakt.oppgitt:
        log.warning("the help, contact and accessibility pages name no contact: set "
                    "KRR_KONTAKT_EPOST or KRR_KONTAKT_URL")

    def bounded(app: ASGIApp) -> ASGIApp:
        """`app` under the request's deadline, unless it keeps one (a Guard, OwnDeadline)."""
        if isinstance(app, (Guard, Bounded, OwnDeadline)):
            return app
        if isinstance(app, PerMethod):
            return PerMethod(get=bounded(app.get), post=bounded(app.post))
        return Bounded(app, settings.request_timeout, settings.max_body_bytes)

    def under_deadline(route: BaseRoute) -> BaseRoute:
        if isinstance(route, Mount):
            return Mount(route.path, app=bounded(route.app), name=route.name)
        assert isinstance(route, Route), f"{route!r}: a kind of route the deadline misses"
        return Route(route.path, bounded(route.app), methods=route.methods, name=route.name)

    routes = [under_deadline(route) for route in routes]
    # A WebSocket on /graphql, where a server hands one over: refused before it opens, so no
    # deadline is needed.
    routes.append(WebSocketRoute("/graphql", refuse_websocket))

    def deadline(work: Awaitable[int]) -> Awaitable[int]:
        """The audit filer's batches under a request's deadline (connections discarded past it)."""
        return within(settings.request_timeout, work)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await db.connect(settings)
            await _audit_months(clock)
        if signer is None:
            log.warning("answers are not signed: %s is not set, so a request for "
                        "application/jose is refused (406)", SIGNING_KEY_VARIABLE)
        elif manage_db:
            await _publish(signer, clock)
        if manage_db:  # the app owns its process (served, not a test's)
            runtime.tune_for_serving()
        try:
            if manage_db:  # the outbox's dispatcher, the audit log's filer and the periodic
                # collection run where the app owns the database and its process
                async with runtime.collecting(), utsender(settings), revisjon_fordeling.fordeler(
                        settings.audit_filer_interval, app_metrics.audit_filed.inc, deadline):
                    yield
            else:
                yield
        finally:
            await http_client.aclose()
            await limiter.aclose()
            if manage_db:
                await db.disconnect()

    answered = (ClientError, Avslag, TokenError, *UNAVAILABLE, OperationalError,
                TransactionManagementError)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Observed outermost, so a body too slow for its deadline is logged and counted too.
        middleware=[Middleware(Observed, metrics=app_metrics),
                    Middleware(AnswerHeaders),  # caching, framing, sniffing, HSTS: every answer
                    Middleware(Compressed),  # as Accept-Encoding asks, when large
                    # OPTIONS and other origins' pages, before any route (no token, no charge);
                    # GET /graphql serves GraphiQL's page (outside prod), else it only refuses.
                    *cors.middleware(routes, settings.cors_origins, {} if graphql.view.graphql_ide
                                     else {"/graphql": frozenset({"POST"})}),
                    Middleware(BodyDeadline, seconds=settings.body_timeout)],
        exception_handlers={
            HTTPException: _http, **dict.fromkeys(answered, _answered), Exception: _unexpected,
        },
    )
    redirect_slashes_relatively(app.router)  # never to the Host header, never a POST
    selv.append(app)
    app.state.innlogging = innlogging
    app.state.statistikk = StatistikkBuffer()  # one computation per minute, shared
    app.state.metrics = app_metrics
    app.state.limiter = limiter
    app.state.hold = hold
    return app


def app_from_env() -> Starlette:
    """uvicorn's factory for `krr serve --workers N`: each worker process reads the same
    environment and builds its own app, database pool included (nothing shared but the DB)."""
    return create_app(load_settings())
