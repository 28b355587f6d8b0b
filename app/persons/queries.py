"""The `personer` query: up to 1000 persons in one call."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.api.context import Context
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, error
from app.api.selection import selected_subfields
from app.lookup import MAX_IDS, UgyldigInput, slaa_opp
from app.persons.types import Person


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
        try:
            resultat = await slaa_opp(
                personidentifikatorer, context.principal, frozenset(felter), context.clock()
            )
        except UgyldigInput as exc:
            raise error(
                str(exc), BAD_USER_INPUT, ugyldigePersonidentifikatorer=exc.ugyldige
            ) from exc
        for avslag in resultat.avslag:
            nodes = felter[avslag.felt]
            response_key = (nodes[0].alias or nodes[0].name).value
            context.errors.append(
                GraphQLError(
                    f"Person.{avslag.felt} is withheld: the token lacks scope {avslag.scope}",
                    nodes=nodes,
                    path=[*info.path.as_list(), 0, response_key],
                    extensions={"code": FORBIDDEN, "field": avslag.felt, "scope": avslag.scope},
                )
            )
        return resultat.personer  # type: ignore[return-value]
