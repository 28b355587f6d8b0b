"""efm-common's JWTDecoder.getPayload, ported step for step (tests/test_efm_jwtdecoder.py says
what it is and how eFormidling calls it); shared by the tests of every answer eFormidling reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class BadJWSException(Exception):
    """com.nimbusds.jose.proc.BadJWSException, as getPayload throws it."""


class NullPointerException(Exception):
    """java.lang.NullPointerException: a header without x5c."""


class ClassCastException(Exception):
    """java.lang.ClassCastException: a certificate whose key is not RSA."""


# RSASSAVerifier's algorithms (RSASSAProvider.SUPPORTED_ALGORITHMS) and how each verifies.
_RSASSA = {
    "RS256": (padding.PKCS1v15, hashes.SHA256), "RS384": (padding.PKCS1v15, hashes.SHA384),
    "RS512": (padding.PKCS1v15, hashes.SHA512), "PS256": (padding.PSS, hashes.SHA256),
    "PS384": (padding.PSS, hashes.SHA384), "PS512": (padding.PSS, hashes.SHA512),
}


def base64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _parse(serialized: str) -> tuple[dict[str, Any], str, str, str]:
    """JWSObject.parse: three base64url parts, a JSON object header with an `alg`."""
    parts = serialized.split(".")
    if len(parts) != 3:
        raise BadJWSException("Could not parse signed string")
    try:
        header = json.loads(base64url(parts[0]))
    except (ValueError, binascii.Error) as exc:
        raise BadJWSException("Could not parse signed string") from exc
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise BadJWSException("Could not parse signed string")
    return header, parts[0], parts[1], parts[2]


def getpayload(serialized: str) -> str:
    """efm-common's JWTDecoder.getPayload(String serialized)."""
    header, header_part, payload_part, signature_part = _parse(serialized)
    chain = header.get("x5c")  # getX509CertChain(): null when the header has none
    if chain is None:
        raise NullPointerException("getX509CertChain() is null")
    decode = base64.b64decode(chain[0])  # Base64.decode(): x5c is base64, not base64url
    try:
        certificate = x509.load_der_x509_certificate(decode)
    except ValueError as exc:
        raise BadJWSException("Could not generate certificate object from JWS") from exc
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ClassCastException(f"{type(public_key).__name__} is not an RSAPublicKey")
    if header["alg"] not in _RSASSA:
        raise BadJWSException("Could not verify JWS")  # JOSEException: unsupported algorithm
    if header.get("crit"):  # RSASSAVerifier defers no critical header parameter
        raise BadJWSException("Signature did not successfully verify")
    scheme, digest = _RSASSA[header["alg"]]
    pad = (padding.PSS(padding.MGF1(digest()), digest.digest_size) if scheme is padding.PSS
           else padding.PKCS1v15())
    try:
        public_key.verify(base64url(signature_part),
                          f"{header_part}.{payload_part}".encode("ascii"), pad, digest())
    except InvalidSignature as exc:
        raise BadJWSException("Signature did not successfully verify") from exc
    return base64url(payload_part).decode("utf-8")  # Payload.toString(): UTF-8
