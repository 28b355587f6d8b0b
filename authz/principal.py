"""The caller as established from a verified access token.

Access control runs on ``consumer`` (the organisation the data is for); ``supplier`` is the
vendor acting on its behalf, allowed only through an active delegation, and logged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as vouched for by a trusted issuer. Immutable so it can be shared freely."""

    consumer: str
    scopes: frozenset[str]
    issuer: str
    supplier: str | None = None
    pid: str | None = None
    client_id: str | None = None
    token_id: str | None = None
    delegation_source: str | None = None

    def has_scope(self, scope: str) -> bool:
        """Exact scope match; scopes are opaque strings, never prefixes or patterns."""
        return scope in self.scopes

    @property
    def actor(self) -> str | None:
        """Who acted, for the records: the person (pid) when one acts for the organisation,
        otherwise the client. Never used for access control."""
        return self.pid or self.client_id


@dataclass(frozen=True, slots=True)
class Innbygger:
    """A resident logged in with ID-porten, acting on their own entry only."""

    pid: str
    scopes: frozenset[str]
    issuer: str
    acr: str
    client_id: str | None = None
    token_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        return self.pid


@dataclass(frozen=True, slots=True)
class Tilgangsstyrer:
    """A person logged in with ID-porten to the access managers' page (app.tilgangsstyring),
    with the organisations the registry says they manage, read once per request. Acts for one
    of them at a time (authz.tilgangsstyrer), never on any person's entry."""

    pid: str
    acr: str
    issuer: str
    organisasjoner: frozenset[str]
    scopes: frozenset[str] = frozenset()  # a login carries no API scopes

    def has_scope(self, scope: str) -> bool:
        return False

    @property
    def actor(self) -> str:
        return self.pid


@dataclass(frozen=True, slots=True)
class Anonym:
    """A caller without a token: let through only to public aggregates (authz.scopes)."""

    scopes: frozenset[str] = frozenset()

    def has_scope(self, scope: str) -> bool:
        return False

    @property
    def actor(self) -> None:
        return None


Caller = Principal | Innbygger | Tilgangsstyrer | Anonym
