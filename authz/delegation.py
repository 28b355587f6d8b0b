"""The delegation rules, as pure decisions (no I/O): what may be granted and revoked, and who
is recorded as having done it.

Modelled on Altinn's API delegation: organisation to organisation, no onward delegation,
revocable by the giver or given up by the receiver. Who may administer at all is the declared
permission `ADMINISTRERE` (authz.tillatelse); the rules below decide what is asked. A refusal
is an `Avslag`.
"""

from __future__ import annotations

from authz.avslag import (
    DELEGERING_TIL_SEG_SELV,
    IKKE_PART,
    UGYLDIG_ORGNR,
    UKJENT_ORDNING,
    Avslag,
)
from authz.identifikatorer import is_valid_orgno
from authz.principal import Principal
from authz.scopes import Handling
from authz.tillatelse import organisasjon

# Who may read and administer an organisation's delegations: its own tokens (no vendor acting
# for it: that would be onward delegation) with the admin scope. The operations declare it.
ADMINISTRERE = organisasjon(Handling.DELEGERE)


def kan_delegere(principal: Principal, til: str, ordning_finnes: bool) -> None:
    """May the caller's organisation delegate a scheme to `til`? Raises `Avslag` if not."""
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
    if principal.consumer not in (fra, til):
        raise Avslag(
            IKKE_PART,
            f"{principal.consumer} is neither the giver nor the receiver of this delegation",
        )


def vist_aktoer(aktoer_: str | None, aktoerens_org: str | None, seer: str) -> str | None:
    """Who acted on a delegation, as `seer` (an organisation number) is shown it: a person's id
    is personal data, shown only to the person's own organisation; the other party sees the
    organisation that acted. Unknown organisation (revoked before it was recorded): neither."""
    if aktoer_ is None or aktoerens_org is None:
        return None
    return aktoer_ if seer == aktoerens_org else aktoerens_org


def aktoer(principal: Principal) -> str:
    """Who is recorded as having acted: the person (pid), else the client, else (a token
    without client_id) the organisation itself, so a record never lacks an actor."""
    return principal.actor or principal.consumer
