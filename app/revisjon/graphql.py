"""The `bruk` query: the calling organisation's usage report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.tilgang import felt
from app.revisjon import bruk
from authz.scopes import HANDLING_SCOPES, Handling
from authz.tillatelse import organisasjon


@strawberry.type(description="Use of the register: requests and persons disclosed in them.")
class Bruk:
    oppslag: int = strawberry.field(description="Requests that disclosed person data.")
    personer: int = strawberry.field(
        description="Persons disclosed, summed over requests (a person in two requests counts "
        "twice)."
    )


@strawberry.type(description="Use on the organisation's behalf by one vendor (its supplier).")
class LeverandoerBruk:
    leverandoer: str = strawberry.field(description="The vendor's organisation number.")
    oppslag: int = strawberry.field(
        description="Requests by the vendor for the organisation that disclosed person data."
    )
    personer: int = strawberry.field(
        description="Persons the vendor was given for the organisation, summed over requests."
    )


@strawberry.type(description="One day (Europe/Oslo) with use.")
class Bruksdag:
    dag: dt.date = strawberry.field(description="The day (Europe/Oslo).")
    egen_bruk: Bruk = strawberry.field(description="The organisation's own lookups.")
    paa_vegne_av: list[LeverandoerBruk] = strawberry.field(
        description="Lookups by vendors on the organisation's behalf, by organisation number."
    )


@strawberry.type(description="An organisation's use of the register over a period.")
class Bruksrapport:
    organisasjon: str = strawberry.field(
        description="The organisation number of the caller's organisation (the token's consumer)."
    )
    fra: dt.date = strawberry.field(description="The first day of the period, as asked.")
    til: dt.date = strawberry.field(description="The last day of the period, as asked.")
    dager: list[Bruksdag] = strawberry.field(
        description="Days with use, oldest first; days without any use are left out."
    )
    totalt: Bruk = strawberry.field(description="The whole period, own use and vendors' alike.")


def _til_graphql(b: bruk.Bruk) -> Bruk:
    return Bruk(oppslag=b.oppslag, personer=b.personer)


def _rapport(r: bruk.Bruksrapport) -> Bruksrapport:
    return Bruksrapport(
        organisasjon=r.organisasjon,
        fra=r.fra,
        til=r.til,
        dager=[
            Bruksdag(
                dag=d.dag,
                egen_bruk=_til_graphql(d.egen_bruk),
                paa_vegne_av=[
                    LeverandoerBruk(leverandoer=orgnr, oppslag=b.oppslag, personer=b.personer)
                    for orgnr, b in sorted(d.paa_vegne_av.items())
                ],
            )
            for d in r.dager
        ],
        totalt=_til_graphql(r.totalt),
    )


@strawberry.type
class BrukQuery:
    @felt(
        # A vendor only where the organisation delegated the report's scope: it shows every
        # vendor's use.
        organisasjon(Handling.SE_BRUK, paa_vegne_av=True),
        description=(
            "Lookups by the calling organisation (the token's consumer) per Oslo day from fra "
            f"to til inclusive (at most {bruk.MAX_DAGER} days), split into own use and use "
            "on its behalf by each vendor. Needs scope "
            + " or ".join(HANDLING_SCOPES[Handling.SE_BRUK])
            + "."
        ),
    )
    async def bruk(
        self,
        info: Info,
        fra: Annotated[dt.date, strawberry.argument(description="The first day (Oslo).")],
        til: Annotated[
            dt.date, strawberry.argument(description="The last day (Oslo), fra or later.")
        ],
    ) -> Bruksrapport:
        principal = info.context.foresporsel.organisasjon
        return _rapport(await bruk.bruksrapport(principal.consumer, fra, til))
