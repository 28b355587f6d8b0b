"""GraphQL of the change feed (`endringer`), `settSpraak` and `endreIdentifikator`.

Scopes come from the scope table (authz.scopes.Handling); which person fields the feed shows is
decided exactly as in `personer` (app.lookup), with one FORBIDDEN error per withheld field.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from graphql import GraphQLError

from app.api.context import Context
from app.api.errors import BAD_USER_INPUT, CONFLICT, FORBIDDEN, SERVICE_UNAVAILABLE, error
from app.api.selection import selected_subfields
from app.endringer import store
from app.personer.avslag import tilbakeholdt
from app.personer.oppslag import VARSLINGSSTATUS_FELT, Foresporsel, Revisjonsfeil, UgyldigInput
from app.personer.types import Person, Status
from authz.delegation import Avslag
from authz.principal import Principal
from authz.scopes import HANDLING_SCOPES, Handling, manglende_scope_for_handling

Info = strawberry.Info[Context, None]

Feltgruppe = strawberry.enum(
    store.Feltgruppe, name="Feltgruppe",
    description="Parts of an entry that move together when a person gets a new id.",
)


def _scopes(handling: Handling) -> str:
    return " or ".join(HANDLING_SCOPES[handling])


def _krev(info: Info, handling: Handling, *, paa_vegne_av: bool) -> Principal:
    """The organisation calling, when its token opens `handling`; a vendor acting for it only
    where `paa_vegne_av` (writes are in no delegation scheme)."""
    principal = info.context.organisasjon
    mangler = manglende_scope_for_handling(principal, handling)
    if mangler is not None:
        raise error(f"This operation needs scope {mangler}", FORBIDDEN, scope=mangler)
    if principal.supplier is not None and not paa_vegne_av:
        raise error(
            "This operation is for the organisation itself, not a vendor acting for it",
            FORBIDDEN,
        )
    return principal


def _ugyldig(exc: UgyldigInput) -> GraphQLError:
    return error(str(exc), BAD_USER_INPUT, ugyldigePersonidentifikatorer=exc.ugyldige)


@strawberry.type(description="One page of the change feed.")
class Endringer:
    personer: list[Person] = strawberry.field(
        description=(
            "Entries changed after fraEndringsId, in the order of their change (each once, in "
            "its current state; SLETTET entries with status only). Fields as in `personer`."
        )
    )
    fra_endrings_id: int
    til_endrings_id: int = strawberry.field(
        description=(
            "Where the next page starts: the last change in a full page, sisteEndringsId when "
            "the page reaches the end (fraEndringsId when that is ahead of the register, e.g. "
            "after a reseed: start over from 0). Page with fraEndringsId = tilEndringsId until "
            "tilEndringsId == sisteEndringsId: then the copy is exact as of sisteEndringsId."
        )
    )
    siste_endrings_id: int = strawberry.field(
        description="The last committed change, read in the same snapshot as the page."
    )


@strawberry.type(description="What settSpraak did.")
class Spraaksetting:
    personidentifikator: str
    spraak: str
    spraak_oppdatert: dt.datetime
    status: Status  # type: ignore[valid-type]
    opprettet: bool = strawberry.field(
        description="True when the person was not in the register and the entry was created."
    )


@strawberry.type(description="What endreIdentifikator did.")
class Identifikatorendring:
    fra: str
    til: str
    endret: bool = strawberry.field(
        description="False when there was nothing to move (unknown fra, or already moved)."
    )
    flyttet: list[Feltgruppe] = strawberry.field(  # type: ignore[valid-type]
        description="Groups til took from fra."
    )
    beholdt: list[Feltgruppe] = strawberry.field(  # type: ignore[valid-type]
        description="Groups fra had but til kept its own newer (or, a mailbox, existing) value."
    )


@strawberry.type
class EndringQuery:
    @strawberry.field(
        description=(
            f"The change feed, at most {store.MAX_ANTALL} entries a page. Needs scope "
            + _scopes(Handling.HENTE_ENDRINGER)
            + "; the lookup scopes decide the fields. varslingsstatus cannot be selected. "
            "antall null means the default."
        )
    )
    async def endringer(
        self, info: Info, fra_endrings_id: int, antall: int | None = store.MAX_ANTALL
    ) -> Endringer:
        principal = _krev(info, Handling.HENTE_ENDRINGER, paa_vegne_av=True)
        raw = info._raw_info
        personer_noder = selected_subfields(
            raw.field_nodes, raw.fragments, raw.variable_values
        ).get("personer", [])
        felter = selected_subfields(personer_noder, raw.fragments, raw.variable_values)
        if VARSLINGSSTATUS_FELT in felter:
            raise error(
                "varslingsstatus cannot be selected in the change feed: it is a judgement at "
                "the moment of a lookup, not part of the entry; use personer for it",
                BAD_USER_INPUT,
            )
        context = info.context
        foresporsel = Foresporsel(principal, context.request_id, context.clock())
        try:
            side = await store.les_endringer(
                fra_endrings_id, store.MAX_ANTALL if antall is None else antall,
                frozenset(felter), foresporsel,
                revider_personer=bool(personer_noder),
            )
        except UgyldigInput as exc:
            raise error(str(exc), BAD_USER_INPUT) from exc
        except Avslag as exc:
            raise error(exc.message, FORBIDDEN, reason=exc.code) from exc
        except Revisjonsfeil as exc:
            raise error(str(exc), SERVICE_UNAVAILABLE) from exc
        if personer_noder:
            personer_key = (personer_noder[0].alias or personer_noder[0].name).value
            sti = [*info.path.as_list(), personer_key, 0] if side.personer else None
            context.errors.extend(tilbakeholdt(side.avslag, felter, sti, principal))
        return Endringer(
            personer=side.personer,  # type: ignore[arg-type]
            fra_endrings_id=side.fra_endrings_id,
            til_endrings_id=side.til_endrings_id,
            siste_endrings_id=side.siste_endrings_id,
        )


@strawberry.type
class EndringMutation:
    @strawberry.mutation(
        description=(
            "A public body sets the language of letters for a person without one (nb, nn, en "
            "or se), creating an entry with only a language for a person not in the register. "
            "A person with a language gives CONFLICT: the resident's own choice stands. A "
            "SLETTET entry without a language gets it and stays SLETTET. Needs scope "
            + _scopes(Handling.SETTE_SPRAAK) + "."
        )
    )
    async def sett_spraak(
        self, info: Info, personidentifikator: str, spraak: str
    ) -> Spraaksetting:
        _krev(info, Handling.SETTE_SPRAAK, paa_vegne_av=False)
        try:
            svar = await store.sett_spraak(personidentifikator, spraak, info.context.clock())
        except UgyldigInput as exc:
            raise _ugyldig(exc) from exc
        except store.Konflikt as exc:
            raise error(str(exc), CONFLICT) from exc
        return Spraaksetting(
            personidentifikator=svar.personidentifikator,
            spraak=svar.spraak,
            spraak_oppdatert=svar.spraak_oppdatert,
            status=Status(svar.status.value),
            opprettet=svar.opprettet,
        )

    @strawberry.mutation(
        description=(
            "The population register gives a person a new id: contact information, reservation, "
            "language and mailbox move from fra to til (when til has an entry, each keeps the "
            "more recently updated value; a mailbox, til's own), and fra becomes SLETTET. "
            "Running it again changes nothing; an unknown fra moves nothing (endret false). "
            "Needs scope " + _scopes(Handling.ENDRE_IDENTIFIKATOR) + "."
        )
    )
    async def endre_identifikator(self, info: Info, fra: str, til: str) -> Identifikatorendring:
        _krev(info, Handling.ENDRE_IDENTIFIKATOR, paa_vegne_av=False)
        try:
            svar = await store.endre_identifikator(fra, til)
        except UgyldigInput as exc:
            raise _ugyldig(exc) from exc
        return Identifikatorendring(
            fra=svar.fra, til=svar.til, endret=svar.endret,
            flyttet=svar.flyttet,  # type: ignore[arg-type]
            beholdt=svar.beholdt,  # type: ignore[arg-type]
        )
