"""An unreachable database is a 503 SERVICE_UNAVAILABLE the client can retry, never a 500 or
a hang: connection errors are recognised here, for GraphQL (an extension) and for every other
route (Starlette exception handlers). The pool reconnects by itself once the database is back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import asyncpg
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError

from app.api.errors import SERVICE_UNAVAILABLE

MESSAGE = "The register's database is unavailable; try again shortly"
RETRY_AFTER = "2"

# Raised on the way to or from the database when it is down, restarting or unreachable.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, DNS (ConnectionError is a subclass)
    TimeoutError,  # connect / command timeout (asyncio.TimeoutError is the same class)
    DBConnectionError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,  # a pooled connection the restart killed
)


def unavailable(exc: BaseException | None) -> bool:
    """True when `exc`, or what it wraps (tortoise re-raises driver errors), means the
    database cannot be reached."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UNAVAILABLE):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _uncoded_outage(err: GraphQLError) -> bool:
    """An outage no resolver handled itself (a coded error is the resolver's own answer)."""
    return not (err.extensions or {}).get("code") and unavailable(err.original_error)


class DatabaseUnavailable(SchemaExtension):
    """Replaces resolver errors caused by an unreachable database with SERVICE_UNAVAILABLE
    (no driver detail leaks) and makes the HTTP status 503."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        if not any(_uncoded_outage(err) for err in result.errors):
            return
        result.errors = [
            GraphQLError(MESSAGE, path=err.path, extensions={"code": SERVICE_UNAVAILABLE})
            if _uncoded_outage(err) else err
            for err in result.errors
        ]
        request = getattr(self.execution_context.context, "request", None)
        response = getattr(getattr(request, "state", None), "sub_response", None)
        if response is not None:
            response.status_code = 503
            response.headers["Retry-After"] = RETRY_AFTER


def response(request_id: str | None = None) -> Response:
    body: dict[str, Any] = {"message": MESSAGE, "extensions": {"code": SERVICE_UNAVAILABLE}}
    if request_id:
        body["extensions"]["request_id"] = request_id
    return JSONResponse({"errors": [body]}, status_code=503, headers={"Retry-After": RETRY_AFTER})


async def _handler(_: Request, exc: Exception) -> Response:
    if not unavailable(exc):  # anything else stays the usual 500
        raise exc
    return response()


def exception_handlers() -> Mapping[Any, Any]:
    """For Starlette(exception_handlers=...): REST routes and anything escaping GraphQL;
    tortoise's wrappers are included because they carry the driver error as their cause."""
    return {cls: _handler for cls in (*UNAVAILABLE, OperationalError, TransactionManagementError)}
