"""HTTP: the Starlette application. A request reads top to bottom: bearer token -> authz ->
principal in the GraphQL context -> resolvers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from app import db, faults, logs, observability
from app.api.context import Clock, Context, utc_now
from app.api.limits import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    RequestLimits,
    batch_refused,
    is_batch,
    payload_too_large,
    read_body,
)
from app.config import Settings
from app.edge.ratelimit import Limiter, build_limiter, over_limit, persons_asked
from app.edge.schema import build_schema
from app.meldinger.senders import utsender
from app.statistikk.page import side as statistikk_side
from app.statistikk.store import Buffer as StatistikkBuffer
from authz.dev_issuer import DevIssuer
from authz.principal import Anonym, Caller
from authz.scopes import OFFENTLIGE_FELT
from authz.tokens import TokenError, TokenVerifier

UNAUTHENTICATED = "UNAUTHENTICATED"


def unauthorized(reason: str, message: str) -> Response:
    """401 with the RFC 6750 challenge; the body says why, never carries data."""
    observability.auth_failed(reason)
    description = message.replace('"', "'")
    return JSONResponse(
        {
            "errors": [
                {"message": message, "extensions": {"code": UNAUTHENTICATED, "reason": reason}}
            ]
        },
        status_code=401,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        },
    )


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(request: Request) -> str:
    """The caller's X-Request-ID when it is a sane token (it goes into the audit log), else new.
    Kept on the request so the access log, the audit log and the response name the same id."""
    known = getattr(request.state, "request_id", None)
    if isinstance(known, str):
        return known
    given = request.headers.get("x-request-id", "")
    request.state.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return request.state.request_id


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise TokenError("missing", "The request has no Authorization header with a bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("malformed", "The Authorization header must be 'Bearer <token>'")
    return token.strip()


def bare_offentlig(body: bytes) -> bool:
    """True when the request is one query whose top-level fields are all public (no token
    needed). Anything unparsable or mixed is not: it then needs a token like everything else."""
    try:
        payload = orjson.loads(body)
        document = parse(payload["query"], no_location=True, max_tokens=2000)
    except (orjson.JSONDecodeError, KeyError, TypeError, GraphQLError):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    if any(isinstance(d, FragmentDefinitionNode) for d in document.definitions):
        return False
    selections = operations[0].selection_set.selections
    return all(
        isinstance(node, FieldNode) and node.name.value in OFFENTLIGE_FELT for node in selections
    )


def replay_body(body: bytes) -> Receive:
    """The request body again, for the application after the body was read here."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class KrrGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and orjson encoding."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    async def get_context(self, request: Any, response: Any) -> Context:
        principal: Caller = request.state.principal
        request_id = request_id_of(request)
        response.headers["X-Request-ID"] = request_id
        request.state.sub_response = response  # app.faults sets 503 on it
        return Context(request=request, principal=principal, request_id=request_id,
                       clock=self.clock)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class Authenticated:
    """Runs the token check before GraphQL sees a request; GET only serves GraphiQL (in dev)."""

    def __init__(self, graphql: KrrGraphQL, verifier: TokenVerifier,
                 limiter: Limiter | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.graphql = graphql
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def _over_limit(self, request: Request, body: bytes) -> Response | None:
        """The rate limit, checked once the caller is known and before any work is done."""
        return await over_limit(
            self.limiter, request, request.state.principal, persons_asked(body)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method != "POST":
            # Personal ids in a URL end up in access logs: GET never runs an operation.
            response = (
                await self.graphql.render_graphql_ide(request)
                if self.graphql.graphql_ide and "text/html" in request.headers.get("accept", "")
                else JSONResponse(
                    {"errors": [{"message": "GraphQL operations must be sent with POST"}]},
                    status_code=405,
                    headers={"Allow": "POST"},
                )
            )
            await response(scope, receive, send)
            return
        # Size and shape first, before the token check does any work (app.limits).
        try:
            body = await read_body(scope, receive, self.max_body_bytes)
        except PayloadTooLarge:
            await payload_too_large(self.max_body_bytes)(scope, receive, send)
            return
        if is_batch(body):
            await batch_refused()(scope, receive, send)
            return
        request = Request(scope, replay_body(body))  # the body is read once, above
        if "authorization" not in request.headers:
            body = await request.body()
            if bare_offentlig(body):
                request.state.principal = Anonym()
                if refused := await self._over_limit(request, body):
                    await refused(scope, receive, send)
                    return
                await self.graphql(scope, replay_body(body), send)
                return
        try:
            request.state.principal = await self.verifier.verify(bearer_token(request))
        except TokenError as exc:
            await unauthorized(exc.reason, exc.message)(scope, receive, send)
            return
        logs.bind_caller(request.state.principal)
        body = await request.body()
        if refused := await self._over_limit(request, body):
            await refused(scope, receive, send)
            return
        await self.graphql(scope, replay_body(body), send)


def build_verifier(settings: Settings, http: httpx.AsyncClient | None = None) -> TokenVerifier:
    dev = DevIssuer.load_or_create(settings.var_dir) if settings.trusts_dev_issuer else None
    return TokenVerifier(
        settings.trusted_issuers, dev_issuer=dev, http=http, require_https=settings.is_prod
    )


def create_app(
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    clock: Clock = utc_now,
    manage_db: bool = True,
    limiter: Limiter | None = None,
) -> Starlette:
    """The service. Tests pass their own verifier/clock and manage the database themselves."""
    http_client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    verifier = verifier or build_verifier(settings, http_client)
    limiter = limiter or build_limiter(settings.rate_limits, settings.redis_url)
    dev_mode = not settings.is_prod
    metrics = observability.Metrics()
    graphql = KrrGraphQL(
        build_schema(prod=settings.is_prod, limits=RequestLimits(
            max_depth=settings.max_depth, max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens, max_body_bytes=settings.max_body_bytes,
        )),
        graphql_ide="graphiql" if dev_mode else None,
        allow_queries_via_get=False,
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await db.connect(settings)
        try:
            if manage_db:  # the outbox's dispatcher runs where the app owns the database
                async with utsender(settings):
                    yield
            else:
                yield
        finally:
            await http_client.aclose()
            await limiter.aclose()
            if manage_db:
                await db.disconnect()

    from app import rest  # imported here: app.rest builds on this module's helpers

    test_routes: list[Route] = []
    if not settings.is_prod:  # the test register's export: absent (404) in prod
        from app.testdata import csv_export

        test_routes.append(csv_export.route(verifier, clock))

    app = Starlette(
        routes=[
            Route(
                "/graphql",
                Authenticated(graphql, verifier, limiter, max_body_bytes=settings.max_body_bytes),
                methods=["GET", "POST"],
            ),
            # Public key figures as a page: aggregates only, no token (like `statistikk`).
            Route("/statistikk", statistikk_side(clock), methods=["GET"]),
            *rest.routes(verifier, clock),
            *observability.routes(metrics),  # /healthz, /readyz, /metrics: no token
            *test_routes,
        ],
        lifespan=lifespan,
        middleware=[Middleware(observability.Observed, metrics=metrics)],
        exception_handlers=faults.exception_handlers(),  # database down: 503, not 500
    )
    app.state.metrics = metrics  # e.g. request.app.state.metrics.rate_limited.inc()
    app.state.statistikk = StatistikkBuffer()  # one computation per minute, shared
    app.state.limiter = limiter
    app.state.max_body_bytes = settings.max_body_bytes
    return app


def app_from_env() -> Starlette:
    """uvicorn's factory for `krr serve --workers N`: each worker process reads the same
    environment and builds its own app, database pool included (nothing shared but the DB)."""
    from app.config import load_settings

    return create_app(load_settings())
