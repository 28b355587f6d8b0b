"""One verified request, as every operation behind the edge sees it.

The edge (app.edge) builds it once the token is verified: who is calling, under which request
id, at which moment (the § 32 clock of everything the request does), and, for a vendor acting
for an organisation, what the organisation's active delegations to it cover, read from the
registry at most once per request and never cached beyond it, so a revocation bites on the very
next request. Operations never look at the token again. What the request wrote to the audit log
is noted on it, for the signed answer to name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from authz.principal import Caller, Innbygger, Principal, Tilgangsstyrer
from authz.tillatelse import Tillatelse

# (consumer, supplier) -> the scopes the consumer's active delegations to the supplier cover.
Delegeringsoppslag = Callable[[str, str], Awaitable[frozenset[str]]]
# The moment a request is served at; tests pin it.
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def ingen_delegeringer(consumer: str, supplier: str) -> frozenset[str]:
    """For a request that cannot act on behalf of anyone (tests, tools)."""
    return frozenset()


@dataclass(slots=True)
class Foresporsel:
    kaller: Caller
    request_id: str
    now: dt.datetime
    delegeringer: Delegeringsoppslag = ingen_delegeringer
    _dekket: frozenset[str] | None = None
    # The audit records the request wrote (app.revisjon: `oppslag.id`, one per disclosing
    # operation), each added once it is written: a signed answer names them.
    revisjoner: list[int] = field(default_factory=list)

    @property
    def organisasjon(self) -> Principal:
        """The organisation calling. Only operations declared for organisations ask, and the
        declaration is checked first, so anything else is a bug in the declaration."""
        if not isinstance(self.kaller, Principal):
            raise TypeError(f"an organisation's operation was called by {type(self.kaller)}")
        return self.kaller

    @property
    def innbygger(self) -> Innbygger:
        """The resident calling (as `organisasjon`, for residents' operations)."""
        if not isinstance(self.kaller, Innbygger):
            raise TypeError(f"a resident's operation was called by {type(self.kaller)}")
        return self.kaller

    @property
    def tilgangsstyrer(self) -> Tilgangsstyrer:
        """The access manager calling (as `organisasjon`, for the page's operations)."""
        if not isinstance(self.kaller, Tilgangsstyrer):
            raise TypeError(f"an access manager's page was called by {type(self.kaller)}")
        return self.kaller

    async def dekket(self) -> frozenset[str] | None:
        """For a vendor's token, the scopes the active delegations from its consumer cover
        (empty: none); None for a token acting for itself."""
        kaller = self.kaller
        if not isinstance(kaller, Principal) or kaller.supplier is None:
            return None
        if self._dekket is None:
            self._dekket = await self.delegeringer(kaller.consumer, kaller.supplier)
        return self._dekket

    async def kontroller(self, tillatelse: Tillatelse) -> None:
        """The operation's declared permission (authz.tillatelse); raises its `Avslag`."""
        dekket = await self.dekket() if tillatelse.trenger_delegeringer(self.kaller) else None
        tillatelse.kontroller(self.kaller, dekket or frozenset())
