"""The local dev issuer: key persistence, token shape, and acceptance by the verifier."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from authz.dev_issuer import DEV_ISSUER, KEY_FILE_NAME, MAX_TTL, DevIssuer, _store_key
from authz.principal import Innbygger, Principal
from authz.tokens import TokenError, TokenVerifier

DIGDIR = "991825827"
VENDOR = "889640782"
RESIDENT = "17912099997"  # a synthetic personal id


@pytest.fixture(scope="module")
def dev_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev") / "nested" / "var"


@pytest.fixture(scope="module")
def issuer(dev_dir: Path) -> DevIssuer:
    return DevIssuer.load_or_create(dev_dir)


@pytest.fixture
def no_http() -> Iterator[respx.MockRouter]:
    """Any HTTP request made while this is active fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock
    assert mock.calls.call_count == 0


@pytest.fixture
async def verifier(issuer: DevIssuer, no_http: respx.MockRouter) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier({}, dev_issuer=issuer)
    yield v
    await v.aclose()


def test_key_file_created_private(issuer: DevIssuer, dev_dir: Path) -> None:
    path = dev_dir / KEY_FILE_NAME
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["kid"] == issuer.kid and "d" in stored
    assert [p.name for p in dev_dir.iterdir()] == [KEY_FILE_NAME]  # no temp files left


def test_reload_gives_same_key(issuer: DevIssuer, dev_dir: Path) -> None:
    again = DevIssuer.load_or_create(dev_dir)
    assert again.kid == issuer.kid
    assert again.jwks() == issuer.jwks()
    token = issuer.mint(scope="krr:global/kontaktinformasjon.read", consumer=DIGDIR)
    assert (
        jwt.decode(token, again.public_key_set(), algorithms=["RS256"]).claims["iss"] == DEV_ISSUER
    )


def test_other_directory_gets_other_key(issuer: DevIssuer, tmp_path: Path) -> None:
    assert DevIssuer.load_or_create(tmp_path).kid != issuer.kid


def test_race_loser_adopts_existing_key(issuer: DevIssuer, dev_dir: Path) -> None:
    """If another process stored a key first, ours is discarded so all agree on one key."""
    ours = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    kept = _store_key(dev_dir / KEY_FILE_NAME, ours)
    assert kept.kid == issuer.kid != ours.kid


def test_corrupt_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="dev issuer key file"):
        DevIssuer.load_or_create(tmp_path)


def test_jwks_is_public_only(issuer: DevIssuer) -> None:
    (key,) = issuer.jwks()["keys"]
    assert key["kid"] == issuer.kid
    assert key["use"] == "sig" and key["alg"] == "RS256" and key["kty"] == "RSA"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert all(not k.is_private for k in issuer.public_key_set())


