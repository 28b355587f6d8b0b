"""GraphQL of the delegation registry, always acting for the token's `consumer`.

Who may administer is each operation's declared permission (the admin scope, and the
organisation itself: a vendor acting for it cannot delegate onward); what may be granted or
revoked are the rules in authz.delegation. A refusal is their `Avslag`, answered FORBIDDEN for
who is asking, BAD_USER_INPUT for what is asked, with `extensions.reason` naming the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.tilgang import felt, mutasjon
from app.delegering import handlinger, store
from authz.delegation import ADMINISTRERE
from authz.tillatelse import INNLOGGET


@strawberry.type(description="An organisation by its organisation number.")
class Organisasjon:
    orgnr: str = strawberry.field(description="The organisation number (9 digits).")
    navn: str | None = strawberry.field(
        description="Display name, when known to the register (Enhetsregisteret's). Never holds "
        "bidirectional formatting characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, "
        "U+061C); show it isolated all the same (HTML's <bdi>), as a name may be written "
        "right to left."
    )


@strawberry.type(
    description="A delegation scheme (an API in Altinn's words): a titled bundle of scopes."
)
class Delegeringsordning:
    id: strawberry.ID = strawberry.field(description="The scheme's id (pass as `ordning`).")
    tittel: str = strawberry.field(description="The scheme's title, as shown in Altinn.")
    eier: Organisasjon = strawberry.field(description="The organisation that owns the API.")
    scopes: list[str] = strawberry.field(
        description="The scopes a delegation of the scheme lets the receiver use for the giver."
    )


@strawberry.type(description="A grant from one organisation to another for one scheme.")
class Delegering:
    id: strawberry.ID = strawberry.field(
        description="The delegation's id (pass to trekkTilbakeTilgang)."
    )
    fra: Organisasjon = strawberry.field(description="The giver (the public body).")
    til: Organisasjon = strawberry.field(description="The receiver (the vendor).")
    ordning: Delegeringsordning = strawberry.field(description="The scheme delegated.")
    opprettet: dt.datetime = strawberry.field(description="When it was granted.")
    opprettet_av: str = strawberry.field(
        description="Who granted it. To the giver: the person (pid) or the client that acted; to "
        "the receiver only the giver's organisation number (a person's id is shown only to the "
        "person's own organisation)."
    )
    trukket_tilbake: dt.datetime | None = strawberry.field(
        description="When it was revoked or given up; null while active."
    )
    trukket_tilbake_av: str | None = strawberry.field(
        description="Who revoked it (the giver) or gave it up (the receiver). To that "
        "organisation: the person (pid) or the client; to the other party only that "
        "organisation's number. Null while active (and for revocations recorded before the "
        "revoking organisation was)."
    )
    aktiv: bool = strawberry.field(description="True until revoked.")


@strawberry.type(description="The caller's organisation's delegations, newest first.")
class Delegeringer:
    gitt: list[Delegering] = strawberry.field(description="Given by the organisation.")
    mottatt: list[Delegering] = strawberry.field(description="Received by the organisation.")


class _Navn:
    """Organisation names fetched once per request for everything in the answer."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    @classmethod
    async def for_(
        cls, ordninger: Iterable[store.Ordning], rader: Iterable[store.DelegeringRad] = ()
    ) -> _Navn:
        orgnrs = {o.eier for o in ordninger}
        for r in rader:
            orgnrs.update((r.fra, r.til, r.ordning.eier))
        return cls(await store.navn(orgnrs))

    def org(self, orgnr: str) -> Organisasjon:
        return Organisasjon(orgnr=orgnr, navn=self._names.get(orgnr))

    def ordning(self, o: store.Ordning) -> Delegeringsordning:
        return Delegeringsordning(
            id=strawberry.ID(o.id), tittel=o.tittel, eier=self.org(o.eier), scopes=list(o.scopes)
        )

    def delegering(self, r: store.DelegeringRad, seer: str) -> Delegering:
        """The delegation as organisation `seer` is shown it (handlinger.aktoerer)."""
        vist = handlinger.aktoerer(r, seer)
        return Delegering(
            id=strawberry.ID(str(r.id)),
            fra=self.org(r.fra),
            til=self.org(r.til),
            ordning=self.ordning(r.ordning),
            opprettet=r.opprettet,
            opprettet_av=vist.opprettet_av,
            trukket_tilbake=r.trukket_tilbake,
            trukket_tilbake_av=vist.trukket_tilbake_av,
            aktiv=r.aktiv,
        )


async def _en(rad: store.DelegeringRad, seer: str) -> Delegering:
    return (await _Navn.for_((), [rad])).delegering(rad, seer)


@strawberry.type
class DelegeringQuery:
    @felt(INNLOGGET, description="The delegation schemes an organisation can grant.")
    async def delegeringsordninger(self) -> list[Delegeringsordning]:
        ordninger = await store.ordninger()
        navn = await _Navn.for_(ordninger)
        return [navn.ordning(o) for o in ordninger]

    @felt(
        ADMINISTRERE,
        description=(
            "Delegations given and received by the caller's organisation, revoked ones included"
            " (needs scope krr:admin/delegering.write)."
        ),
    )
    async def delegeringer(self, info: Info) -> Delegeringer:
        principal = info.context.foresporsel.organisasjon
        gitt, mottatt = await store.delegeringer_for(principal.consumer)
        navn = await _Navn.for_((), [*gitt, *mottatt])
        return Delegeringer(
            gitt=[navn.delegering(r, principal.consumer) for r in gitt],
            mottatt=[navn.delegering(r, principal.consumer) for r in mottatt],
        )


@strawberry.type
class DelegeringMutation:
    @mutasjon(
        ADMINISTRERE,
        description=(
            "Delegate a scheme from the caller's organisation to another organisation (scope"
            " krr:admin/delegering.write). Granting what is already active returns the active one."
        ),
    )
    async def deleger_tilgang(
        self,
        info: Info,
        til: Annotated[str, strawberry.argument(
            description="The receiving organisation's number (9 digits, mod-11 checked)."
        )],
        ordning: Annotated[strawberry.ID, strawberry.argument(
            description="The scheme's id (Delegeringsordning.id)."
        )],
    ) -> Delegering:
        foresporsel = info.context.foresporsel
        principal = foresporsel.organisasjon
        rad = await handlinger.gi_tilgang(principal, til, str(ordning), foresporsel.now)
        return await _en(rad, principal.consumer)

    @mutasjon(
        ADMINISTRERE,
        description=(
            "Revoke a delegation the caller's organisation gave, or give up one it received"
            " (scope krr:admin/delegering.write). The record stays, marked as revoked."
        ),
    )
    async def trekk_tilbake_tilgang(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The delegation's id.")],
    ) -> Delegering:
        foresporsel = info.context.foresporsel
        principal = foresporsel.organisasjon
        rad = await handlinger.trekk_tilbake_tilgang(
            principal, handlinger.delegerings_id(str(id)), foresporsel.now)
        return await _en(rad, principal.consumer)
