"""The lookup: validate the ids, fetch the batch, and decide per person what is disclosed.

GraphQL (and any other transport) hands in the ids, the caller and the Person fields it selected;
the scope table (authz) says which categories the caller may see, § 32 (app.paragraf32) says
whether the person can be notified and which channels are fresh.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app import observability
from app.delegering import store as delegations_store
from app.personer import register
from app.personer.models import Registerstatus
from app.personer.paragraf32 import Kanal, Varslingsstatus, vurder
from app.personer.register import PersonRecord
from app.revisjon import store as audit_store
from app.revisjon.store import kategorier_til_bits
from authz import identifikatorer as identifiers
from authz.delegation import kontroller_paa_vegne_av
from authz.principal import Principal
from authz.scopes import (
    PERSON_FELT,
    Kategori,
    aapnende_scopes,
    kategori_for_felt,
    manglende_scope,
)

MAX_IDS = 1000
VARSLINGSSTATUS_FELT = "varslingsstatus"


class Status(StrEnum):
    AKTIV = "AKTIV"
    SLETTET = "SLETTET"
    IKKE_REGISTRERT = "IKKE_REGISTRERT"


class JaNei(StrEnum):
    JA = "JA"
    NEI = "NEI"

    @classmethod
    def of(cls, value: bool) -> JaNei:
        return _JA_NEI[bool(value)]


_JA_NEI = {True: JaNei.JA, False: JaNei.NEI}  # a lookup: cheaper per person than a call


class UgyldigInput(ValueError):
    """The request itself is wrong; nothing is looked up."""

    def __init__(self, message: str, ugyldige: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.ugyldige = list(ugyldige)


@dataclass(frozen=True, slots=True)
class Avslag:
    """A selected field the caller may not see, the scope that would open it, and whether the
    token lacks that scope or (acting for someone) the delegation does not cover it."""

    felt: str
    scope: str
    ikke_delegert: bool = False


@dataclass(frozen=True, slots=True)
class Foresporsel:
    """Who asks, under which request id, at which moment (the § 32 clock)."""

    principal: Principal
    request_id: str
    now: dt.datetime


class Revisjonsfeil(RuntimeError):
    """The audit record could not be written, so nothing may be disclosed."""


@dataclass(slots=True)
class Kontaktinformasjon:
    epostadresse: str | None = None
    epostadresse_oppdatert: dt.datetime | None = None
    epostadresse_sist_verifisert: dt.datetime | None = None
    epostadresse_sist_validert: dt.datetime | None = None
    epostadresse_duplisert: JaNei | None = None
    mobiltelefonnummer: str | None = None
    mobiltelefonnummer_oppdatert: dt.datetime | None = None
    mobiltelefonnummer_sist_verifisert: dt.datetime | None = None
    mobiltelefonnummer_sist_validert: dt.datetime | None = None
    mobiltelefonnummer_duplisert: JaNei | None = None


@dataclass(slots=True)
class DigitalPost:
    postkasseadresse: str
    postkasseleverandoeradresse: str


@dataclass(slots=True)
class PersonSvar:
    """What one person's entry discloses to this caller; None where withheld or absent."""

    personidentifikator: str
    status: Status
    reservasjon: JaNei | None = None
    reservasjonstidspunkt: dt.datetime | None = None
    reservasjon_oppdatert: dt.datetime | None = None
    varslingsstatus: Varslingsstatus | None = None
    kontaktinformasjon: Kontaktinformasjon | None = None
    digital_post: DigitalPost | None = None
    sertifikat: str | None = None
    spraak: str | None = None
    spraak_oppdatert: dt.datetime | None = None


@dataclass(slots=True)
class Oppslagsresultat:
    personer: list[PersonSvar]
    avslag: list[Avslag] = field(default_factory=list)


def valider_ids(ids: Sequence[str]) -> list[str]:
    """Distinct ids in the order asked; every offending id is named in one error."""
    if not ids:
        raise UgyldigInput("personidentifikatorer must hold at least one id")
    distinct = list(dict.fromkeys(ids))
    if len(distinct) > MAX_IDS:
        raise UgyldigInput(
            f"personidentifikatorer holds {len(distinct)} distinct ids; at most {MAX_IDS} "
            "are allowed in one request"
        )
    problems = [(i, p) for i in distinct if (p := identifiers.problem(i)) is not None]
    if problems:
        detail = "; ".join(f"{i!r} {p}" for i, p in problems)
        raise UgyldigInput(
            f"Invalid personidentifikator ({len(problems)}): {detail}",
            [i for i, _ in problems],
        )
    return distinct


