"""GraphQL of the change feed (`endringer`), `settSpraak` and `endreIdentifikator`.

Which person fields the feed shows is decided exactly as in `personer` (app.personer), with
one FORBIDDEN error per withheld field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, cast

import strawberry

from app.api.context import Info, noekkel, sti, valgte_felt
from app.api.internals import enum
from app.api.limits import Personfelt
from app.api.tilgang import felt, mutasjon
from app.endringer import store
from app.errors import BadInput
from app.personer.avslag import tilbakeholdt
from app.personer.felt import Feltgruppe
from app.personer.types import Person
from app.personer.utlevering import VARSLINGSSTATUS_FELT, Status
from authz.scopes import HANDLING_SCOPES, Handling

enum(
    Feltgruppe, name="Feltgruppe",
    description="Parts of an entry that move together when a person gets a new id.",
    verdier={
        Feltgruppe.EPOST: "The e-mail address with its dates.",
        Feltgruppe.MOBIL: "The mobile number with its dates.",
        Feltgruppe.RESERVASJON: "The reservation with its dates.",
        Feltgruppe.SPRAAK: "The language with its date.",
        Feltgruppe.POSTKASSE: "The digital mailbox (and its provider's certificate).",
    },
)


# A page of the feed returns up to `antall` persons (a full page when it is left out): that
# is what it counts toward the persons one request may ask for, and the rate limit.
PERSONFELT = Personfelt.antall("endringer", "antall", store.MAX_ANTALL, store.MAX_ANTALL)


def _scopes(handling: Handling) -> str:
    return " or ".join(HANDLING_SCOPES[handling])


@strawberry.type(description="One page of the change feed.")
class Endringer:
    personer: list[Person] = strawberry.field(
        description=(
            "Entries changed after fraEndringsId, in the order of their change (each once, in "
            "its current state; SLETTET entries with status only). Fields as in `personer`."
        )
    )
    fra_endrings_id: int = strawberry.field(description="The position asked for.")
    til_endrings_id: int = strawberry.field(
        description=(
            "Where the next page starts: the last change in a full page, sisteEndringsId when "
            "the page reaches the end; never beyond sisteEndringsId. Page with fraEndringsId = "
            "tilEndringsId until tilEndringsId == sisteEndringsId: then the copy is exact as of "
            "sisteEndringsId."
        )
    )
    siste_endrings_id: int = strawberry.field(
        description="The last committed change, read in the same snapshot as the page."
    )


@strawberry.type(description="What settSpraak did.")
class Spraaksetting:
    personidentifikator: str = strawberry.field(description="The person, as asked.")
    spraak: str = strawberry.field(
        description="The person's language now: the one set, or the resident's own (CONFLICT)."
    )
    spraak_oppdatert: dt.datetime = strawberry.field(description="When it was set.")
    status: Status = strawberry.field(description="The entry's status after the change.")
    opprettet: bool = strawberry.field(
        description="True when the person was not in the register and the entry was created."
    )


@strawberry.type(description="What endreIdentifikator did.")
class Identifikatorendring:
    fra: str = strawberry.field(description="The old id (becomes SLETTET).")
    til: str = strawberry.field(description="The new id.")
    endret: bool = strawberry.field(
        description="False when there was nothing to move (unknown fra, or already moved)."
    )
    flyttet: list[Feltgruppe] = strawberry.field(description="Groups til took from fra.")
    beholdt: list[Feltgruppe] = strawberry.field(
        description="Groups fra had but til kept its own newer (or, a mailbox, existing) value."
    )


@strawberry.type
class EndringQuery:
    @felt(
        store.LESE_ENDRINGER,
        description=(
            f"The change feed, at most {store.MAX_ANTALL} entries a page. Needs scope "
            + _scopes(Handling.HENTE_ENDRINGER)
            + "; the lookup scopes decide the fields. varslingsstatus cannot be selected. "
            "antall null means the default. fraEndringsId is 0 for the whole register, else "
            "the last page's tilEndringsId; equal to sisteEndringsId it gives an empty, current "
            "page. Below 0 or beyond sisteEndringsId (a position from another register, or from "
            "before this one was reloaded) is BAD_USER_INPUT with extensions.sisteEndringsId: "
            "start over from 0 and copy anew."
        ),
    )
    async def endringer(
        self,
        info: Info,
        fra_endrings_id: Annotated[int, strawberry.argument(
            description="Where to start: 0 for the whole register, else the last page's "
            "tilEndringsId."
        )],
        antall: Annotated[int | None, strawberry.argument(
            description=f"Entries per page, 1 to {store.MAX_ANTALL}; null for the default."
        )] = store.MAX_ANTALL,
    ) -> Endringer:
        personer_noder = valgte_felt(info).get("personer", [])
        felter = valgte_felt(info, personer_noder)
        if VARSLINGSSTATUS_FELT in felter:
            raise BadInput(
                "varslingsstatus cannot be selected in the change feed: it is a judgement at "
                "the moment of a lookup, not part of the entry; use personer for it"
            )
        foresporsel = info.context.foresporsel
        side = await store.les_endringer(
            fra_endrings_id, store.MAX_ANTALL if antall is None else antall,
            frozenset(felter), foresporsel, revider_personer=bool(personer_noder),
        )
        if personer_noder:
            forste = [*sti(info), noekkel(personer_noder[0]), 0] if side.personer else None
            info.context.errors.extend(
                tilbakeholdt(side.avslag, felter, forste, foresporsel.organisasjon)
            )
        return Endringer(
            personer=cast(list[Person], side.personer),  # utlevering's answers, read alike
            fra_endrings_id=side.fra_endrings_id,
            til_endrings_id=side.til_endrings_id,
            siste_endrings_id=side.siste_endrings_id,
        )


@strawberry.type
class EndringMutation:
    @mutasjon(
        store.SETTE_SPRAAK,
        description=(
            "A public body sets the language of letters for a person without one (nb, nn, en "
            "or se), creating an entry with only a language for a person not in the register. "
            "A person with a language gives CONFLICT: the resident's own choice stands. A "
            "SLETTET entry without a language gets it and stays SLETTET. Needs scope "
            + _scopes(Handling.SETTE_SPRAAK) + "."
        ),
    )
    async def sett_spraak(
        self,
        info: Info,
        personidentifikator: Annotated[str, strawberry.argument(
            description="The person's fødselsnummer or D-number."
        )],
        spraak: Annotated[str, strawberry.argument(description="The language: nb, nn, en or se.")],
    ) -> Spraaksetting:
        svar = await store.sett_spraak(personidentifikator, spraak,
                                       info.context.foresporsel.now)
        return Spraaksetting(
            personidentifikator=svar.personidentifikator,
            spraak=svar.spraak,
            spraak_oppdatert=svar.spraak_oppdatert,
            status=Status(svar.status.value),
            opprettet=svar.opprettet,
        )

    @mutasjon(
        store.ENDRE_IDENTIFIKATOR,
        description=(
            "The population register gives a person a new id: contact information, reservation, "
            "language and mailbox move from fra to til (when til has an entry, each keeps the "
            "more recently updated value; a mailbox, til's own), and fra becomes SLETTET. "
            "Running it again changes nothing; an unknown fra moves nothing (endret false). "
            "Needs scope " + _scopes(Handling.ENDRE_IDENTIFIKATOR) + "."
        ),
    )
    async def endre_identifikator(
        self,
        info: Info,
        fra: Annotated[str, strawberry.argument(description="The old id, e.g. a D-number.")],
        til: Annotated[str, strawberry.argument(
            description="The new id the population register gave, e.g. a fødselsnummer."
        )],
    ) -> Identifikatorendring:
        svar = await store.endre_identifikator(fra, til)
        return Identifikatorendring(
            fra=svar.fra, til=svar.til, endret=svar.endret,
            flyttet=svar.flyttet, beholdt=svar.beholdt,
        )
