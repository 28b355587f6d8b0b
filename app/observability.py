"""What operators see: Prometheus metrics, the access log, and the health and readiness probes.

Each app has its own CollectorRegistry (several apps in one test process do not collide). Code
deep in a request (the lookup, the token check) reaches the app's metrics through a context
variable that the middleware sets, so it needs no handle on the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from app import db, logs

access_log = logging.getLogger("krr.access")
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
READY_TIMEOUT = 2.0  # seconds: a probe must answer before the load balancer gives up on it
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Metrics:
    """The service's metrics. Label values come from bounded sets (schema field names, token
    error reasons), never from the request's variables or ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "krr_graphql_requests", "GraphQL operations by top-level fields and outcome",
            ["operation", "type", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "krr_graphql_request_duration_seconds", "GraphQL operation time (parse to result)",
            ["operation"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.persons_disclosed = Counter(
            "krr_persons_disclosed", "Person entries disclosed (after the audit record)",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "krr_auth_failures", "Refused tokens by reason", ["reason"], registry=self.registry
        )
        self.rate_limited = Counter(
            "krr_rate_limited", "Requests refused by the rate limit", registry=self.registry
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_current: ContextVar[Metrics | None] = ContextVar("krr_metrics", default=None)


def current() -> Metrics | None:
    """The metrics of the app serving the current request (None outside a request)."""
    return _current.get()


def persons_disclosed(count: int) -> None:
    if (metrics := _current.get()) is not None and count:
        metrics.persons_disclosed.inc(count)


def auth_failed(reason: str) -> None:
    if (metrics := _current.get()) is not None:
        metrics.auth_failures.labels(reason).inc()


class Observed:
    """ASGI middleware: the request id and log context, the metrics handle, one JSON access
    log line per request (uvicorn's own is off), and X-Request-ID on every response."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from app.http import request_id_of  # app.http builds the app with this module

        request_id = request_id_of(Request(scope))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        token = _current.set(self.metrics)
        try:
            with logs.request_context(request_id):
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    duration_ms = round((time.perf_counter() - started) * 1000, 1)
                    path: str = scope["path"]
                    access_log.log(
                        logging.DEBUG if path in PROBES else logging.INFO,
                        "%s %s %s %.1fms", scope["method"], path, status, duration_ms,
                        extra={"method": scope["method"], "path": path, "status": status,
                               "duration_ms": duration_ms},
                    )
        finally:
            _current.reset(token)


META_FIELDS = frozenset({"__typename", "__schema", "__type"})


def operation_label(
    document: DocumentNode | None, operation_name: str | None, schema: GraphQLSchema
) -> tuple[str, str]:
    """(top-level field names, operation type) of the operation that runs. Client-chosen
    operation names are not used (unbounded label values); names not in the schema neither."""
    if document is None:
        return "invalid", "unknown"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or
              (o.name is not None and o.name.value == operation_name)]
    if len(chosen) != 1:
        return "invalid", "unknown"
    operation = chosen[0]
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    known = set(root.fields) if root is not None else set()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names = {n for n in _field_names(operation.selection_set, fragments, set())
             if n in known or n in META_FIELDS}
    return (",".join(sorted(names)) or "invalid"), operation.operation.value


def _field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node.name.value
        elif isinstance(node, InlineFragmentNode):
            yield from _field_names(node.selection_set, fragments, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            if (fragment := fragments.get(node.name.value)) is not None:
                yield from _field_names(fragment.selection_set, fragments, seen)


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its top-level fields (never its variables)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        metrics = _current.get()
        if metrics is None:
            return
        ctx = self.execution_context
        operation, kind = operation_label(
            ctx.graphql_document, ctx.operation_name, ctx.schema._schema
        )
        outcome = "error" if ctx.result is not None and ctx.result.errors else "ok"
        metrics.requests.labels(operation, kind, outcome).inc()
        metrics.latency.labels(operation).observe(time.perf_counter() - started)


# --- probes ------------------------------------------------------------------------------------


def expected_migrations() -> set[str]:
    return {p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")}


async def _pending_migrations() -> list[str]:
    conn = db.connection()
    await conn.execute_query("SELECT 1")
    _, rows = await conn.execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = "
        + ("$1" if conn.capabilities.dialect == "postgres" else "?"),
        [db.APP_LABEL],
    )
    return sorted(expected_migrations() - {row["name"] for row in rows})


async def healthz(_: Request) -> Response:
    """The process is up and serving; no database (a restart would not fix the database)."""
    return JSONResponse({"status": "ok"})


async def readyz(_: Request) -> Response:
    """Ready for traffic: the database answers within READY_TIMEOUT and every migration in
    app/migrations is applied. 503 with the reason otherwise."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            pending = await _pending_migrations()
    except TimeoutError:
        return JSONResponse({"status": "unavailable", "reason": "database timeout"}, 503)
    except Exception as exc:  # any failure to answer means not ready
        access_log.warning("readyz: database unreachable (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, 503)
    if pending:
        return JSONResponse(
            {"status": "unavailable", "reason": "migrations pending", "pending": pending}, 503
        )
    return JSONResponse({"status": "ok"})


def routes(metrics: Metrics) -> list[Route]:
    """/healthz, /readyz and /metrics: no token (no personal data in any of them)."""

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
