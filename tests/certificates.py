"""Certificates the tests hand the register: an operator's signing-key chain (a leaf issued by
a CA, as a real one is) and a print provider's certificate, made with `cryptography`."""

from __future__ import annotations

import datetime as dt
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2036, 1, 1, tzinfo=dt.UTC)


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(common_name: str, **more: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "NO")]
    if "orgnr" in more:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, more["orgnr"]))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def certificate(key: rsa.RSAPrivateKey, subject: x509.Name, *,
                issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None = None, ca: bool = False,
                valid_from: dt.datetime = FROM, valid_until: dt.datetime = UNTIL
                ) -> x509.Certificate:
    """`key`'s certificate, self-signed unless `issuer` (its name and key) is given."""
    issuer_name, signer = issuer or (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from).not_valid_after(valid_until)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


@functools.cache
def ca(number: int = 1) -> tuple[x509.Name, rsa.RSAPrivateKey, x509.Certificate]:
    """A test CA (its name, key and certificate), made once per run."""
    ca_key, ca_name = rsa_key(), name(f"Test CA {number} for krr")
    return ca_name, ca_key, certificate(ca_key, ca_name, ca=True)


def chain_for(key: rsa.RSAPrivateKey, ca_number: int = 1) -> list[x509.Certificate]:
    """`key`'s certificate issued by a test CA, then the CA's: leaf first."""
    ca_name, ca_key, ca_certificate = ca(ca_number)
    leaf = certificate(key, name("krr signing", orgnr="991825827"), issuer=(ca_name, ca_key))
    return [leaf, ca_certificate]


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
