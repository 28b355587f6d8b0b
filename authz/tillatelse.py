"""Who may call an operation: one declaration per operation, one check.

Every GraphQL field that reaches the register and every protected HTTP route declares a
`Tillatelse`: the kind of caller (an organisation's Maskinporten token, a resident's ID-porten
token, any token, or none at all for public aggregates), the action whose scopes the token must
hold (the scope table, authz.scopes), and whether a vendor acting for the organisation (a token
with `supplier`) may call it, and then only under an active delegation from the organisation.
app.api applies the declaration to GraphQL fields, app.edge to routes; no operation checks by
hand. Which of a person's fields a caller sees is decided per field afterwards (authz.scopes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from authz.avslag import (
    FEIL_TOKENTYPE,
    MANGLER_DELEGERING,
    MANGLER_SCOPE,
    VIDEREDELEGERING,
    Avslag,
)
from authz.principal import Anonym, Caller, Innbygger, Principal, Tilgangsstyrer
from authz.scopes import (
    HANDLING_SCOPES,
    Handling,
    dekker,
    godtatte_scopes,
    manglende_scope_for_handling,
)


class Kallertype(StrEnum):
    ORGANISASJON = "ORGANISASJON"  # a public body's Maskinporten token (or a vendor's for it)
    INNBYGGER = "INNBYGGER"  # a resident's ID-porten token, on their own entry only
    INNLOGGET = "INNLOGGET"  # any verified token
    TILGANGSSTYRER = "TILGANGSSTYRER"  # a person logged in to the access managers' page
    ALLE = "ALLE"  # anyone, with no token: public aggregates only, never a person's data


_FEIL_TOKENTYPE = {
    Kallertype.ORGANISASJON: "This operation is for organisations (a Maskinporten token); a "
    "resident's token cannot use it",
    Kallertype.INNBYGGER: "This operation is for a logged-in resident (an ID-porten token)",
    Kallertype.INNLOGGET: "This operation needs a token",
    Kallertype.TILGANGSSTYRER: "This page is for access managers logged in with ID-porten",
}
_KALLERTYPER: dict[Kallertype, tuple[type, ...]] = {
    Kallertype.ORGANISASJON: (Principal,),
    Kallertype.INNBYGGER: (Innbygger,),
    Kallertype.INNLOGGET: (Principal, Innbygger),
    Kallertype.TILGANGSSTYRER: (Tilgangsstyrer,),
    Kallertype.ALLE: (Principal, Innbygger, Anonym),
}


@dataclass(frozen=True, slots=True)
class Tillatelse:
    """An operation's declared permission."""

    kaller: Kallertype
    handling: Handling | None = None  # the token must hold one of its scopes
    paa_vegne_av: bool = False  # a vendor may call it, under an active delegation

    @property
    def offentlig(self) -> bool:
        """Needs no token (the edge lets a request without one through to these only)."""
        return self.kaller is Kallertype.ALLE

    def trenger_delegeringer(self, kaller: Caller) -> bool:
        """Whether judging `kaller` needs what the consumer's active delegations to its
        supplier cover (the registry is read for it, once per request)."""
        return isinstance(kaller, Principal) and kaller.supplier is not None and self.paa_vegne_av

    def kontroller(self, kaller: Caller, dekket: frozenset[str] = frozenset()) -> None:
        """Raises `Avslag` unless `kaller` may call the operation. `dekket` is, for a vendor's
        token, the scopes the active delegations from its consumer cover (empty: none)."""
        if not isinstance(kaller, _KALLERTYPER[self.kaller]):
            raise Avslag(FEIL_TOKENTYPE, _FEIL_TOKENTYPE[self.kaller])
        if self.handling is not None:
            mangler = manglende_scope_for_handling(kaller, self.handling)
            if mangler is not None:
                raise Avslag(MANGLER_SCOPE, f"This operation needs scope {mangler}", mangler)
        if (self.kaller is not Kallertype.ORGANISASJON or not isinstance(kaller, Principal)
                or kaller.supplier is None):
            return
        if not self.paa_vegne_av:
            raise Avslag(
                VIDEREDELEGERING,
                f"A token acting on behalf of {kaller.consumer} (supplier {kaller.supplier}) "
                "cannot call this operation: it is for the organisation itself (no onward "
                "delegation)",
            )
        # The operation's own scope, held by the token, must be in what the organisation
        # delegated: a delegation for lookups does not open the change feed.
        brukt = godtatte_scopes(kaller, self.handling) & kaller.scopes if self.handling else set()
        if not dekket or (self.handling and not any(dekker(dekket, s) for s in brukt)):
            trenger = " or ".join(HANDLING_SCOPES[self.handling]) if self.handling else ""
            raise Avslag(
                MANGLER_DELEGERING,
                f"No active delegation from {kaller.consumer} to {kaller.supplier}"
                + (f" covers {trenger}" if dekket and trenger else ""),
                trenger or None,
            )


def organisasjon(handling: Handling | None = None, *, paa_vegne_av: bool = False) -> Tillatelse:
    """An organisation's operation; `paa_vegne_av`: a vendor acting for it may call it too."""
    return Tillatelse(Kallertype.ORGANISASJON, handling, paa_vegne_av)


def innbygger(handling: Handling) -> Tillatelse:
    """A resident's operation on their own entry."""
    return Tillatelse(Kallertype.INNBYGGER, handling)


INNLOGGET = Tillatelse(Kallertype.INNLOGGET)
TILGANGSSTYRING = Tillatelse(Kallertype.TILGANGSSTYRER)  # the page: which organisation, below
OFFENTLIG = Tillatelse(Kallertype.ALLE)
