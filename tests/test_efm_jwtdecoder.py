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
import dataclasses
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import RSAKey
from joserfc.jws import serialize_compact

from authz.tokens import TokenVerifier
from tests import certificates
from tests.efm_jwtdecoder import (
    BadJWSException,
    NullPointerException,
    base64url,
    getpayload,
)
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
    claims = json.loads(base64url(payload))
    claims["personer"][0]["reservasjon"] = "JA"  # what a forger would make it say
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadJWSException, match="did not successfully verify"):
        getpayload(f"{header}.{forged}.{signature}")


async def test_an_answer_signed_with_a_key_its_x5c_does_not_hold_is_refused(
    service, mint, registered
):
    """The decoder trusts x5c[0]'s key only: a signature by any other key fails."""
    signed = await ask(service, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH))
    header = json.loads(base64url(signed.text.split(".")[0]))
    payload = base64url(signed.text.split(".")[1])
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
