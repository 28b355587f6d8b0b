"""What a resolver knows about the request: who is asking, the clock, and errors to report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import GraphQLError
from starlette.requests import Request

from app.api.errors import FORBIDDEN, error
from authz.principal import Caller, Innbygger, Principal

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class Context:
    request: Request | None
    principal: Caller
    request_id: str
    clock: Clock = utc_now
    # Errors that accompany data (e.g. one FORBIDDEN per withheld field, not one per person).
    errors: list[GraphQLError] = field(default_factory=list)

    @property
    def organisasjon(self) -> Principal:
        """The caller as an organisation (Maskinporten); a resident's token is refused."""
        if not isinstance(self.principal, Principal):
            raise error(
                "This operation is for organisations (a Maskinporten token); "
                "a resident's token cannot use it",
                FORBIDDEN,
            )
        return self.principal

    @property
    def innbygger(self) -> Innbygger:
        """The caller as a logged-in resident (ID-porten); an organisation's token is refused."""
        if not isinstance(self.principal, Innbygger):
            raise error(
                "This operation is for a logged-in resident (an ID-porten token)", FORBIDDEN
            )
        return self.principal
