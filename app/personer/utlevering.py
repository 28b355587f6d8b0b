"""What a caller is given of a person: the answer's shape and the decision, with no I/O.

The scope table (authz.scopes) says which categories of a person the caller may see, § 32
(app.personer.paragraf32) whether the person can be notified and which channels are fresh.
Every way of disclosing persons (lookup, change feed, search, export, a resident's own entry)
builds its answer here, so they cannot differ. The answer's field names are the stored fields'
names (app.personer.felt) and the real register's, in snake_case; GraphQL, REST and CSV derive
theirs from them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.personer.felt import PersonRecord, Registerstatus
from app.personer.paragraf32 import Varslingsstatus, Vurderer
from app.revisjon.kategorier import kategorier_til_bits
from authz.principal import Principal
from authz.scopes import PERSON_FELT, Kategori, aapnende_scopes, kategori_for_felt, manglende_scope

VARSLINGSSTATUS_FELT = "varslingsstatus"


class Status(StrEnum):
    """The entry's state as answered: stored, or IKKE_REGISTRERT for no entry."""

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


def attributt(felt: str) -> str:
    """The answer's attribute of a Person field (GraphQL's camelCase name)."""
    return _ATTRIBUTT[felt]


def person_felt(attributt_: str) -> str:
    """The Person field (GraphQL's name) of an answer's attribute."""
    return _PERSON_FELT[attributt_]


_ATTRIBUTT = {felt: re.sub(r"(?<!^)(?=[A-Z])", "_", felt).lower() for felt in PERSON_FELT}
_PERSON_FELT = {attributt_: felt for felt, attributt_ in _ATTRIBUTT.items()}


@dataclass(frozen=True, slots=True)
class Feltavslag:
    """A selected field the caller may not see, the scope that would open it, and whether the
    token lacks that scope or (acting for someone) the delegation does not cover it."""

    felt: str
    scope: str
    ikke_delegert: bool = False


@dataclass(frozen=True, slots=True)
class Tilgang:
    """What the caller may see of the selected fields: shared by every way of disclosing
    persons, so the scope table decides them all alike."""

    avslag: list[Feltavslag]
    synlige: list[str]
    kategorier: frozenset[Kategori]


def tilgang_for(
    principal: Principal, felter: Iterable[str], dekket: frozenset[str] | None = None
) -> Tilgang:
    """One refusal per selected field the scope table does not open for this caller. `dekket`
    is, for a vendor's token, what the consumer's active delegations cover."""
    avslag = []
    synlige = []
    for felt in felter:
        kategori = kategori_for_felt(felt)
        scope = manglende_scope(principal, kategori, dekket)
        if scope is None:
            synlige.append(felt)
        else:
            avslag.append(Feltavslag(felt, scope, bool(aapnende_scopes(principal, kategori))))
    kategorier = frozenset(kategori_for_felt(f) for f in synlige) | {Kategori.GRUNNDATA}
    return Tilgang(avslag, synlige, kategorier)


def utlever(
    personidentifikator: str,
    record: PersonRecord | None,
    *,
    kategorier: frozenset[Kategori],
    filtrer_paa_varsling: bool,
    now: dt.datetime,
    egen_oppfoering: bool = False,
) -> PersonSvar:
    """Disclose one person (`Utlevering` has the rules; a batch makes one and calls it)."""
    return Utlevering(kategorier=kategorier, filtrer_paa_varsling=filtrer_paa_varsling,
                      now=now, egen_oppfoering=egen_oppfoering)(personidentifikator, record)


class Utlevering:
    """Disclose persons to one caller at one moment: the categories allowed, § 32-filtered
    when varslingsstatus is asked. What is the same for every person of a batch (the
    categories, § 32's cutoff) is worked out once, here.

    The real register's rules, in one place:
    - SLETTET and IKKE_REGISTRERT: id, status and varslingsstatus only (no reservation); the
      resident's own SLETTET entry shows what it still holds (reservation, language);
    - reserved (AKTIV): KAN_IKKE_VARSLES, but the contact information is handed out as anyone's
      (a reservation is against digital post, not against being notified: service messages
      still go out, seed 000); the mailbox and its certificate never are (letters come on
      paper), except to the resident in their own entry (`egen_oppfoering`);
    - varslingsstatus asked: § 32 withholds what is expired (seed 003), each channel alone,
      and when both channels are expired, also the mailbox and the certificate. Without it,
      everything is handed out whatever its age (service messages such as boil-water notices).
    """

    __slots__ = ("egen_oppfoering", "filtrer", "se_kontakt", "se_post", "uten_oppfoering",
                 "vurder")

    def __init__(
        self, *, kategorier: frozenset[Kategori], filtrer_paa_varsling: bool, now: dt.datetime,
        egen_oppfoering: bool = False,
    ) -> None:
        self.se_kontakt = Kategori.KONTAKTINFORMASJON in kategorier
        self.se_post = Kategori.DIGITAL_POST in kategorier
        self.filtrer = filtrer_paa_varsling
        self.egen_oppfoering = egen_oppfoering
        self.vurder = Vurderer(now)
        # The varslingsstatus of an entry that holds nothing to notify (SLETTET, none).
        self.uten_oppfoering = Varslingsstatus.KAN_IKKE_VARSLES if self.se_kontakt else None

    def __call__(self, personidentifikator: str, record: PersonRecord | None) -> PersonSvar:
        if record is None:
            return PersonSvar(personidentifikator, Status.IKKE_REGISTRERT, None, None, None,
                              self.uten_oppfoering)
        aktiv = record.status is Registerstatus.AKTIV
        if not (aktiv or self.egen_oppfoering):
            return PersonSvar(personidentifikator, Status.SLETTET, None, None, None,
                              self.uten_oppfoering)

        vurdering = self.vurder(record, aktiv)
        if self.filtrer:
            _, vis_epost, vis_mobil = vurdering
        else:  # a SLETTET entry (the resident's own) holds no channels or mailbox to show
            vis_epost = vis_mobil = aktiv
        reservert = record.reservasjon
        varslingsstatus = kontaktinformasjon = spraak = spraak_oppdatert = None
        if self.se_kontakt:
            varslingsstatus = vurdering.varslingsstatus
            spraak, spraak_oppdatert = record.spraak, record.spraak_oppdatert
            if vis_epost or vis_mobil:
                kontaktinformasjon = _kontaktinformasjon(record, vis_epost, vis_mobil)
        digital_post = sertifikat = None
        if (self.se_post and (not reservert or self.egen_oppfoering) and (vis_epost or vis_mobil)
                and record.postkasseadresse and record.postkasseleverandoeradresse):
            digital_post = DigitalPost(record.postkasseadresse, record.postkasseleverandoeradresse)
            sertifikat = record.sertifikat
        return PersonSvar(
            personidentifikator,
            Status.AKTIV if aktiv else Status.SLETTET,
            _JA_NEI[bool(reservert)],
            record.reservasjonstidspunkt if reservert else None,
            record.reservasjon_oppdatert,
            varslingsstatus,
            kontaktinformasjon,
            digital_post,
            sertifikat,
            spraak,
            spraak_oppdatert,
        )


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
        for attributt_, bit in sjekk:
            if getattr(svar, attributt_) is not None:
                gitt |= bit
        return gitt

    return bits
