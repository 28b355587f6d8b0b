"""The delegation rules, as pure decisions (no I/O): who may grant, revoke and act on behalf of.

Modelled on Altinn's API delegation: organisation to organisation, no onward delegation,
revocable by the giver or given up by the receiver. Callers read what the rules need (does the
scheme exist, which scopes the active delegations cover) and ask here; a refusal is an `Avslag`.
"""

from __future__ import annotations

from authz.principal import Principal
from authz.scopes import Handling, manglende_scope_for_handling
from authz.tokens import is_valid_orgno

# Why a request was refused (`extensions.reason` in GraphQL errors).
MANGLER_SCOPE = "MANGLER_SCOPE"
VIDEREDELEGERING = "VIDEREDELEGERING"
IKKE_PART = "IKKE_PART"
MANGLER_DELEGERING = "MANGLER_DELEGERING"
DELEGERING_TIL_SEG_SELV = "DELEGERING_TIL_SEG_SELV"
UGYLDIG_ORGNR = "UGYLDIG_ORGNR"
UKJENT_ORDNING = "UKJENT_ORDNING"
ALLEREDE_TRUKKET_TILBAKE = "ALLEREDE_TRUKKET_TILBAKE"

# Refusals caused by what was asked for rather than by who asked.
UGYLDIG_INPUT = frozenset(
    {DELEGERING_TIL_SEG_SELV, UGYLDIG_ORGNR, UKJENT_ORDNING, ALLEREDE_TRUKKET_TILBAKE}
)


class Avslag(Exception):
    """A refusal: `code` for clients to branch on, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def ugyldig_input(self) -> bool:
        """True for bad input (BAD_USER_INPUT), False for a permission problem (FORBIDDEN)."""
        return self.code in UGYLDIG_INPUT


def _krev_handling(principal: Principal, handling: Handling) -> None:
    mangler = manglende_scope_for_handling(principal, handling)
    if mangler is not None:
        raise Avslag(MANGLER_SCOPE, f"The token lacks scope {mangler}")


def kan_se_delegeringer(principal: Principal) -> None:
    """Listing the organisation's given and received delegations: the admin scope."""
    _krev_handling(principal, Handling.DELEGERE)


def kan_administrere(principal: Principal) -> None:
    """Granting or revoking at all: the admin scope, and the organisation acting for itself.

    A token with `supplier` is a vendor acting for its consumer; letting it grant would be
    onward delegation, which Altinn does not allow.
    """
    _krev_handling(principal, Handling.DELEGERE)
    if principal.supplier is not None:
        raise Avslag(
            VIDEREDELEGERING,
            f"A token acting on behalf of {principal.consumer} (supplier {principal.supplier})"
            " cannot grant or revoke delegations: no onward delegation",
        )


def kan_delegere(principal: Principal, til: str, ordning_finnes: bool) -> None:
    """May the caller's organisation delegate a scheme to `til`? Raises `Avslag` if not."""
    kan_administrere(principal)
    if not is_valid_orgno(til):
        raise Avslag(
            UGYLDIG_ORGNR,
            f"{til[:20]!r} is not a valid organisation number (9 digits, mod-11 check digit)",
        )
    if til == principal.consumer:
        raise Avslag(DELEGERING_TIL_SEG_SELV, "An organisation cannot delegate to itself")
    if not ordning_finnes:
        raise Avslag(UKJENT_ORDNING, "No such delegation scheme")


def kan_trekke_tilbake(principal: Principal, fra: str, til: str) -> None:
    """The giver revokes, or the receiver gives the right up; nobody else touches it."""
    kan_administrere(principal)
    if principal.consumer not in (fra, til):
        raise Avslag(
            IKKE_PART,
            f"{principal.consumer} is neither the giver nor the receiver of this delegation",
        )


def kontroller_paa_vegne_av(principal: Principal, dekkede_scopes: frozenset[str]) -> None:
    """A vendor's token (`supplier` set) is served only under an active delegation.

    `dekkede_scopes` is what the active delegations from consumer to supplier cover; empty
    means there is none. Whether they cover each scope used is decided field by field elsewhere.
    """
    if principal.supplier is not None and not dekkede_scopes:
        raise Avslag(
            MANGLER_DELEGERING,
            f"No active delegation from {principal.consumer} to {principal.supplier}",
        )


def aktoer(principal: Principal) -> str:
    """Who is recorded as having acted: the person (pid), else the client, else (a token
    without client_id) the organisation itself, so a record never lacks an actor."""
    return principal.actor or principal.consumer
