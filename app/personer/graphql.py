"""The `personer` query: up to 1000 persons in one call."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from app.api.context import Info, before_answer, sti, valgte_felt
from app.api.limits import Personfelt
from app.api.tilgang import felt
from app.personer.avslag import tilbakeholdt
from app.personer.oppslag import (
    GRAPHQL_FELT,
    MAX_IDS,
    PERSONIDENTIFIKATORER,
    TILLATELSE,
    slaa_opp,
)
from app.personer.types import Person

# What a lookup counts toward the persons one request may ask for, and the rate limit
# (app.api.limits): its distinct ids, over GraphQL and REST alike.
PERSONFELT = Personfelt.ider(GRAPHQL_FELT, PERSONIDENTIFIKATORER, MAX_IDS)


@strawberry.type
class PersonQuery:
    @felt(
        TILLATELSE,
        description=(
            f"Look up 1 to {MAX_IDS} persons by fødselsnummer or D-number: one entry per distinct "
            "id, in the order asked; unknown ids come back as IKKE_REGISTRERT."
        ),
    )
    async def personer(
        self,
        info: Info,
        personidentifikatorer: Annotated[list[str], strawberry.argument(
            description=f"1 to {MAX_IDS} fødselsnumre or D-numbers (11 digits, mod-11 "
            "checked); a repeated id gives one entry."
        )],
    ) -> list[Person]:
        felter = valgte_felt(info)
        foresporsel = info.context.foresporsel
        resultat = await slaa_opp(personidentifikatorer, frozenset(felter), foresporsel,
                                  samtidig_revisjon=True)
        # The persons are completed while the audit record is written; the answer waits for it.
        before_answer(info, resultat.revisjon)
        info.context.errors.extend(
            tilbakeholdt(resultat.avslag, felter, [*sti(info), 0], foresporsel.organisasjon)
        )
        # The answers are app.personer.utlevering's; Person reads the same attributes.
        return cast(list[Person], resultat.personer)
