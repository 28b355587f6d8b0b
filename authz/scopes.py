"""The scope table: which token scope discloses which part of a person. The one place it lives.

Identity, status and reservation go to any caller of the lookup; the rest is grouped into
categories, each opened by a Maskinporten scope (or, in a token acting for someone through
Altinn delegation, the delegated variant of that scope).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from authz.principal import Principal

KONTAKTINFORMASJON_READ = "krr:global/kontaktinformasjon.read"
DIGITALPOST_READ = "krr:global/digitalpost.read"
KONTAKTINFO_READ_DELEGATED = "krr:global/kontaktinfo.read"
POSTKASSE_READ_DELEGATED = "krr:global/postkasse.read"


class Kategori(StrEnum):
    """What a disclosure of a person contains (also what the audit log records)."""

    GRUNNDATA = "GRUNNDATA"  # id, status, reservation
    KONTAKTINFORMASJON = "KONTAKTINFORMASJON"
    DIGITAL_POST = "DIGITAL_POST"


@dataclass(frozen=True, slots=True)
class Adgang:
    """The scope that opens a category, directly or through delegation."""

    scope: str
    delegert_scope: str | None = None


KATEGORI_ADGANG: dict[Kategori, Adgang | None] = {
    Kategori.GRUNNDATA: None,
    Kategori.KONTAKTINFORMASJON: Adgang(KONTAKTINFORMASJON_READ, KONTAKTINFO_READ_DELEGATED),
    Kategori.DIGITAL_POST: Adgang(DIGITALPOST_READ, POSTKASSE_READ_DELEGATED),
}

# Person fields (GraphQL names) and the category each belongs to.
PERSON_FELT: dict[str, Kategori] = {
    "personidentifikator": Kategori.GRUNNDATA,
    "status": Kategori.GRUNNDATA,
    "reservasjon": Kategori.GRUNNDATA,
    "reservasjonstidspunkt": Kategori.GRUNNDATA,
    "reservasjonOppdatert": Kategori.GRUNNDATA,
    "varslingsstatus": Kategori.KONTAKTINFORMASJON,
    "kontaktinformasjon": Kategori.KONTAKTINFORMASJON,
    "spraak": Kategori.KONTAKTINFORMASJON,
    "spraakOppdatert": Kategori.KONTAKTINFORMASJON,
    "digitalPost": Kategori.DIGITAL_POST,
    "sertifikat": Kategori.DIGITAL_POST,
}

LOOKUP_SCOPES = frozenset(
    a.scope for a in KATEGORI_ADGANG.values() if a is not None
)


def manglende_scope(principal: Principal, kategori: Kategori) -> str | None:
    """The scope the caller lacks for `kategori`, or None when it may see it."""
    adgang = KATEGORI_ADGANG[kategori]
    if adgang is None or principal.has_scope(adgang.scope):
        return None
    if (
        principal.supplier is not None
        and adgang.delegert_scope is not None
        and principal.has_scope(adgang.delegert_scope)
    ):
        return None
    return adgang.scope


def kategori_for_felt(felt: str) -> Kategori:
    """The category of a Person field. A field missing here is a bug, never a free pass."""
    return PERSON_FELT[felt]


def tillatte_kategorier(principal: Principal, kategorier: Iterable[Kategori]) -> set[Kategori]:
    return {k for k in kategorier if manglende_scope(principal, k) is None}
