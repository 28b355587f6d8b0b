"""eFormidling reads our signed answers as it reads the real register's.

eFormidling's service registry (felleslosninger/efm-service-registry, KontaktInfoClient) asks
for `Accept: application/jose` and hands the body to efm-common's
`no.difi.move.common.oauth.JWTDecoder.getPayload(String)` (felleslosninger/efm-common,
security/src/main/java/no/difi/move/common/oauth/JWTDecoder.java), which takes the key from the
JWS header's certificate chain, not from a JWKS:

    jwsObject = JWSObject.parse(serialized)
    decode = jwsObject.getHeader().getX509CertChain().get(0).decode()   // x5c[0], base64
    certificate = certificateFactory.generateCertificate(decode)         // X.509
    new RSASSAVerifier((RSAPublicKey) certificate.getPublicKey())        // RS256/384/512
    jwsObject.verify(verifier) or throw "Signature did not successfully verify"
    return jwsObject.getPayload().toString()

`getpayload` below is that method step for step (Nimbus JOSE's parse and RSASSAVerifier as
they behave for these calls), with Java's failures as exceptions of the same names. Without
`x5c` the header's chain is null and `.get(0)` throws a NullPointerException: what every
answer of ours did before the header carried it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey
from joserfc.jws import serialize_compact

from authz.tokens import TokenVerifier
from tests import certificates
from tests.test_feed import registrert
from tests.test_signed_answers import (
    BOTH,
    ENDRINGER,
    GRAPHQL,
    HENTENDRING,
    KONTAKT,
    LOOKUP,
    PERSONER,
    PIDS,
    ask,
    prod_settings,
    serving,
)


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


def _base64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _parse(serialized: str) -> tuple[dict[str, Any], str, str, str]:
    """JWSObject.parse: three base64url parts, a JSON object header with an `alg`."""
    parts = serialized.split(".")
    if len(parts) != 3:
        raise BadJWSException("Could not parse signed string")
    try:
        header = json.loads(_base64url(parts[0]))
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
        public_key.verify(_base64url(signature_part),
                          f"{header_part}.{payload_part}".encode("ascii"), pad, digest())
    except InvalidSignature as exc:
        raise BadJWSException("Signature did not successfully verify") from exc
    return _base64url(payload_part).decode("utf-8")  # Payload.toString(): UTF-8


# --- our answers, through HTTP ----------------------------------------------------------------


@pytest.fixture
async def registered(db) -> None:
    for pid in PIDS:
        await registrert(pid, epost=f"{pid}@example.no")


@pytest.fixture(params=["prod", "test"])
async def service(request, db, tmp_path, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    """Prod signing with the operator's key and chain (a leaf issued by a CA); test with the
    generated key and its self-signed certificate. The tests' dev issuer trusted in both."""
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)
    settings = (prod_settings(db, tmp_path, certificates.rsa_key()) if request.param == "prod"
                else dataclasses.replace(db, var_dir=tmp_path / "var"))
    async with serving(settings, verifier) as client:
        yield client


@pytest.mark.parametrize(("path", "scopes", "body"), [
    (PERSONER, BOTH, {"personidentifikatorer": PIDS}),
    (ENDRINGER, f"{HENTENDRING} {KONTAKT}", {"fraEndringsId": 0}),
    (GRAPHQL, BOTH, LOOKUP),
])
async def test_eformidlings_jwtdecoder_verifies_our_signed_answers(
    service, mint, registered, path, scopes, body
):
    token = mint(scopes)
    plain = await ask(service, path, body, token, accept="application/json")
    signed = await ask(service, path, body, token, accept="application/jose")
    assert signed.status_code == 200 and signed.headers["content-type"] == "application/jose"
    payload = json.loads(getpayload(signed.text))
    answer = plain.json()
    assert {member: payload[member] for member in answer} == answer  # the answer, verified


async def test_an_answer_changed_after_signing_is_refused_by_the_jwtdecoder(
    service, mint, registered
):
    signed = await ask(service, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH))
    header, payload, signature = signed.text.split(".")
    claims = json.loads(_base64url(payload))
    claims["personer"][0]["reservasjon"] = "JA"  # what a forger would make it say
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadJWSException, match="did not successfully verify"):
        getpayload(f"{header}.{forged}.{signature}")


async def test_an_answer_signed_with_a_key_its_x5c_does_not_hold_is_refused(
    service, mint, registered
):
    """The decoder trusts x5c[0]'s key only: a signature by any other key fails."""
    signed = await ask(service, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH))
    header = json.loads(_base64url(signed.text.split(".")[0]))
    payload = _base64url(signed.text.split(".")[1])
    other = serialize_compact(header, payload, RSAKey.import_key(certificates.rsa_key()))
    with pytest.raises(BadJWSException, match="did not successfully verify"):
        getpayload(other)


def test_the_port_fails_as_eformidling_did_on_a_header_without_x5c():
    """What eFormidling met before: a header with `kid` and `typ` only."""
    key = RSAKey.import_key(certificates.rsa_key())
    token = serialize_compact({"alg": "RS256", "kid": key.thumbprint(), "typ": "JWT"},
                              b'{"personer":[]}', key)
    with pytest.raises(NullPointerException):
        getpayload(token)
