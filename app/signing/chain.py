"""The signing key's certificate chain: what a signed answer carries in its header (`x5c`) and
its published key in the JWKS, so a verifier that takes the key from the certificate checks an
answer without fetching anything (eFormidling's JWTDecoder verifies with `x5c[0]`'s key).

In prod the chain is the operator's (`KRR_SIGNING_CERT`, checked in app.signing.keys): a PEM
file, the signing key's own certificate first, then each certificate that issued the one
before it. In dev and test a self-signed certificate is made with the key and kept beside it
under the var directory, made again whenever it no longer holds the key (after a rotation).

Each certificate is handed out as everywhere in the register: bare base64 of its DER encoding
(RFC 7515 4.1.6: x5c is base64, not base64url).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import pathlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from authz import keyfiles

CERT_FILE_NAME = "signing-cert.pem"
DEV_VALIDITY = dt.timedelta(days=10 * 365)  # a dev/test certificate outlives the key's use
DEV_NAME = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "krr (dev/test, self-signed)"),
    x509.NameAttribute(NameOID.COMMON_NAME, "krr signing key"),
])

Chain = tuple[str, ...]  # base64 DER, leaf first


class UnusableChain(ValueError):
    """The PEM is not a chain for the signing key; the message says why (never the key)."""


def base64_der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


def holds(certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> bool:
    """Whether the certificate is of the key (its public key is the key's)."""
    public = certificate.public_key()
    return (isinstance(public, rsa.RSAPublicKey)
            and public.public_numbers() == key.public_key().public_numbers())


def from_pem(data: bytes, key: rsa.RSAPrivateKey) -> Chain:
    """The chain in a PEM file's bytes for `key`, or UnusableChain saying what is wrong: no
    certificate, the key's certificate not first, a certificate not issued by the next."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UnusableChain(f"holds no readable PEM certificate ({exc})") from exc
    if not holds(certificates[0], key):
        where = next((n for n, c in enumerate(certificates, 1) if holds(c, key)), None)
        raise UnusableChain(
            "has a first certificate that is not of the signing key (its public key is "
            "another)" if where is None else
            f"has the signing key's certificate as number {where} of {len(certificates)}; "
            "put it first (leaf first, then each issuer)"
        )
    for n, (child, parent) in enumerate(itertools.pairwise(certificates), 1):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise UnusableChain(
                f"has certificate {n + 1} after certificate {n}, which it did not issue; give "
                "the chain leaf first, then each issuer"
            ) from exc
    return tuple(base64_der(c) for c in certificates)


def self_signed(key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.Certificate:
    """A dev/test certificate of `key`, signed with it."""
    return (
        x509.CertificateBuilder()
        .subject_name(DEV_NAME)
        .issuer_name(DEV_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + DEV_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def _read(path: pathlib.Path, key: rsa.RSAPrivateKey) -> Chain | None:
    try:
        return from_pem(path.read_bytes(), key)
    except (OSError, UnusableChain):
        return None


def renew(var_dir: pathlib.Path, key: rsa.RSAPrivateKey) -> Chain:
    """A new dev/test certificate of `key` in place of the one under `var_dir`."""
    certificate = self_signed(key, dt.datetime.now(dt.UTC))
    keyfiles.replace(var_dir / CERT_FILE_NAME, _pem(certificate))
    return (base64_der(certificate),)


def load_or_create(var_dir: pathlib.Path, key: rsa.RSAPrivateKey) -> Chain:
    """The dev/test certificate of `key` under `var_dir`, made when there is none (the first of
    several starting processes winning, as for the key) or when it is of another key."""
    path = var_dir / CERT_FILE_NAME
    if not path.exists():
        certificate = self_signed(key, dt.datetime.now(dt.UTC))
        if keyfiles.write_once(path, _pem(certificate)):
            return (base64_der(certificate),)
    return _read(path, key) or renew(var_dir, key)
