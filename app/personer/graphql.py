"""The `personer` query: up to 1000 persons in one call."""

from __future__ import annotations

import strawberry

from app.api.context import Context
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, SERVICE_UNAVAILABLE, error
from app.api.selection import selected_subfields
from app.personer.avslag import tilbakeholdt
from app.personer.oppslag import MAX_IDS, Foresporsel, Revisjonsfeil, UgyldigInput, slaa_opp
from app.personer.types import Person
from authz.delegation import Avslag


@strawberry.type
class PersonQuery:
    @strawberry.field(
        description=(
            f"Look up 1 to {MAX_IDS} persons by fødselsnummer or D-number: one entry per distinct "
            "id, in the order asked; unknown ids come back as IKKE_REGISTRERT."
        )
    )
    async def personer(
        self, info: strawberry.Info[Context, None], personidentifikatorer: list[str]
    ) -> list[Person]:
        raw = info._raw_info
        felter = selected_subfields(raw.field_nodes, raw.fragments, raw.variable_values)
        context = info.context
        organisasjon = context.organisasjon
        foresporsel = Foresporsel(organisasjon, context.request_id, context.clock())
        try:
            resultat = await slaa_opp(personidentifikatorer, frozenset(felter), foresporsel)
        except UgyldigInput as exc:
            raise error(
                str(exc), BAD_USER_INPUT, ugyldigePersonidentifikatorer=exc.ugyldige
            ) from exc
        except Avslag as exc:  # a vendor without an active delegation: no person data at all
            raise error(exc.message, FORBIDDEN, reason=exc.code) from exc
        except Revisjonsfeil as exc:
            raise error(str(exc), SERVICE_UNAVAILABLE) from exc
        context.errors.extend(
            tilbakeholdt(resultat.avslag, felter, [*info.path.as_list(), 0], organisasjon)
        )
        return resultat.personer  # type: ignore[return-value]
