"""An access manager (tilgangsstyrer) acting for an organisation on the page, as a pure rule.

In Altinn the person with the access-manager role for an organisation grants and revokes its
API delegations. Here the registry of roles (app.tilgangsstyrere) says which organisations a
logged-in person manages; for one of them the person acts exactly as the organisation's own
token with the administering scope would, so the page and GraphQL share every delegation rule
(authz.delegation) and the person is recorded as the actor.
"""

from __future__ import annotations

from authz.avslag import IKKE_TILGANGSSTYRER, Avslag
from authz.principal import Principal, Tilgangsstyrer
from authz.scopes import DELEGERING_WRITE


def som_organisasjon(person: Tilgangsstyrer, orgnr: str) -> Principal:
    """`person` acting for `orgnr`: the organisation's administering principal with the person
    as actor. Raises `Avslag` when the registry does not name the person for `orgnr` (a form
    can name any organisation)."""
    if orgnr not in person.organisasjoner:
        raise Avslag(
            IKKE_TILGANGSSTYRER,
            "Du er ikke registrert som tilgangsstyrer for denne virksomheten",
        )
    return Principal(
        consumer=orgnr,
        scopes=frozenset({DELEGERING_WRITE}),
        issuer=person.issuer,
        pid=person.pid,
    )