def avslag_for(
    principal: Principal, felter: Iterable[str], dekket: frozenset[str] | None = None
) -> list[Avslag]:
    """One refusal per selected field the scope table does not open for this caller."""
    refusals = []
    for felt in felter:
        kategori = kategori_for_felt(felt)
        scope = manglende_scope(principal, kategori, dekket)
        if scope is not None:
            refusals.append(Avslag(felt, scope, bool(aapnende_scopes(principal, kategori))))
    return refusals


def utlever(
    personidentifikator: str,
    record: PersonRecord | None,
    *,
    kategorier: frozenset[Kategori],
    filtrer_paa_varsling: bool,
    now: dt.datetime,
) -> PersonSvar:
    """Disclose one person: the categories allowed, § 32-filtered when varslingsstatus is asked."""
    se_kontakt = Kategori.KONTAKTINFORMASJON in kategorier
    se_post = Kategori.DIGITAL_POST in kategorier
    if record is None:
        return PersonSvar(
            personidentifikator,
            Status.IKKE_REGISTRERT,
            varslingsstatus=Varslingsstatus.KAN_IKKE_VARSLES if se_kontakt else None,
        )
    if record.status is not Registerstatus.AKTIV:
        return PersonSvar(
            personidentifikator,
            Status.SLETTET,
            reservasjon=JaNei.of(record.reservasjon),
            varslingsstatus=Varslingsstatus.KAN_IKKE_VARSLES if se_kontakt else None,
        )

    epost = Kanal(record.epostadresse, record.epostadresse_oppdatert,
                  record.epostadresse_sist_verifisert)
    mobil = Kanal(record.mobiltelefonnummer, record.mobiltelefonnummer_oppdatert,
                  record.mobiltelefonnummer_sist_verifisert)
    vurdering = vurder(aktiv=True, reservert=record.reservasjon, epost=epost, mobil=mobil, now=now)
    kan_varsles = vurdering.varslingsstatus is Varslingsstatus.KAN_VARSLES
    # Without varslingsstatus asked, everything is handed out whatever its age (service messages).
    utlever_noe = kan_varsles or not filtrer_paa_varsling
    vis_epost = not filtrer_paa_varsling or vurdering.epost_fersk
    vis_mobil = not filtrer_paa_varsling or vurdering.mobil_fersk

    svar = PersonSvar(
        personidentifikator,
        Status.AKTIV,
        reservasjon=JaNei.of(record.reservasjon),
        reservasjonstidspunkt=record.reservasjonstidspunkt if record.reservasjon else None,
        reservasjon_oppdatert=record.reservasjon_oppdatert,
    )
    if se_kontakt:
        svar.varslingsstatus = vurdering.varslingsstatus
        svar.spraak = record.spraak
        svar.spraak_oppdatert = record.spraak_oppdatert
        if utlever_noe:
            svar.kontaktinformasjon = _kontaktinformasjon(record, vis_epost, vis_mobil)
    if se_post and utlever_noe:
        if record.postkasseadresse and record.postkasseleverandoeradresse:
            svar.digital_post = DigitalPost(
                record.postkasseadresse, record.postkasseleverandoeradresse
            )
            svar.sertifikat = record.sertifikat
    return svar


def _kontaktinformasjon(
    record: PersonRecord, vis_epost: bool, vis_mobil: bool
) -> Kontaktinformasjon:
    epost = (
        (record.epostadresse, record.epostadresse_oppdatert, record.epostadresse_sist_verifisert,
         record.epostadresse_sist_validert, _JA_NEI[record.epostadresse_duplisert])
        if vis_epost and record.epostadresse else _INGEN_KANAL
    )
    mobil = (
        (record.mobiltelefonnummer, record.mobiltelefonnummer_oppdatert,
         record.mobiltelefonnummer_sist_verifisert, record.mobiltelefonnummer_sist_validert,
         _JA_NEI[record.mobiltelefonnummer_duplisert])
        if vis_mobil and record.mobiltelefonnummer else _INGEN_KANAL
    )
    return Kontaktinformasjon(*epost, *mobil)


