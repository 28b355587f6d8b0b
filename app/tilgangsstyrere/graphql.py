"""GraphQL of the access-manager registry, always acting for the token's `consumer`.

Who may manage an organisation's access managers is who may administer its delegations: its
own token with the admin scope (authz.delegation.ADMINISTRERE; a vendor acting for it is
refused). A manager's national id is shown here only to the manager's own organisation, the
one asking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.tilgang import felt, mutasjon
from app.tilgangsstyrere import store
from authz.delegation import ADMINISTRERE, aktoer

# store.legg_til or store.fjern: (orgnr, pid, av, naa) -> the role as it now stands
Endring = Callable[[str, str, str, dt.datetime], Awaitable[store.Rolle]]


@strawberry.type(
    description="A person with the access-manager role for the caller's organisation: they "
    "grant and revoke its delegations."
)
class Tilgangsstyrer:
    pid: str = strawberry.field(description="The person's national id.")
    lagt_til: dt.datetime = strawberry.field(description="Manager since.")
    lagt_til_av: str = strawberry.field(
        description="Who added the role: the person (pid) or client that acted for the "
        "organisation, or the register's operator (krr-cli:<user>)."
    )
    fjernet: dt.datetime | None = strawberry.field(description="When removed; null while active.")
    fjernet_av: str | None = strawberry.field(description="Who removed it; null while active.")
    aktiv: bool = strawberry.field(description="True until removed.")


def _tilgangsstyrer(rolle: store.Rolle) -> Tilgangsstyrer:
    return Tilgangsstyrer(
        pid=rolle.pid,
        lagt_til=rolle.lagt_til,
        lagt_til_av=rolle.lagt_til_av,
        fjernet=rolle.fjernet,
        fjernet_av=rolle.fjernet_av,
        aktiv=rolle.aktiv,
    )


@strawberry.type
class TilgangsstyrerQuery:
    @felt(
        ADMINISTRERE,
        description="The caller's organisation's active access managers, longest-serving first"
        " (scope krr:admin/delegering.write).",
    )
    async def tilgangsstyrere(self, info: Info) -> list[Tilgangsstyrer]:
        orgnr = info.context.foresporsel.organisasjon.consumer
        return [_tilgangsstyrer(rolle) for rolle in await store.liste(orgnr)]


async def _for_kalleren(info: Info, endre: Endring, pid: str) -> Tilgangsstyrer:
    """`endre` (store.legg_til or store.fjern) for the token's consumer, now, recording the
    token's actor."""
    foresporsel = info.context.foresporsel
    principal = foresporsel.organisasjon
    return _tilgangsstyrer(
        await endre(principal.consumer, pid, aktoer(principal), foresporsel.now)
    )


@strawberry.type
class TilgangsstyrerMutation:
    @mutasjon(
        ADMINISTRERE,
        description="Make a person an access manager of the caller's organisation (scope"
        " krr:admin/delegering.write). Adding an active manager returns the active role.",
    )
    async def legg_til_tilgangsstyrer(
        self, info: Info,
        pid: Annotated[str, strawberry.argument(
            description="The person's national id (fødselsnummer or D-number)."
        )],
    ) -> Tilgangsstyrer:
        return await _for_kalleren(info, store.legg_til, pid)

    @mutasjon(
        ADMINISTRERE,
        description="End a person's access-manager role for the caller's organisation (scope"
        " krr:admin/delegering.write). The record stays, marked as removed.",
    )
    async def fjern_tilgangsstyrer(
        self, info: Info,
        pid: Annotated[str, strawberry.argument(description="The manager's national id.")],
    ) -> Tilgangsstyrer:
        return await _for_kalleren(info, store.fjern, pid)
