"""A refusal by the rules in authz, and the reasons clients branch on (`extensions.reason`)."""

from __future__ import annotations

# Who is asking: the permission an operation declares (authz.tillatelse).
FEIL_TOKENTYPE = "FEIL_TOKENTYPE"  # an organisation's operation with a resident's token, or back
MANGLER_SCOPE = "MANGLER_SCOPE"
VIDEREDELEGERING = "VIDEREDELEGERING"  # a vendor (supplier) on what is the organisation's own
MANGLER_DELEGERING = "MANGLER_DELEGERING"  # a vendor without an active delegation
IKKE_TILGANGSSTYRER = "IKKE_TILGANGSSTYRER"  # a logged-in person not managing the organisation
# What is asked for: the delegation registry's rules (authz.delegation).
IKKE_PART = "IKKE_PART"
DELEGERING_TIL_SEG_SELV = "DELEGERING_TIL_SEG_SELV"
UGYLDIG_ORGNR = "UGYLDIG_ORGNR"
UKJENT_ORDNING = "UKJENT_ORDNING"
ALLEREDE_TRUKKET_TILBAKE = "ALLEREDE_TRUKKET_TILBAKE"

# Refusals caused by what was asked for rather than by who asked (BAD_USER_INPUT, not
# FORBIDDEN).
UGYLDIG_INPUT = frozenset(
    {DELEGERING_TIL_SEG_SELV, UGYLDIG_ORGNR, UKJENT_ORDNING, ALLEREDE_TRUKKET_TILBAKE}
)


class Avslag(Exception):
    """A refusal: `code` (the reason) for clients to branch on, `message` for people, and the
    scope that would have opened it where a missing scope is the reason."""

    def __init__(self, code: str, message: str, scope: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.scope = scope

    @property
    def ugyldig_input(self) -> bool:
        """True for bad input (BAD_USER_INPUT), False for a permission problem (FORBIDDEN)."""
        return self.code in UGYLDIG_INPUT
