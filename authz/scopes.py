"""The scope table: which token scope discloses which part of a person. The one place it lives.

Identity, status and reservation go to any caller of the lookup; the rest is grouped into
categories, each opened by a Maskinporten scope (or, in a token acting for someone through
Altinn delegation, the delegated variant of that scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from authz.principal import Caller, Principal

KONTAKTINFORMASJON_READ = "krr:global/kontaktinformasjon.read"
DIGITALPOST_READ = "krr:global/digitalpost.read"
KONTAKTINFO_READ_DELEGATED = "krr:global/kontaktinfo.read"
POSTKASSE_READ_DELEGATED = "krr:global/postkasse.read"
DELEGERING_WRITE = "krr:admin/delegering.write"
BRUK_READ = "krr:admin/bruk.read"
# Keeping the register current: public bodies set a language, the population register
# changes ids, local copies follow the change feed.
SPRAAK_WRITE = "krr:global/spraak.write"
HENTENDRING_READ = "krr:global/hentendring.read"
FOLKEREGISTER = "krr:admin/folkeregister"
# A resident's own entry (ID-porten tokens): never another person's.
KONTAKTINFORMASJON_USER_READ = "krr:user/kontaktinformasjon.read"
KONTAKTINFORMASJON_USER_WRITE = "krr:user/kontaktinformasjon.write"
DIGITALPOST_USER_READ = "krr:user/digitalpost.read"
SPRAAK_USER_WRITE = "krr:user/spraak.write"
# Test environments only (the schema leaves them out in prod): make and search test persons.
TESTPERSONER_WRITE = "krr:test/testpersoner.write"
SOK_READ = "krr:test/sok.read"


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


def manglende_scope(
    principal: Principal, kategori: Kategori, dekket: frozenset[str] | None = None
) -> str | None:
    """The scope the caller lacks for `kategori`, or None when it may see it.

    `dekket` is, for a token acting on behalf of its consumer (`supplier` set), the scopes the
    active delegations from consumer to supplier cover; the category must be both in the token
    and covered. The delegated scope names count only in such a token.
    """
    adgang = KATEGORI_ADGANG[kategori]
    if adgang is None:
        return None
    if not aapnende_scopes(principal, kategori):
        return adgang.scope
    if principal.supplier is not None and not _navn(adgang, principal) & (dekket or frozenset()):
        return adgang.scope
    return None


def _navn(adgang: Adgang, principal: Principal) -> frozenset[str]:
    """The scope names that open a category for this kind of token."""
    if principal.supplier is not None and adgang.delegert_scope is not None:
        return frozenset({adgang.scope, adgang.delegert_scope})
    return frozenset({adgang.scope})


def aapnende_scopes(principal: Principal, kategori: Kategori) -> frozenset[str]:
    """The token's scopes that open `kategori` (what the audit log records as used)."""
    adgang = KATEGORI_ADGANG[kategori]
    if adgang is None:
        return frozenset()
    return _navn(adgang, principal) & principal.scopes


class Handling(StrEnum):
    """What an operation does, each opened by any one of its scopes."""

    SLAA_OPP = "SLAA_OPP"  # look persons up (any lookup scope; the fields by their categories)
    DELEGERE = "DELEGERE"  # grant, revoke, list delegations
    SE_BRUK = "SE_BRUK"  # the usage report
    # A resident on their own entry. Writing implies seeing what one wrote.
    SE_MEG = "SE_MEG"  # `meg`: the entry, its deadlines and who looked it up
    SE_MIN_POSTKASSE = "SE_MIN_POSTKASSE"  # the digital mailbox fields of `meg`
    ENDRE_MEG = "ENDRE_MEG"  # contact info, codes, confirming, reservation, mailbox, deletion
    VELGE_SPRAAK = "VELGE_SPRAAK"  # the language of letters
    SETTE_SPRAAK = "SETTE_SPRAAK"  # a public body sets a language where the resident has none
    HENTE_ENDRINGER = "HENTE_ENDRINGER"  # the change feed (lookup scopes still decide fields)
    ENDRE_IDENTIFIKATOR = "ENDRE_IDENTIFIKATOR"  # the population register moves an entry
    OPPRETTE_TESTPERSONER = "OPPRETTE_TESTPERSONER"  # test environments: new test persons
    SOKE_PERSONER = "SOKE_PERSONER"  # test environments: search, CSV (lookup scopes decide fields)


HANDLING_SCOPES: dict[Handling, tuple[str, ...]] = {
    Handling.SLAA_OPP: (KONTAKTINFORMASJON_READ, DIGITALPOST_READ),
    Handling.DELEGERE: (DELEGERING_WRITE,),
    Handling.SE_BRUK: (DELEGERING_WRITE, BRUK_READ),
    Handling.SE_MEG: (KONTAKTINFORMASJON_USER_READ, KONTAKTINFORMASJON_USER_WRITE),
    Handling.SE_MIN_POSTKASSE: (DIGITALPOST_USER_READ,),
    Handling.ENDRE_MEG: (KONTAKTINFORMASJON_USER_WRITE,),
    Handling.VELGE_SPRAAK: (SPRAAK_USER_WRITE, KONTAKTINFORMASJON_USER_WRITE),
    Handling.SETTE_SPRAAK: (SPRAAK_WRITE,),
    Handling.HENTE_ENDRINGER: (HENTENDRING_READ,),
    Handling.ENDRE_IDENTIFIKATOR: (FOLKEREGISTER,),
    Handling.OPPRETTE_TESTPERSONER: (TESTPERSONER_WRITE,),
    Handling.SOKE_PERSONER: (SOK_READ,),
}


# A delegated scope name (Altinn delegation) and the scope it stands for.
DELEGERT_SOM: dict[str, str] = {
    adgang.delegert_scope: adgang.scope
    for adgang in KATEGORI_ADGANG.values()
    if adgang is not None and adgang.delegert_scope is not None
}


def godtatte_scopes(principal: Caller, handling: Handling) -> frozenset[str]:
    """The scope names that open `handling` for this token: its scopes, and in a token acting
    for someone (`supplier`) also their delegated names."""
    accepted = set(HANDLING_SCOPES[handling])
    if isinstance(principal, Principal) and principal.supplier is not None:
        accepted |= {navn for navn, scope in DELEGERT_SOM.items() if scope in accepted}
    return frozenset(accepted)


def manglende_scope_for_handling(principal: Caller, handling: Handling) -> str | None:
    """None when the token opens `handling`; else the scopes that would, for the error."""
    if godtatte_scopes(principal, handling) & principal.scopes:
        return None
    return " or ".join(HANDLING_SCOPES[handling])


def dekker(dekket: frozenset[str], scope: str) -> bool:
    """Whether delegations covering `dekket` include `scope` (under either of its names)."""
    return scope in dekket or DELEGERT_SOM.get(scope, scope) in dekket


def kategori_for_felt(felt: str) -> Kategori:
    """The category of a Person field. A field missing here is a bug, never a free pass."""
    return PERSON_FELT[felt]


