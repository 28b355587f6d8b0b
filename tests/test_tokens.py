"""Token verification rules, against a Maskinporten-like issuer whose JWKS endpoint is mocked."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from authz.identifikatorer import is_valid_orgno
from authz.principal import Principal
from authz.tokens import (
    ALLOWED_ALGORITHMS,
    MAX_TOKEN_LENGTH,
    TokenError,
    TokenVerifier,
)

ISSUER = "https://test.maskinporten.no/"
JWKS_URL = "https://test.maskinporten.no/jwk"
NOW = 1_760_000_000.0
DIGDIR = "991825827"
VENDOR = "974760673"
SCOPE = "krr:global/kontaktinformasjon.read krr:global/digitalpost.read"


class FakeClock:
    """Injectable time so lifetime and refetch-interval rules are tested without sleeping."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return _rsa("mp-key-1")


@pytest.fixture(scope="module")
def rotated_key() -> RSAKey:
    return _rsa("mp-key-2")


@pytest.fixture(scope="module")
def attacker_key() -> RSAKey:
    """Same kid as the trusted key, different key material."""
    return _rsa("mp-key-1")


def jwks_of(*keys: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def org(orgno: str) -> dict[str, str]:
    return {"authority": "iso6523-actorid-upis", "ID": f"0192:{orgno}"}


def claims(**overrides: Any) -> dict[str, Any]:
    """Maskinporten-shaped claims; an override of None drops the claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "scope": SCOPE,
        "consumer": org(DIGDIR),
        "client_id": "client-abc",
        "client_amr": "private_key_jwt",
        "iat": int(NOW),
        "exp": int(NOW) + 120,
        "jti": "jti-123",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def make_token(key: RSAKey, alg: str = "RS256", **overrides: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims(**overrides), key, algorithms=[alg])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def jwks_route(router: respx.MockRouter, signing_key: RSAKey) -> respx.Route:
    return router.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks_of(signing_key)))


@pytest.fixture
async def verifier(clock: FakeClock, jwks_route: respx.Route) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier({ISSUER: JWKS_URL}, clock=clock)
    yield v
    await v.aclose()


async def refused(verifier: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    error = info.value
    assert error.message and token not in error.message
    return error


# --- accepted tokens ------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALLOWED_ALGORITHMS)
async def test_valid_token_gives_principal(
    verifier: TokenVerifier, signing_key: RSAKey, alg: str
) -> None:
    token = make_token(
        signing_key,
        alg,
        supplier=org(VENDOR),
        delegation_source="https://www.altinn.no",
        pid="05068924440",
    )
    principal = await verifier.verify(token)
    assert principal == Principal(
        consumer=DIGDIR,
        scopes=frozenset({"krr:global/kontaktinformasjon.read", "krr:global/digitalpost.read"}),
        issuer=ISSUER,
        supplier=VENDOR,
        pid="05068924440",
        client_id="client-abc",
        token_id="jti-123",
        delegation_source="https://www.altinn.no",
    )
    assert principal.has_scope("krr:global/digitalpost.read")
    assert not principal.has_scope("krr:global")


async def test_plain_token_without_optional_claims(
    verifier: TokenVerifier, signing_key: RSAKey
) -> None:
    principal = await verifier.verify(make_token(signing_key, scope=None, jti=None))
    assert principal.scopes == frozenset()
    assert principal.supplier is None and principal.pid is None and principal.token_id is None


async def test_keys_fetched_once_and_cached(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route
) -> None:
    assert jwks_route.call_count == 0  # lazy: nothing fetched at construction
    for _ in range(3):
        await verifier.verify(make_token(signing_key))
    assert jwks_route.call_count == 1


async def test_leeway_tolerates_small_clock_skew(
    verifier: TokenVerifier, signing_key: RSAKey
) -> None:
    await verifier.verify(make_token(signing_key, exp=int(NOW) - 10))
    await verifier.verify(make_token(signing_key, iat=int(NOW) + 10))


# --- algorithm --------------------------------------------------------------------------


def _unsigned(alg: str, kid: str) -> str:
    return f"{b64json({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{b64json(claims())}."


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "ES256", "PS256", "rs256", "HS512"])
async def test_refuses_other_algorithms_before_fetching_keys(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route, alg: str
) -> None:
    assert signing_key.kid is not None
    error = await refused(verifier, _unsigned(alg, signing_key.kid))
    assert error.reason == "unsupported_algorithm"
    assert jwks_route.call_count == 0


async def test_refuses_hs256_signed_with_public_key(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route
) -> None:
    """The classic confusion attack: the published RSA key used as an HMAC secret."""
    secret = signing_key.as_pem(private=False)
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': signing_key.kid})}." + b64json(
        claims()
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    error = await refused(verifier, f"{signing_input}.{b64(signature)}")
    assert error.reason == "unsupported_algorithm"
    assert jwks_route.call_count == 0


async def test_missing_alg_is_unsupported(verifier: TokenVerifier) -> None:
    token = f"{b64json({'typ': 'JWT', 'kid': 'mp-key-1'})}.{b64json(claims())}.c2ln"
    assert (await refused(verifier, token)).reason == "unsupported_algorithm"


# --- lifetime ---------------------------------------------------------------------------


async def test_expired(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    token = make_token(signing_key, iat=int(NOW) - 200, exp=int(NOW) - 31)
    assert (await refused(verifier, token)).reason == "expired"


async def test_expires_as_clock_moves(
    verifier: TokenVerifier, signing_key: RSAKey, clock: FakeClock
) -> None:
    token = make_token(signing_key)
    await verifier.verify(token)
    clock.advance(120 + 30)
    assert (await refused(verifier, token)).reason == "expired"


async def test_iat_in_future(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    token = make_token(signing_key, iat=int(NOW) + 31, exp=int(NOW) + 151)
    assert (await refused(verifier, token)).reason == "not_yet_valid"


async def test_nbf_in_future(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    token = make_token(signing_key, nbf=int(NOW) + 60)
    assert (await refused(verifier, token)).reason == "not_yet_valid"


@pytest.mark.parametrize("claim", ["exp", "iat"])
async def test_missing_time_claim(verifier: TokenVerifier, signing_key: RSAKey, claim: str) -> None:
    error = await refused(verifier, make_token(signing_key, **{claim: None}))
    assert error.reason == "missing_claim"
    assert claim in error.message


@pytest.mark.parametrize("value", ["1760000120", True, [1], 1e400])
async def test_non_numeric_exp(verifier: TokenVerifier, signing_key: RSAKey, value: Any) -> None:
    assert (await refused(verifier, make_token(signing_key, exp=value))).reason == "malformed"


# --- issuer and signature ------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        "https://maskinporten.no/",
        "https://test.maskinporten.no",  # compared exactly: no trailing-slash tolerance
        "https://TEST.maskinporten.no/",
        "https://evil.example/",
        42,
    ],
)
async def test_untrusted_issuer(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route, issuer: Any
) -> None:
    assert (await refused(verifier, make_token(signing_key, iss=issuer))).reason == "unknown_issuer"
    assert jwks_route.call_count == 0


async def test_missing_issuer(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    assert (await refused(verifier, make_token(signing_key, iss=None))).reason == "missing_claim"


async def test_tampered_payload(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    header, _, signature = make_token(signing_key).split(".")
    forged = f"{header}.{b64json(claims(consumer=org('889640782')))}.{signature}"
    assert (await refused(verifier, forged)).reason == "bad_signature"


async def test_tampered_signature(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    header, payload, _ = make_token(signing_key).split(".")
    forged = f"{header}.{payload}.{b64(b'x' * 256)}"
    assert (await refused(verifier, forged)).reason == "bad_signature"


async def test_untrusted_key_with_known_kid(
    verifier: TokenVerifier, attacker_key: RSAKey, signing_key: RSAKey
) -> None:
    assert attacker_key.kid == signing_key.kid
    assert (await refused(verifier, make_token(attacker_key))).reason == "bad_signature"


async def test_missing_kid(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    token = jwt.encode({"alg": "RS256"}, claims(), signing_key, algorithms=["RS256"])
    assert (await refused(verifier, token)).reason == "unknown_key"


# --- consumer / supplier ----------------------------------------------------------------------


BAD_ORG_CLAIMS = [
    pytest.param({"authority": "iso6523-actorid-upis-x", "ID": f"0192:{DIGDIR}"}, id="authority"),
    pytest.param({"authority": "iso6523-actorid-upis", "ID": DIGDIR}, id="no-prefix"),
    pytest.param({"authority": "iso6523-actorid-upis", "ID": f"9908:{DIGDIR}"}, id="other-icd"),
    pytest.param(org("123456789"), id="mod11"),
    pytest.param(org("99182582"), id="eight-digits"),
    pytest.param(org("991 825 827"), id="spaces"),
    pytest.param(org("９９１８２５８２７"), id="fullwidth-digits"),
    pytest.param({"ID": f"0192:{DIGDIR}"}, id="no-authority"),
    pytest.param({**org(DIGDIR), "extra": "x"}, id="extra-key"),
    pytest.param(f"0192:{DIGDIR}", id="string"),
]


@pytest.mark.parametrize("consumer", BAD_ORG_CLAIMS)
async def test_invalid_consumer(
    verifier: TokenVerifier, signing_key: RSAKey, consumer: Any
) -> None:
    token = make_token(signing_key, consumer=consumer)
    assert (await refused(verifier, token)).reason == "invalid_consumer"


async def test_missing_consumer(verifier: TokenVerifier, signing_key: RSAKey) -> None:
    token = make_token(signing_key, consumer=None)
    assert (await refused(verifier, token)).reason == "invalid_consumer"


@pytest.mark.parametrize("supplier", BAD_ORG_CLAIMS)
async def test_invalid_supplier(
    verifier: TokenVerifier, signing_key: RSAKey, supplier: Any
) -> None:
    token = make_token(signing_key, supplier=supplier)
    assert (await refused(verifier, token)).reason == "invalid_supplier"


def test_orgno_check() -> None:
    for good in (DIGDIR, VENDOR, "889640782", "921627009"):
        assert is_valid_orgno(good)
    for bad in ("123456789", "991825828", "0991825827", "", None, 991825827):
        assert not is_valid_orgno(bad)


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="one-part"),
        pytest.param("a.b", id="two-parts"),
        pytest.param("a.b.c.d.e", id="jwe-shaped"),
        pytest.param(f"{b64(b'{not json')}.{b64json(claims())}.c2ln", id="header-not-json"),
        pytest.param(f"{b64json(['RS256'])}.{b64json(claims())}.c2ln", id="header-not-object"),
        pytest.param(f"{b64json({'alg': 'RS256', 'kid': 'k'})}.%%%.c2ln", id="payload-not-b64"),
        pytest.param(
            f"{b64json({'alg': 'RS256', 'kid': 'k'})}.{b64json(7)}.c2ln", id="payload-int"
        ),
        pytest.param("é.é.é", id="non-ascii"),
    ],
)
async def test_malformed(verifier: TokenVerifier, token: str) -> None:
    assert (await refused(verifier, token)).reason == "malformed"


async def test_oversized_token_is_malformed_before_any_work(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route
) -> None:
    token = make_token(signing_key, padding="x" * MAX_TOKEN_LENGTH)
    assert (await refused(verifier, token)).reason == "malformed"
    assert jwks_route.call_count == 0


@pytest.mark.parametrize("token", ["", "   "])
async def test_missing_token(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    assert info.value.reason == "missing"


# --- JWKS caching, rotation and outages -------------------------------------------------------


async def test_key_rotation_triggers_one_refetch(
    verifier: TokenVerifier, signing_key: RSAKey, rotated_key: RSAKey, jwks_route: respx.Route
) -> None:
    await verifier.verify(make_token(signing_key))
    assert jwks_route.call_count == 1
    jwks_route.mock(return_value=httpx.Response(200, json=jwks_of(rotated_key)))
    principal = await verifier.verify(make_token(rotated_key))
    assert principal.consumer == DIGDIR
    assert jwks_route.call_count == 2
    await verifier.verify(make_token(rotated_key))
    assert jwks_route.call_count == 2
    # The old key left the JWKS, so it is no longer trusted.
    assert (await refused(verifier, make_token(signing_key))).reason == "unknown_key"


async def test_unknown_kid_flood_is_rate_limited(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route, clock: FakeClock
) -> None:
    await verifier.verify(make_token(signing_key))
    assert jwks_route.call_count == 1

    async def attempt(kid: str) -> str:
        token = jwt.encode(
            {"alg": "RS256", "kid": kid}, claims(), signing_key, algorithms=["RS256"]
        )
        with pytest.raises(TokenError) as info:
            await verifier.verify(token)
        return info.value.reason

    reasons = await asyncio.gather(*(attempt(f"ghost-{n}") for n in range(50)))
    assert set(reasons) == {"unknown_key"}
    assert jwks_route.call_count == 2
    clock.advance(59)
    reasons = await asyncio.gather(*(attempt(f"ghost-b{n}") for n in range(50)))
    assert set(reasons) == {"unknown_key"}
    assert jwks_route.call_count == 2
    await verifier.verify(make_token(signing_key))  # known kids are unaffected
    clock.advance(2)  # 61 s after the refetch
    assert await attempt("ghost-late") == "unknown_key"
    assert jwks_route.call_count == 3


async def test_unreachable_jwks_keeps_cached_keys(
    verifier: TokenVerifier, signing_key: RSAKey, rotated_key: RSAKey, jwks_route: respx.Route
) -> None:
    await verifier.verify(make_token(signing_key))
    jwks_route.mock(side_effect=httpx.ConnectError("connection refused"))
    assert (await verifier.verify(make_token(signing_key))).consumer == DIGDIR
    error = await refused(verifier, make_token(rotated_key))
    assert error.reason == "jwks_unavailable"
    assert jwks_route.call_count == 2
    assert (await verifier.verify(make_token(signing_key))).consumer == DIGDIR


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json={"keys": "nope"}),
        httpx.Response(200, json={"keys": [{"kty": "EC", "kid": "x"}]}),
        httpx.Response(503, json={}),
    ],
)
async def test_garbage_jwks_keeps_cached_keys(
    verifier: TokenVerifier,
    signing_key: RSAKey,
    rotated_key: RSAKey,
    jwks_route: respx.Route,
    response: httpx.Response,
) -> None:
    await verifier.verify(make_token(signing_key))
    jwks_route.mock(return_value=response)
    assert (await refused(verifier, make_token(rotated_key))).reason == "jwks_unavailable"
    assert (await verifier.verify(make_token(signing_key))).consumer == DIGDIR


async def test_first_fetch_failing(
    verifier: TokenVerifier, signing_key: RSAKey, jwks_route: respx.Route
) -> None:
    jwks_route.mock(side_effect=httpx.ConnectError("connection refused"))
    assert (await refused(verifier, make_token(signing_key))).reason == "jwks_unavailable"


async def test_keys_are_refreshed_when_old(
    verifier: TokenVerifier,
    signing_key: RSAKey,
    rotated_key: RSAKey,
    jwks_route: respx.Route,
    clock: FakeClock,
) -> None:
    """A key the issuer withdrew stops working within max_age even if its kid is cached."""
    await verifier.verify(make_token(signing_key))
    jwks_route.mock(return_value=httpx.Response(200, json=jwks_of(rotated_key)))
    clock.advance(3600)
    token = make_token(signing_key, iat=int(clock.now), exp=int(clock.now) + 120)
    assert (await refused(verifier, token)).reason == "unknown_key"
    assert jwks_route.call_count == 2


async def test_weak_and_private_jwks_entries_are_ignored(
    router: respx.MockRouter, signing_key: RSAKey, clock: FakeClock
) -> None:
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    weak = {"kty": "RSA", "kid": "weak", "e": "AQAB", "n": b64(numbers.n.to_bytes(128, "big"))}
    router.get(JWKS_URL).mock(
        return_value=httpx.Response(200, json={"keys": [weak, signing_key.as_dict(private=True)]})
    )
    verifier = TokenVerifier({ISSUER: JWKS_URL}, clock=clock)
    try:
        assert (await verifier.verify(make_token(signing_key))).consumer == DIGDIR
        token = jwt.encode({"alg": "RS256", "kid": "weak"}, claims(), signing_key)
        assert (await refused(verifier, token)).reason == "unknown_key"
    finally:
        await verifier.aclose()


async def test_uses_given_http_client(
    router: respx.MockRouter, signing_key: RSAKey, clock: FakeClock
) -> None:
    route = router.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks_of(signing_key)))
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier({ISSUER: JWKS_URL}, http=http, clock=clock)
        await verifier.verify(make_token(signing_key))
        await verifier.aclose()
        assert not http.is_closed  # not ours to close
    assert route.call_count == 1


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://evil.example/jwk", "http://127.0.0.2.evil.example/jwk", "ftp://x/jwk"]
)
def test_require_https_refuses_plain_http(url: str) -> None:
    with pytest.raises(ValueError, match="JWKS URL"):
        TokenVerifier({ISSUER: url}, require_https=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9999/jwk",
        "http://[::1]:9999/jwk",
        "http://localhost:9999/jwk",
        "https://evil.example/jwk",
    ],
)
def test_require_https_allows_https_and_loopback(url: str) -> None:
    TokenVerifier({ISSUER: url}, require_https=True)


def test_plain_http_allowed_outside_prod() -> None:
    TokenVerifier({ISSUER: "http://evil.example/jwk"})


# --- issue 12.17: audience -------------------------------------------------------------------

OTHER_API = "https://api.other-agency.example/"
KRR_API = "https://krr.example.no/"


@pytest.mark.parametrize("aud", [OTHER_API, [OTHER_API], [OTHER_API, "another-api"]])
async def test_a_token_for_another_api_is_refused(clock, jwks_route, signing_key, aud):
    """The attack: a token whose `aud` names another API was accepted."""
    for audiences in ((), (KRR_API,)):
        v = TokenVerifier({ISSUER: JWKS_URL}, clock=clock, audiences=audiences)
        error = await refused(v, make_token(signing_key, aud=aud))
        assert error.reason == "invalid_audience"
        await v.aclose()


async def test_a_token_for_this_service_or_without_audience_is_accepted(
    clock, jwks_route, signing_key
):
    v = TokenVerifier({ISSUER: JWKS_URL}, clock=clock, audiences={KRR_API, "krr:api"})
    for aud in (KRR_API, [OTHER_API, "krr:api"]):
        assert (await v.verify(make_token(signing_key, aud=aud))).consumer
    assert (await v.verify(make_token(signing_key))).consumer  # Maskinporten's default: no aud
    await v.aclose()


@pytest.mark.parametrize("aud", [[], 42, [KRR_API, 7], {"aud": KRR_API}])
async def test_a_malformed_audience_is_refused(clock, jwks_route, signing_key, aud):
    v = TokenVerifier({ISSUER: JWKS_URL}, clock=clock, audiences={KRR_API})
    assert (await refused(v, make_token(signing_key, aud=aud))).reason == "invalid_audience"
    await v.aclose()
