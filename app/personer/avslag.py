"""The FORBIDDEN error for a withheld Person field: one per field, not one per person, for
every operation that returns persons (`personer`, `endringer`, `meg`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from graphql import FieldNode, GraphQLError

from app.errors import FORBIDDEN
from app.personer.utlevering import Feltavslag
from authz.principal import Principal


def tilbakeholdt(
    avslag: Iterable[Feltavslag],
    felter: Mapping[str, Sequence[FieldNode]],
    person_sti: Sequence[str | int] | None,
    principal: Principal | None = None,
) -> list[GraphQLError]:
    """Errors for the refused fields the query selected. `person_sti` is the response path of
    the first person (None when there is none); `principal` words a delegation refusal."""
    errors = []
    for a in avslag:
        nodes = felter.get(a.felt)
        if not nodes:
            continue
        if a.ikke_delegert and principal is not None:
            grunn = (
                f"the delegation from {principal.consumer} to {principal.supplier} does not "
                f"cover scope {a.scope}"
            )
        else:
            grunn = f"the token lacks scope {a.scope}"
        key = (nodes[0].alias or nodes[0].name).value
        errors.append(
            GraphQLError(
                f"Person.{a.felt} is withheld: {grunn}",
                nodes=list(nodes),
                path=None if person_sti is None else [*person_sti, key],
                extensions={"code": FORBIDDEN, "field": a.felt, "scope": a.scope},
            )
        )
    return errors
