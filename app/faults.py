"""The one mapping from a failure to the answer the client gets, in every environment.

GraphQL (app.api.errors) and every HTTP route (app.edge) ask `answer_for`; whatever it does not
know is unexpected: a 500, or in GraphQL an error masked in prod. The failures:

- a `ClientError` (app.errors): its own status, code and headers;
- a refusal by the rules in authz (`Avslag`): 403 FORBIDDEN, or 400 BAD_USER_INPUT when the
  refusal is about what was asked (an invalid organisation number, say);
- a refused token, or none: 401 with the RFC 6750 challenge;
- an unreachable database (refused, reset, timed out, a pooled connection a restart killed):
  503 SERVICE_UNAVAILABLE with Retry-After, never a 500 or a hang. The pool reconnects by
  itself once the database is back;
- a database that stops answering without an error (packets dropped): the request's deadline
  (app.edge.deadline) passes and `DeadlinePassed`, an `Unavailable`, is the same 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from tortoise.exceptions import DBConnectionError

from app.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    RETRY_AFTER_SECONDS,
    SERVICE_UNAVAILABLE,
    UNAUTHENTICATED,
    ClientError,
)
from authz.avslag import Avslag
from authz.tokens import NoToken, TokenError

DATABASE_UNAVAILABLE = "The register's database is unavailable; try again shortly"

# Raised on the way to or from the database when it is down, restarting or unreachable.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, DNS (ConnectionError is a subclass)
    TimeoutError,  # connect / command timeout (asyncio.TimeoutError is the same class)
    DBConnectionError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,  # a pooled connection the restart killed
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the client is told: the HTTP status, the error (message and extensions with its
    code) and any headers the status calls for."""

    status: int
    message: str
    extensions: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return str(self.extensions["code"])


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


def challenge(exc: TokenError) -> str:
    """The WWW-Authenticate value of a 401 (RFC 6750 3.1): a bare `Bearer` when no bearer
    token was presented (the client may not know a token is needed: no error code), else
    `invalid_token` with what was wrong. Header values are Latin-1 on the wire, and the
    message may quote what the token held: only printable ASCII goes in."""
    if isinstance(exc, NoToken):
        return "Bearer"
    description = "".join(
        c if " " <= c <= "~" and c not in '"\\' else "?" for c in exc.message
    )
    return f'Bearer error="invalid_token", error_description="{description}"'


def answer_for(exc: BaseException) -> Answer | None:
    """The answer to `exc`, or None when it is unexpected (a bug: 500, masked in prod)."""
    if isinstance(exc, ClientError):
        return Answer(exc.status, exc.message, dict(exc.extensions), dict(exc.headers))
    if isinstance(exc, Avslag):
        extensions: dict[str, Any] = {
            "code": BAD_USER_INPUT if exc.ugyldig_input else FORBIDDEN, "reason": exc.code,
        }
        if exc.scope is not None:
            extensions["scope"] = exc.scope
        return Answer(400 if exc.ugyldig_input else 403, exc.message, extensions)
    if isinstance(exc, TokenError):
        return Answer(
            401, exc.message, {"code": UNAUTHENTICATED, "reason": exc.reason},
            {"WWW-Authenticate": challenge(exc)},
        )
    if unavailable(exc):
        return Answer(503, DATABASE_UNAVAILABLE, {"code": SERVICE_UNAVAILABLE},
                      {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return None
