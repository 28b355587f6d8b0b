"""What the register accepts as the print provider: a valid organisation number and one X.509
certificate that is valid now, kept as everywhere in the register as bare base64 of its DER
encoding (app.personer.sertifikat), which is how eFormidling reads `x509Sertifikat` (it wraps
it in PEM armour itself, and the real register's SOAP answer was base64 DER too)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509

from app.errors import BadInput, NotFound
from app.personer.sertifikat import fra_fil
from authz.avslag import UGYLDIG_ORGNR
from authz.identifikatorer import is_valid_orgno

UGYLDIG_PRINTSERTIFIKAT = "UGYLDIG_PRINTSERTIFIKAT"  # not a certificate, or not valid now
KOMMANDO = "krr print-sertifikat sett ORGNR FILE"


class UgyldigPrintsertifikat(BadInput):
    """The organisation number or the certificate cannot be the print provider's; nothing was
    changed."""


class IngenPrintsertifikat(NotFound):
    """The operator has not set the print provider yet."""

    def __init__(self) -> None:
        super().__init__(f"The register has no print certificate yet; the operator sets it with "
                         f"`{KOMMANDO}`")


@dataclass(frozen=True, slots=True)
class Printsertifikat:
    """The print provider and its certificate, with what the operator is shown of it."""

    postkasseleverandoer_adresse: str  # the print provider's organisation number
    x509_sertifikat: str  # bare base64 of DER
    emne: str  # the certificate's subject (RFC 4514)
    gyldig_fra: dt.datetime
    gyldig_til: dt.datetime
    sha256: str  # the certificate's fingerprint (of its DER), hex

    @classmethod
    def av(cls, orgnr: str, base64_der: str) -> Printsertifikat:
        """The stored pair with the certificate's particulars."""
        der = base64.b64decode(base64_der)
        sertifikat = x509.load_der_x509_certificate(der)
        return cls(orgnr, base64_der, sertifikat.subject.rfc4514_string(),
                   sertifikat.not_valid_before_utc, sertifikat.not_valid_after_utc,
                   hashlib.sha256(der).hexdigest())


def valider(orgnr: str, fil: bytes, naa: dt.datetime) -> Printsertifikat:
    """`orgnr` and the certificate in a file's bytes (PEM, base64 of DER, or DER) as the print
    provider, or UgyldigPrintsertifikat saying what is wrong: an invalid organisation number,
    anything but one certificate, a certificate expired or not yet valid at `naa`."""
    if not is_valid_orgno(orgnr):
        raise UgyldigPrintsertifikat(
            f"orgnr {orgnr[:20]!r} is not a valid organisation number (9 digits, mod-11 check "
            "digit)", reason=UGYLDIG_ORGNR)
    try:
        utskrift = Printsertifikat.av(orgnr, fra_fil(fil))
    except BadInput as exc:
        raise UgyldigPrintsertifikat(exc.message, reason=UGYLDIG_PRINTSERTIFIKAT) from exc
    if utskrift.gyldig_til <= naa:
        raise UgyldigPrintsertifikat(
            f"the certificate expired {utskrift.gyldig_til:%Y-%m-%d %H:%M} UTC; senders could "
            "not encrypt letters to the print provider with it", reason=UGYLDIG_PRINTSERTIFIKAT)
    if utskrift.gyldig_fra > naa:
        raise UgyldigPrintsertifikat(
            f"the certificate is valid only from {utskrift.gyldig_fra:%Y-%m-%d %H:%M} UTC; set "
            "it then", reason=UGYLDIG_PRINTSERTIFIKAT)
    return utskrift
