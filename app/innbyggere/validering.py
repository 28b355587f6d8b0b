"""What a resident may write into their entry, checked before anything is stored.

E-mail policy (email-validator, no DNS look-up: a typo in the domain is caught by the one-time
code, not here): international domain names are accepted and stored in their Unicode form with
the domain lower-cased (kari@XN--5CA.no and kari@Å.no are both stored as kari@å.no, so
duplicates compare); the local part (before the @) must be ASCII, because many of the mail
systems public bodies send from cannot deliver to a non-ASCII mailbox name (SMTPUTF8). Quoted
local parts and IP-address domains are refused.

Mobile policy (phonenumbers): a valid number of a mobile type, +47 assumed when there is no
country code, stored as E.164 (+4791234567).
"""

from __future__ import annotations

import re
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.errors import BadInput
from app.personer.felt import SPRAAK, Kanal

EPOST_MAKS = 254  # the column, and RFC 5321's limit on a path
_MOBILTYPER = frozenset({
    phonenumbers.PhoneNumberType.MOBILE,
    # Where the numbering plan cannot tell (e.g. +1), the number may well be a mobile.
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
})
_KODE = re.compile(r"[0-9]{6}")


class UgyldigEndring(BadInput):
    """The resident asked for something the register cannot store; nothing was changed."""


class Leverandoer(StrEnum):
    """The digital mailbox providers a resident can choose."""

    DIGIPOST = "DIGIPOST"
    EBOKS = "EBOKS"

    @property
    def orgnr(self) -> str:
        return _ORGNR[self]

    @property
    def visningsnavn(self) -> str:
        return {"DIGIPOST": "Digipost", "EBOKS": "e-Boks"}[self.value]

    def postkasseadresse(self, personidentifikator: str) -> str:
        """The mailbox address; deterministic, as the provider would hand it back."""
        return f"{personidentifikator}#{self.value.lower()}"


_ORGNR = {Leverandoer.DIGIPOST: "984661185", Leverandoer.EBOKS: "922020175"}


def epostadresse(raw: str) -> str:
    """The address as stored (see the module's policy), or UgyldigEndring saying what is wrong."""
    adresse = raw.strip()
    if not adresse:
        raise UgyldigEndring("epostadresse is empty")
    lokal, at, _ = adresse.rpartition("@")
    if at and not lokal.isascii():
        tegn = ", ".join(repr(c) for c in dict.fromkeys(c for c in lokal if not c.isascii()))
        raise UgyldigEndring(
            f"The e-mail address {adresse!r} is refused: its local part {lokal!r} (before the @) "
            f"contains non-ASCII characters ({tegn}). Only the domain may hold international "
            "characters (like kari@å.no); the part before the @ must be plain ASCII."
        )
    try:
        resultat = validate_email(
            adresse, check_deliverability=False, allow_smtputf8=False,
            allow_quoted_local=False, allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise UgyldigEndring(f"The e-mail address {adresse!r} is not valid: {exc}") from exc
    normalisert = resultat.normalized
    if len(normalisert) > EPOST_MAKS or len(resultat.ascii_email or "") > EPOST_MAKS:
        raise UgyldigEndring(f"The e-mail address is longer than {EPOST_MAKS} characters")
    return normalisert


def mobiltelefonnummer(raw: str) -> str:
    """The number as E.164, or UgyldigEndring saying what is wrong."""
    nummer = raw.strip()
    if not nummer:
        raise UgyldigEndring("mobiltelefonnummer is empty")
    try:
        tolket = phonenumbers.parse(nummer, "NO")
    except phonenumbers.NumberParseException as exc:
        raise UgyldigEndring(f"{nummer!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(tolket):
        raise UgyldigEndring(
            f"{nummer!r} is not a valid phone number (without a country code it is read as "
            "Norwegian, +47)"
        )
    if phonenumbers.number_type(tolket) not in _MOBILTYPER:
        raise UgyldigEndring(
            f"{nummer!r} is not a mobile number; codes and reminders are sent by SMS"
        )
    return phonenumbers.format_number(tolket, phonenumbers.PhoneNumberFormat.E164)


def spraak(raw: str) -> str:
    """One of nb, nn, en, se (ISO 639-1; se is Northern Sami)."""
    valgt = raw.strip().lower()
    if valgt not in SPRAAK:
        raise UgyldigEndring(f"spraak must be one of {', '.join(SPRAAK)}; got {raw!r}")
    return valgt


def kode(raw: str) -> str:
    """A one-time code is six digits; anything else is refused without using up a try."""
    verdi = raw.strip()
    if not _KODE.fullmatch(verdi):
        raise UgyldigEndring("kode must be the six digits that were sent")
    return verdi


def kontaktinformasjon(epost: str | None, mobil: str | None) -> dict[Kanal, str]:
    """The channels to set, validated; at least one must be given."""
    if epost is None and mobil is None:
        raise UgyldigEndring("Give epostadresse, mobiltelefonnummer or both")
    nye: dict[Kanal, str] = {}
    feil: list[str] = []
    for kanal, verdi, sjekk in (
        (Kanal.EPOST, epost, epostadresse), (Kanal.MOBIL, mobil, mobiltelefonnummer)
    ):
        if verdi is None:
            continue
        try:
            nye[kanal] = sjekk(verdi)
        except UgyldigEndring as exc:
            feil.append(str(exc))
    if feil:  # both wrong: say both at once
        raise UgyldigEndring("; ".join(feil))
    return nye
