"""The public `statistikk` query: aggregates only, so it needs no token (authz.scopes)."""

from __future__ import annotations

import datetime as dt

import strawberry

from app.api.context import Info
from app.api.tilgang import felt
from app.statistikk import store
from authz.tillatelse import OFFENTLIG


@strawberry.type(description="Active persons with a digital mailbox at one provider.")
class Postkasseleverandoerandel:
    orgnr: str = strawberry.field(description="The provider's organisation number.")
    navn: str = strawberry.field(description="The provider's name, e.g. Digipost or e-Boks.")
    antall: int = strawberry.field(description="Active persons with a mailbox there.")


@strawberry.type(description="An age group of active persons (seed 004's table).")
class Aldersgruppe:
    navn: str = strawberry.field(description='The group name: "15-20", ..., "86-90", "90+".')
    fra: int = strawberry.field(description="First age in the group.")
    til: int | None = strawberry.field(description="Last age in the group; null: no upper end.")
    innbyggere: int = strawberry.field(description="Active persons of these ages.")
    med_postkasse: int = strawberry.field(description="Of them, with a digital mailbox.")
    andel: float = strawberry.field(
        description="The share medPostkasse / innbyggere, from 0 to 1 (0 for an empty group)."
    )


@strawberry.type(description="Use of the lookup in one month, from the audit log.")
class Oppslagsmaaned:
    maaned: str = strawberry.field(description="YYYY-MM (the month of the Oslo day).")
    oppslag: int = strawberry.field(description="Requests that disclosed person data.")
    personer: int = strawberry.field(description="Persons disclosed, summed over requests.")
    konsumenter: int = strawberry.field(description="Distinct consuming organisations.")


@strawberry.type(description="The register's key figures.")
class Statistikk:
    tidspunkt: dt.datetime = strawberry.field(description="When the figures were computed.")
    dato: dt.date = strawberry.field(description="The Oslo date ages are computed at.")
    registrerte: int = strawberry.field(description="All entries, active and deleted.")
    aktive: int = strawberry.field(description="Entries with status AKTIV.")
    slettede: int = strawberry.field(description="Entries with status SLETTET.")
    med_epost: int = strawberry.field(description="Active persons with an e-mail address.")
    med_mobil: int = strawberry.field(description="Active persons with a mobile number.")
    med_postkasse: int = strawberry.field(description="Active persons with a digital mailbox.")
    reserverte: int = strawberry.field(description="Active persons reserved against digital "
                                       "communication.")
    kan_varsles: int = strawberry.field(
        description="Active persons who may be notified (§ 32: not reserved, and at least one "
        "channel updated or confirmed within 18 months)."
    )
    postkasser: list[Postkasseleverandoerandel] = strawberry.field(
        description="Mailboxes per provider, most first."
    )
    aldersgrupper: list[Aldersgruppe] = strawberry.field(
        description="Share with a digital mailbox per age group (age from the id's birth date, "
        "D-numbers and synthetic numbers included); under 15 is left out."
    )
    oppslag: list[Oppslagsmaaned] = strawberry.field(description="Per month, oldest first.")


def til_graphql(s: store.Statistikk) -> Statistikk:
    return Statistikk(
        tidspunkt=s.tidspunkt,
        dato=s.dato,
        registrerte=s.registrerte,
        aktive=s.aktive,
        slettede=s.slettede,
        med_epost=s.med_epost,
        med_mobil=s.med_mobil,
        med_postkasse=s.med_postkasse,
        reserverte=s.reserverte,
        kan_varsles=s.kan_varsles,
        postkasser=[Postkasseleverandoerandel(orgnr=p.orgnr, navn=p.navn, antall=p.antall)
                    for p in s.postkasser],
        aldersgrupper=[
            Aldersgruppe(navn=g.navn, fra=g.fra, til=g.til, innbyggere=g.innbyggere,
                         med_postkasse=g.med_postkasse, andel=g.andel)
            for g in s.aldersgrupper
        ],
        oppslag=[Oppslagsmaaned(maaned=m.maaned, oppslag=m.oppslag, personer=m.personer,
                                konsumenter=m.konsumenter) for m in s.oppslag],
    )


@strawberry.type
class StatistikkQuery:
    @felt(
        OFFENTLIG,
        description="The register's key figures; public (no token needed), aggregates only, "
        f"at most {int(store.TTL_SEKUNDER)} seconds old.",
    )
    async def statistikk(self, info: Info) -> Statistikk:
        context = info.context
        state = context.request.app.state if context.request is not None else None
        return til_graphql(await store.hent(state, context.foresporsel.now))
