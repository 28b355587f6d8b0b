"""Residents' tokens (ID-porten and the dev issuer's look-alikes): who may speak for themselves.

A resident's token must name a valid person, come from a strong enough login, and never carry
an organisation's claims; an organisation's issuer never turns a token into a resident.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from authz.dev_issuer import DEV_ISSUER, DevIssuer
from authz.identifikatorer import make_id
from authz.principal import Innbygger, Principal
from authz.tokens import TokenError, TokenVerifier, TrustedIssuer
from tests.factories import new_id

IDPORTEN = "https://test.idporten.no"
IDPORTEN_JWKS = "https://test.idporten.no/jwks.json"
MASKINPORTEN = "https://test.maskinporten.no/"
MASKINPORTEN_JWKS = "https://test.maskinporten.no/jwk"
NOW = 1_760_000_000.0
PID = "17912099997"  # synthetic
FNR = make_id(dt.date(1990, 5, 17), 123, synthetic=False)
SCOPE = "krr:user/kontaktinformasjon.read krr:user/kontaktinformasjon.write"
DIGDIR = "991825827"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "idp-key-1", "use": "sig"})


def claims(iss: str = IDPORTEN, **overrides: Any) -> dict[str, Any]:
    """ID-porten-shaped access token claims; an override of None drops the claim."""
    base: dict[str, Any] = {
        "iss": iss,
        "sub": "pairwise-subject",
        "pid": PID,
        "acr": "idporten-loa-substantial",
        "amr": ["BankID"],
        "scope": SCOPE,
        "client_id": "krr-selvbetjening",
        "iat": int(NOW),
        "exp": int(NOW) + 120,
        "jti": "jti-idp-1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def make_token(key: RSAKey, iss: str = IDPORTEN, **overrides: Any) -> str:
    return jwt.encode(
        {"alg": "RS256", "kid": key.kid}, claims(iss, **overrides), key, algorithms=["RS256"]
    )


def b64json(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.fixture
def router(key: RSAKey) -> Iterator[respx.MockRouter]:
    jwks = httpx.Response(200, json={"keys": [key.as_dict(private=False)]})
    with respx.mock(assert_all_called=False) as mock:
        mock.get(IDPORTEN_JWKS).mock(return_value=jwks)
        mock.get(MASKINPORTEN_JWKS).mock(return_value=jwks)
        yield mock


@pytest.fixture
async def verifier(router: respx.MockRouter) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier(
        {
            IDPORTEN: TrustedIssuer(IDPORTEN_JWKS, "idporten"),
            MASKINPORTEN: MASKINPORTEN_JWKS,  # a bare URL is a Maskinporten issuer
        },
        clock=lambda: NOW,
    )
    yield v
    await v.aclose()


async def refused(verifier: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    assert token not in info.value.message
    return info.value


# --- ID-porten ---------------------------------------------------------------------------------


@pytest.mark.parametrize("acr", ["idporten-loa-substantial", "idporten-loa-high"])
@pytest.mark.parametrize("pid", [PID, FNR, new_id(3, d_number=True)], ids=["synth", "fnr", "dnr"])
async def test_resident_token_gives_innbygger(
    verifier: TokenVerifier, key: RSAKey, acr: str, pid: str
) -> None:
    caller = await verifier.verify(make_token(key, pid=pid, acr=acr))
    assert caller == Innbygger(
        pid=pid,
        scopes=frozenset(SCOPE.split()),
        issuer=IDPORTEN,
        acr=acr,
        client_id="krr-selvbetjening",
        token_id="jti-idp-1",
    )
    assert caller.has_scope("krr:user/kontaktinformasjon.write") and caller.actor == pid
    assert verifier.kinds == {IDPORTEN: "idporten", MASKINPORTEN: "maskinporten"}


@pytest.mark.parametrize(
    ("overrides", "reason", "says"),
    [
        pytest.param({"pid": None}, "invalid_pid", "no pid", id="missing-pid"),
        pytest.param({"pid": "17912099998"}, "invalid_pid", "mod-11", id="check-digit"),
        pytest.param({"pid": "1791209999"}, "invalid_pid", "11 digits", id="ten-digits"),
        pytest.param({"pid": "１７９１２０９９９９７"}, "invalid_pid", "11 digits", id="fullwidth"),
        pytest.param({"pid": 17912099997}, "invalid_pid", "string", id="number"),
        pytest.param(
            {"consumer": {"authority": "iso6523-actorid-upis", "ID": f"0192:{DIGDIR}"}},
            "invalid_claims",
            "consumer",
            id="consumer",
        ),
        pytest.param(
            {"supplier": {"authority": "iso6523-actorid-upis", "ID": f"0192:{DIGDIR}"}},
            "invalid_claims",
            "supplier",
            id="supplier",
        ),
        pytest.param({"acr": "idporten-loa-low"}, "insufficient_acr", "loa-low", id="low-acr"),
        pytest.param({"acr": "Level4"}, "insufficient_acr", "Level4", id="old-acr-name"),
        pytest.param({"acr": ["idporten-loa-high"]}, "insufficient_acr", "acr", id="acr-list"),
        pytest.param({"acr": None}, "insufficient_acr", "no acr", id="missing-acr"),
        pytest.param({"exp": None}, "missing_claim", "exp", id="missing-exp"),
        pytest.param({"exp": int(NOW) - 31}, "expired", "expired", id="expired"),
        pytest.param({"iat": int(NOW) + 31}, "not_yet_valid", "future", id="iat-future"),
    ],
)
async def test_resident_token_refused(
    verifier: TokenVerifier, key: RSAKey, overrides: dict[str, Any], reason: str, says: str
) -> None:
    error = await refused(verifier, make_token(key, **overrides))
    assert error.reason == reason
    assert says in error.message
    assert "17912099998" not in error.message  # a personal id is never echoed


async def test_resident_token_signature_and_algorithm_rules(
    verifier: TokenVerifier, key: RSAKey
) -> None:
    header, _, signature = make_token(key).split(".")
    forged = make_token(key, pid=FNR).split(".")[1]
    assert (await refused(verifier, f"{header}.{forged}.{signature}")).reason == "bad_signature"
    none_alg = b64json({"alg": "none", "kid": key.kid})
    unsigned = f"{none_alg}.{b64json(claims())}."
    assert (await refused(verifier, unsigned)).reason == "unsupported_algorithm"


async def test_maskinporten_issuer_never_yields_a_resident(
    verifier: TokenVerifier, key: RSAKey
) -> None:
    """The same resident-shaped token from an organisation issuer lacks its consumer."""
    error = await refused(verifier, make_token(key, iss=MASKINPORTEN))
    assert error.reason == "invalid_consumer"


async def test_idporten_issuer_never_yields_an_organisation(
    verifier: TokenVerifier, key: RSAKey
) -> None:
    org = {"authority": "iso6523-actorid-upis", "ID": f"0192:{DIGDIR}"}
    token = make_token(key, consumer=org, pid=None, acr=None)
    assert (await refused(verifier, token)).reason == "invalid_claims"
    principal = await verifier.verify(make_token(key, iss=MASKINPORTEN, consumer=org))
    assert isinstance(principal, Principal) and principal.consumer == DIGDIR


def test_unknown_issuer_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        TokenVerifier({IDPORTEN: TrustedIssuer(IDPORTEN_JWKS, "bankid")})  # type: ignore[arg-type]


# --- the dev issuer stands in for both ------------------------------------------------------


@pytest.fixture
async def dev_verifier(dev_issuer: DevIssuer) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier({}, dev_issuer=dev_issuer)
    yield v
    await v.aclose()


async def test_dev_resident_token(dev_verifier: TokenVerifier, mint: Any) -> None:
    caller = await dev_verifier.verify(
        mint("krr:user/kontaktinformasjon.read", consumer=None, pid=PID)
    )
    assert isinstance(caller, Innbygger)
    assert (caller.pid, caller.acr, caller.issuer) == (PID, "idporten-loa-substantial", DEV_ISSUER)
    assert caller.scopes == {"krr:user/kontaktinformasjon.read"}
    high = await dev_verifier.verify(
        mint(consumer=None, pid=PID, extra_claims={"acr": "idporten-loa-high"})
    )
    assert isinstance(high, Innbygger) and high.acr == "idporten-loa-high"


async def test_dev_organisation_token_with_pid_stays_an_organisation(
    dev_verifier: TokenVerifier, mint: Any
) -> None:
    caller = await dev_verifier.verify(mint("krr:global/kontaktinformasjon.read", pid=PID))
    assert isinstance(caller, Principal) and caller.pid == PID


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"acr": "idporten-loa-low"}, "insufficient_acr"),
        ({"acr": None}, "insufficient_acr"),
        ({"pid": "12345678901"}, "invalid_pid"),
        ({"pid": None}, "invalid_consumer"),  # neither consumer nor pid: read as an organisation's
    ],
)
async def test_dev_resident_token_refused(
    dev_verifier: TokenVerifier, mint: Any, extra: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenError) as info:
        await dev_verifier.verify(mint(consumer=None, pid=PID, extra_claims=extra))
    assert info.value.reason == reason


# --- krr token --pid -------------------------------------------------------------------------


def krr_token(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(var_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "token", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


async def test_cli_mints_a_resident_token(tmp_path: Path) -> None:
    result = krr_token(tmp_path, "--pid", PID, "--scope", "krr:user/kontaktinformasjon.read")
    assert result.returncode == 0, result.stderr
    verifier = TokenVerifier({}, dev_issuer=DevIssuer.load_or_create(tmp_path))
    caller = await verifier.verify(result.stdout.strip())
    await verifier.aclose()
    assert isinstance(caller, Innbygger)
    assert caller.pid == PID and caller.scopes == {"krr:user/kontaktinformasjon.read"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "--pid"),
        (("--pid", "17912099998"), "pid must be a valid personal id"),
        (("--pid", PID, "--supplier", DIGDIR), "supplier"),
    ],
)
def test_cli_refuses_resident_token_without_a_valid_pid(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = krr_token(tmp_path, "--scope", "krr:user/kontaktinformasjon.read", *args)
    assert result.returncode == 2 and not result.stdout
    assert says in result.stderr


# --- over HTTP ---------------------------------------------------------------------------------


async def test_resident_cannot_look_up_persons(client: httpx.AsyncClient, mint: Any) -> None:
    """A resident's token reaches GraphQL but organisation-only fields refuse it."""
    token = mint(
        "krr:user/kontaktinformasjon.read krr:global/kontaktinformasjon.read",
        consumer=None,
        pid=PID,
    )
    query = {"query": f'{{ personer(personidentifikatorer: ["{PID}"]) {{ status }} }}'}
    response = await client.post(
        "/graphql", json=query, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "resident" in body["errors"][0]["message"]