_INGEN_KANAL = (None,) * 5  # a channel withheld or absent: its five fields


_ATTRIBUTT = {felt: re.sub(r"(?<!^)(?=[A-Z])", "_", felt).lower() for felt in PERSON_FELT}


def kategoribits(felter: Iterable[str]) -> Callable[[PersonSvar], int]:
    """The categories an answer actually disclosed through the fields the query selected (the
    caller may see), as the audit log's bits: the field list is worked out once per batch and
    the returned function applied per person."""
    grunndata = kategorier_til_bits([Kategori.GRUNNDATA])
    sjekk = [
        (_ATTRIBUTT[felt], kategorier_til_bits([PERSON_FELT[felt]]))
        for felt in felter if PERSON_FELT[felt] is not Kategori.GRUNNDATA
    ]

    def bits(svar: PersonSvar) -> int:
        gitt = grunndata
        for attributt, bit in sjekk:
            if getattr(svar, attributt) is not None:
                gitt |= bit
        return gitt

    return bits


async def slaa_opp(
    ids: Sequence[str], felter: frozenset[str], foresporsel: Foresporsel
) -> Oppslagsresultat:
    """Look up a batch and record it: delegation check (for a vendor), one SQL round trip for
    the persons, one § 32 decision per person, one refusal per field, one audit record.

    Raises UgyldigInput, authz.delegation's refusal when a vendor has no active delegation, and
    Revisjonsfeil when the audit record cannot be written (then nothing is disclosed).
    """
    distinct = valider_ids(ids)
    tilgang = await vurder_tilgang(foresporsel.principal, felter)
    kategorier = tilgang.kategorier
    records = await register.hent_personer(distinct)
    filtrer = VARSLINGSSTATUS_FELT in felter
    personer = [
        utlever(i, records.get(i), kategorier=kategorier, filtrer_paa_varsling=filtrer,
                now=foresporsel.now)
        for i in distinct
    ]
    await revider(foresporsel, kategorier, filtrer, personer, tilgang.synlige)
    return Oppslagsresultat(personer, tilgang.avslag)


@dataclass(frozen=True, slots=True)
class Tilgang:
    """What the caller may see of the selected fields: shared by every way of disclosing
    persons (lookup, change feed), so the scope table decides them all alike."""

    avslag: list[Avslag]
    synlige: list[str]
    kategorier: frozenset[Kategori]


async def vurder_tilgang(principal: Principal, felter: Iterable[str]) -> Tilgang:
    """Delegation check (for a vendor) and one refusal per field the caller may not see.

    Raises authz.delegation's refusal when a vendor has no active delegation.
    """
    dekket: frozenset[str] | None = None
    if principal.supplier is not None:
        dekket = await delegations_store.aktive_scopes(principal.consumer, principal.supplier)
        kontroller_paa_vegne_av(principal, dekket)
    felter = list(felter)
    avslag = avslag_for(principal, felter, dekket)
    refused = {a.felt for a in avslag}
    synlige = [f for f in felter if f not in refused]
    kategorier = frozenset(kategori_for_felt(f) for f in synlige) | {Kategori.GRUNNDATA}
    return Tilgang(avslag, synlige, kategorier)


async def revider(
    foresporsel: Foresporsel,
    kategorier: frozenset[Kategori],
    varslingsstatus: bool,
    personer: list[PersonSvar],
    synlige: list[str],
) -> None:
    """Record what `personer` disclosed to the caller; Revisjonsfeil when it cannot be written
    (then nothing may be disclosed)."""
    principal = foresporsel.principal
    scopes = frozenset().union(*(aapnende_scopes(principal, k) for k in kategorier))
    bits = kategoribits(synlige)
    try:
        await audit_store.skriv_oppslag(
            tidspunkt=foresporsel.now,
            request_id=foresporsel.request_id,
            principal=principal,
            scopes=scopes,
            varslingsstatus=varslingsstatus,
            personer=[(p.personidentifikator, bits(p)) for p in personer],
        )
    except Exception as exc:
        raise Revisjonsfeil(
            "The lookup could not be recorded in the audit log, so nothing was disclosed"
        ) from exc
    observability.persons_disclosed(len(personer))  # recorded, so now disclosed