def test_minted_claims(issuer: DevIssuer) -> None:
    token = issuer.mint(
        scope="krr:global/kontaktinformasjon.read",
        consumer=DIGDIR,
        supplier=VENDOR,
        pid="05068924440",
        ttl=60,
    )
    decoded = jwt.decode(token, issuer.public_key_set(), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] == issuer.kid
    c = decoded.claims
    assert c["iss"] == DEV_ISSUER
    assert c["scope"] == "krr:global/kontaktinformasjon.read"
    assert c["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{DIGDIR}"}
    assert c["supplier"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{VENDOR}"}
    assert c["delegation_source"] == "https://www.altinn.no"
    assert c["pid"] == "05068924440"
    assert c["client_id"] == "krr-dev-client" and c["client_amr"] == "private_key_jwt"
    assert c["exp"] - c["iat"] == 60
    assert uuid.UUID(c["jti"]).version == 4


def test_minted_without_supplier(issuer: DevIssuer) -> None:
    token = issuer.mint(scope="s", consumer=DIGDIR)
    c = jwt.decode(token, issuer.public_key_set(), algorithms=["RS256"]).claims
    assert "supplier" not in c and "delegation_source" not in c and "pid" not in c
    assert c["exp"] - c["iat"] == 120


def test_minted_resident_claims(issuer: DevIssuer) -> None:
    token = issuer.mint(scope="krr:user/kontaktinformasjon.read", pid=RESIDENT)
    c = jwt.decode(token, issuer.public_key_set(), algorithms=["RS256"]).claims
    assert c["pid"] == RESIDENT and c["acr"] == "idporten-loa-substantial"
    assert c["scope"] == "krr:user/kontaktinformasjon.read" and c["iss"] == DEV_ISSUER
    assert not {"consumer", "supplier", "delegation_source"} & set(c)
    high = issuer.mint(scope="s", pid=RESIDENT, extra_claims={"acr": "idporten-loa-high"})
    assert jwt.decode(high, issuer.public_key_set()).claims["acr"] == "idporten-loa-high"


def test_organisation_token_has_no_acr(issuer: DevIssuer) -> None:
    c = jwt.decode(issuer.mint(scope="s", consumer=DIGDIR, pid=RESIDENT), issuer.public_key_set())
    assert "acr" not in c.claims and c.claims["pid"] == RESIDENT


def test_mint_needs_consumer_or_pid(issuer: DevIssuer) -> None:
    with pytest.raises(ValueError, match=r"consumer .* or a pid"):
        issuer.mint(scope="s")


@pytest.mark.parametrize("pid", ["17912099998", "1791209999", "", "17912O99997", "32012090012"])
def test_mint_rejects_bad_pid(issuer: DevIssuer, pid: str) -> None:
    with pytest.raises(ValueError, match="pid must be a valid personal id"):
        issuer.mint(scope="s", pid=pid)


def test_mint_resident_token_has_no_supplier(issuer: DevIssuer) -> None:
    with pytest.raises(ValueError, match="supplier"):
        issuer.mint(scope="s", pid=RESIDENT, supplier=VENDOR)


async def test_verifier_reads_dev_resident_token_as_innbygger(
    verifier: TokenVerifier, issuer: DevIssuer
) -> None:
    token = issuer.mint(scope="krr:user/kontaktinformasjon.read", pid=RESIDENT)
    token_id = jwt.decode(token, issuer.public_key_set()).claims["jti"]
    assert await verifier.verify(token) == Innbygger(
        pid=RESIDENT,
        scopes=frozenset({"krr:user/kontaktinformasjon.read"}),
        issuer=DEV_ISSUER,
        acr="idporten-loa-substantial",
        client_id="krr-dev-client",
        token_id=token_id,
    )


@pytest.mark.parametrize("orgno", ["123456789", "99182582", "991 825 827", f"0192:{DIGDIR}", ""])
def test_mint_rejects_bad_consumer(issuer: DevIssuer, orgno: str) -> None:
    with pytest.raises(ValueError, match="consumer must be a valid 9-digit"):
        issuer.mint(scope="s", consumer=orgno)


def test_mint_rejects_bad_supplier(issuer: DevIssuer) -> None:
    with pytest.raises(ValueError, match="supplier must be a valid 9-digit"):
        issuer.mint(scope="s", consumer=DIGDIR, supplier="123456789")


@pytest.mark.parametrize("ttl", [0, -5, MAX_TTL + 1])
def test_mint_rejects_bad_ttl(issuer: DevIssuer, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issuer.mint(scope="s", consumer=DIGDIR, ttl=ttl)


async def test_verifier_accepts_dev_tokens_without_http(
    verifier: TokenVerifier, issuer: DevIssuer
) -> None:
    token = issuer.mint(
        scope="krr:global/kontaktinformasjon.read krr:global/digitalpost.read",
        consumer=DIGDIR,
        supplier=VENDOR,
    )
    principal = await verifier.verify(token)
    token_id = jwt.decode(token, issuer.public_key_set(), algorithms=["RS256"]).claims["jti"]
    assert principal == Principal(
        consumer=DIGDIR,
        scopes=frozenset({"krr:global/kontaktinformasjon.read", "krr:global/digitalpost.read"}),
        issuer=DEV_ISSUER,
        supplier=VENDOR,
        client_id="krr-dev-client",
        token_id=token_id,
        delegation_source="https://www.altinn.no",
    )


async def test_dev_tokens_refused_unless_dev_issuer_configured(
    issuer: DevIssuer, no_http: respx.MockRouter
) -> None:
    verifier = TokenVerifier({"https://test.maskinporten.no/": "https://test.maskinporten.no/jwk"})
    with pytest.raises(TokenError) as info:
        await verifier.verify(issuer.mint(scope="s", consumer=DIGDIR))
    assert info.value.reason == "unknown_issuer"
    await verifier.aclose()


async def test_token_from_another_dev_key_refused(verifier: TokenVerifier, tmp_path: Path) -> None:
    stranger = DevIssuer.load_or_create(tmp_path)
    with pytest.raises(TokenError) as info:
        await verifier.verify(stranger.mint(scope="s", consumer=DIGDIR))
    assert info.value.reason == "unknown_key"


async def test_extra_claims_can_break_tokens(verifier: TokenVerifier, issuer: DevIssuer) -> None:
    with pytest.raises(TokenError) as info:
        await verifier.verify(issuer.mint(scope="s", consumer=DIGDIR, extra_claims={"exp": None}))
    assert info.value.reason == "missing_claim"


def test_dev_issuer_cannot_double_as_jwks_issuer(issuer: DevIssuer) -> None:
    with pytest.raises(ValueError, match="both"):
        TokenVerifier({DEV_ISSUER: "https://krr.localhost/jwk"}, dev_issuer=issuer)
