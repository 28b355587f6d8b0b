"""What a resolver knows about the request: who is asking, the clock, and errors to report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import GraphQLError
from starlette.requests import Request

from authz.principal import Principal

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class Context:
    request: Request | None
    principal: Principal
    request_id: str
    clock: Clock = utc_now
    # Errors that accompany data (e.g. one FORBIDDEN per withheld field, not one per person).
    errors: list[GraphQLError] = field(default_factory=list)
