"""A mailbox provider's encryption certificate in the one form the register stores and hands out.

The real register answers `sertifikat` as bare base64 of the certificate's DER encoding (XSD
`xs:base64Binary`): no PEM armour, no line breaks. Clients decode it with a plain base64
decoder, which throws on `-----BEGIN`. So it is converted once, on the way in, and every way of
disclosing a person (GraphQL, REST, the change feed, the CSV export) hands out the stored value
as it is, with no conversion per request.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.errors import BadInput

PEM_START = "-----BEGIN"
_PEM_ETIKETT = re.compile(r"-----BEGIN ([^-]*)-----")


class UgyldigSertifikat(BadInput):
    """What was handed in is not one X.509 certificate; the message says what it is instead."""


def som_base64_der(tekst: str) -> str:
    """The certificate in `tekst` (PEM, or base64 of DER, line breaks allowed) as bare base64 of
    its DER encoding, parsed with `cryptography.x509` to prove it is a certificate.

    Raises UgyldigSertifikat naming what was wrong (empty, not ASCII, not base64, not a
    certificate, more than one certificate).
    """
    tekst = tekst.strip()
    if not tekst:
        raise UgyldigSertifikat("sertifikat is empty; expected an X.509 certificate")
    if not tekst.isascii():
        raise UgyldigSertifikat(
            "sertifikat holds characters outside ASCII; expected PEM or base64 of DER"
        )
    der = _pem(tekst) if PEM_START in tekst else _base64(tekst)
    try:
        sertifikat = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise UgyldigSertifikat(
            f"sertifikat is base64, but its {len(der)} bytes are not a DER X.509 certificate "
            f"({exc})"
        ) from exc
    return base64.b64encode(sertifikat.public_bytes(Encoding.DER)).decode("ascii")


def fra_fil(innhold: bytes) -> str:
    """A certificate file's bytes, PEM, base64 of DER or DER itself (as `openssl x509 -outform
    DER` writes it), as bare base64 of its DER encoding, with som_base64_der's checks."""
    try:
        tekst = innhold.decode("ascii")
    except UnicodeDecodeError:  # binary: DER (a SEQUENCE of more than 127 bytes: 0x30 0x82)
        tekst = base64.b64encode(innhold).decode("ascii")
    return som_base64_der(tekst)


def _pem(tekst: str) -> bytes:
    etikett = _PEM_ETIKETT.search(tekst)
    if etikett is not None and etikett[1] != "CERTIFICATE":
        raise UgyldigSertifikat(f"sertifikat is PEM of a {etikett[1]}, not of a CERTIFICATE")
    try:
        sertifikater = x509.load_pem_x509_certificates(tekst.encode("ascii"))
    except ValueError as exc:
        raise UgyldigSertifikat(
            f"sertifikat is PEM, but holds no readable X.509 certificate ({exc})"
        ) from exc
    if len(sertifikater) != 1:
        raise UgyldigSertifikat(
            f"sertifikat is PEM with {len(sertifikater)} certificates; give the encryption "
            "certificate alone"
        )
    return sertifikater[0].public_bytes(Encoding.DER)


def _base64(tekst: str) -> bytes:
    try:
        return base64.b64decode("".join(tekst.split()), validate=True)
    except binascii.Error as exc:
        raise UgyldigSertifikat(
            f"sertifikat is neither PEM nor base64 of DER ({exc})"
        ) from exc
