"""/healthz, /readyz and /metrics: no token (no personal data in any of them).

/readyz also says which rate limits are in force (`rate_limit`: app.edge.ratelimit's status):
with Redis away the instance stays ready, on its own limits, and says so."""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response

from app import db
from app.edge.bounded import OwnDeadline
from app.edge.deadline import within
from app.edge.ratelimit import Limiter
from app.errors import SERVICE_UNAVAILABLE, DeadlinePassed, error_object
from app.metrics import Metrics

log = logging.getLogger("krr.access")
READY_TIMEOUT = 2.0  # seconds: a probe must answer before the load balancer gives up on it
MIGRATIONS_DIR = Path(db.__file__).parent / "migrations"


def expected_migrations() -> set[str]:
    return {p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")}


async def _pending_migrations() -> list[str]:
    conn = db.connection()
    await conn.execute_query("SELECT 1")
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        f"SELECT name FROM tortoise_migrations WHERE app = {sql(db.APP_LABEL)}", sql.verdier
    )
    return sorted(expected_migrations() - {row["name"] for row in rows})


async def healthz(_: Request) -> Response:
    """The process is up and serving; no database (a restart would not fix the database)."""
    return JSONResponse({"status": "ok"})


def _unavailable(reason: str, **detail: object) -> Response:
    """503 in the probe's own shape, with the error every answer carries."""
    error = error_object(f"Not ready: {reason}", {"code": SERVICE_UNAVAILABLE})
    return JSONResponse({"status": "unavailable", "reason": reason, **detail,
                         "errors": [error]}, 503)


async def readyz(limiter: Limiter) -> Response:
    """Ready for traffic: the database answers within READY_TIMEOUT and every migration in
    app/migrations is applied. 503 with the reason otherwise. Redis is not asked: an instance
    whose Redis is away serves on its own limits, which the ready answer names."""
    try:
        pending = await within(READY_TIMEOUT, _pending_migrations())
    except DeadlinePassed:  # its connection discarded, as a request's (app.edge.deadline)
        return _unavailable("database timeout")
    except Exception as exc:  # any failure to answer means not ready
        log.warning("readyz: database unreachable (%s)", type(exc).__name__)
        return _unavailable("database unreachable")
    if pending:
        return _unavailable("migrations pending", pending=pending)
    return JSONResponse({"status": "ok", "rate_limit": limiter.status()})


def routes(metrics: Metrics, limiter: Limiter) -> list[Route]:
    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def readyz_endpoint(_: Request) -> Response:
        return await readyz(limiter)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        # Its own timeout (READY_TIMEOUT), and its own answer when it passes.
        Route("/readyz", OwnDeadline(request_response(readyz_endpoint)), methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
