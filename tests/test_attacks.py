"""Token attacks over HTTP against the whole app: each is a 401 with no data, and a flood of
unknown `kid`s fetches the issuer's JWKS a bounded number of times. tests/test_tokens.py checks
the same cases on the verifier alone; this proves the app wires it in front of every route."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.edge.app import create_app
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW
from tests.test_tokens import (
    ISSUER,
    JWKS_URL,
    NOW,
    FakeClock,
    b64,
    b64json,
    claims,
    jwks_of,
    make_token,
    org,
)

KEY = RSAKey.generate_key(2048, parameters={"kid": "mp-attack-1", "use": "sig"})
QUERY = {"query": '{ personer(personidentifikatorer: ["17912099997"]) { status } }'}
REST_BODY = {"personidentifikatorer": ["17912099997"]}


def _unsigned(alg: str) -> str:
    return f"{b64json({'alg': alg, 'typ': 'JWT', 'kid': KEY.kid})}.{b64json(claims())}."


def _hs256_with_public_key() -> str:
    public_pem = KEY.as_pem(private=False)
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY.kid})}.{b64json(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _tampered() -> str:
    header, _, signature = make_token(KEY).split(".")
    return f"{header}.{b64json(claims(scope='krr:admin/folkeregister'))}.{signature}"


ATTACKS = {
    "alg-none": _unsigned("none"),
    "alg-None": _unsigned("None"),
    "hs256-public-key": _hs256_with_public_key(),
    "expired": make_token(KEY, iat=int(NOW) - 600, exp=int(NOW) - 300),
    "not-yet-valid": make_token(KEY, nbf=int(NOW) + 600),
    "issued-in-future": make_token(KEY, iat=int(NOW) + 600, exp=int(NOW) + 900),
    "wrong-issuer": make_token(KEY, iss="https://evil.example/"),
    "tampered-payload": _tampered(),
    "consumer-bad-checksum": make_token(KEY, consumer=org("974760674")),
    "consumer-not-an-object": make_token(KEY, consumer="974760673"),
    "consumer-wrong-authority": make_token(
        KEY, consumer={"authority": "evil", "ID": "0192:974760673"}
    ),
    "consumer-missing": make_token(KEY, consumer=None),
    "garbage": "not.a.jwt",
    # Issue 12.17: minted for another API (no KRR_AUDIENCE configured: any aud is refused).
    "audience-another-api": make_token(KEY, aud="https://api.other-agency.example/"),
    # Issue 12.13: these gave a 500 and an ERROR traceback before any authentication (the
    # WWW-Authenticate header cannot carry the echoed text; the JSON parser recursed).
    "alg-non-ascii": _unsigned("☃"),
    "kid-non-ascii": f"{b64json({'alg': 'RS256', 'kid': '☃' * 3})}.{b64json(claims())}.AAAA",
    "issuer-non-ascii": make_token(KEY, iss="https://☃.example/"),
    "consumer-full-width-digits": make_token(KEY, consumer=org("９７４７６０６７３")),
    "payload-nested-brackets": f"{b64json({'alg': 'RS256', 'kid': KEY.kid})}."
                               f"{b64(b'[' * 5000 + b']' * 5000)}.AAAA",
    "header-nested-brackets": f"{b64(b'[' * 5000 + b']' * 5000)}.{b64json(claims())}.AAAA",
    "header-latin1-quote": ".".join(
        (b64json({"alg": "RS256", "kid": 'a"b\u00e6'}), b64json(claims()), "AAAA")
    ),
}


@pytest.fixture
def jwks() -> AsyncIterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks_of(KEY)))


@pytest.fixture
async def attacked(db, jwks: respx.Route) -> AsyncIterator[httpx.AsyncClient]:
    """The app trusting one Maskinporten-like issuer (JWKS mocked), clock at the tokens' time."""
    verifier = TokenVerifier({ISSUER: JWKS_URL}, clock=FakeClock())
    app = create_app(db, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://krr.test"
    ) as client:
        yield client
    await verifier.aclose()


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_genuine_token_works(attacked: httpx.AsyncClient) -> None:
    """The control: without it every refusal below could be a broken set-up."""
    response = await attacked.post("/graphql", json=QUERY,
                                   headers={"Authorization": f"Bearer {make_token(KEY)}"})
    assert response.status_code == 200 and response.json()["data"]["personer"], response.text


@pytest.mark.parametrize("token", list(ATTACKS.values()), ids=list(ATTACKS))
async def test_attack_tokens_get_401_and_no_data(
    attacked: httpx.AsyncClient, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for response in (await attacked.post("/graphql", json=QUERY, headers=headers),
                     await attacked.post("/rest/v2/personer", json=REST_BODY, headers=headers)):
        _refused(response)
        # Nothing from the token goes into a header unencoded: printable ASCII only.
        challenge = response.headers["WWW-Authenticate"]
        assert all(" " <= c <= "~" for c in challenge), challenge
    # A refused token is not an error of ours: no traceback in the log.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unknown_kid_flood_fetches_jwks_a_bounded_number_of_times(
    attacked: httpx.AsyncClient, jwks: respx.Route
) -> None:
    async def attempt(n: int) -> httpx.Response:
        token = jwt.encode({"alg": "RS256", "kid": f"ghost-{n}"}, claims(), KEY,
                           algorithms=["RS256"])
        return await attacked.post("/graphql", json=QUERY,
                                   headers={"Authorization": f"Bearer {token}"})

    responses = await asyncio.gather(*(attempt(n) for n in range(100)))
    for response in responses:
        _refused(response)
    assert 1 <= jwks.call_count <= 2  # the first fetch and at most one refetch for unknown kids
