"""The key the register signs its answers with (RS256), and its certificate chain.

In prod both are the operator's: `KRR_SIGNING_KEY` names a PEM file holding an RSA private key
of at least 2048 bits, `KRR_SIGNING_CERT` a PEM file with the key's certificate chain, leaf
first (app.signing.chain), both read and checked at startup (anything else, a chain whose leaf
is not of the key included, is a ConfigError naming the variable). Without them prod still
serves JSON, and a request for a signed answer is refused. In dev and test, when
KRR_SIGNING_KEY is unset, a key is generated under the var directory on first use (written
once, owner-only, the first of several starting processes winning, as the dev issuer's key
is), with a self-signed certificate beside it, and `krr rotate-signing-key` replaces both.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from app.config import ConfigError, Settings
from app.signing import chain
from app.signing.chain import Chain, UnusableChain
from authz import keyfiles

ALGORITHM = "RS256"
MIN_BITS = 2048
VARIABLE = "KRR_SIGNING_KEY"
CERT_VARIABLE = "KRR_SIGNING_CERT"
KEY_FILE_NAME = "signing-key.pem"


class UnusableKey(ValueError):
    """The PEM holds no RSA private key of at least MIN_BITS bits; the message says why."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key and what is published of it: `kid` (its RFC 7638 thumbprint, so the same
    key has the same id on every instance), its certificate chain (`x5c`, leaf first, base64
    DER) and the public JWK, which carries the chain too."""

    private: RSAKey
    kid: str
    chain: Chain
    public: dict[str, Any]

    @classmethod
    def of(cls, key: rsa.RSAPrivateKey, certificates: Chain) -> SigningKey:
        private = RSAKey.import_key(key)
        kid = private.thumbprint()
        numbers = private.as_dict(private=False)
        public = {"kty": "RSA", "n": str(numbers["n"]), "e": str(numbers["e"]), "kid": kid,
                  "use": "sig", "alg": ALGORITHM, "x5c": list(certificates)}
        return cls(private, kid, certificates, public)


def rsa_key(data: bytes) -> rsa.RSAPrivateKey:
    """The key in a PEM file's bytes, or UnusableKey saying what is wrong (never the key)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # encrypted: no password is asked for at startup
        raise UnusableKey("holds an encrypted private key; give it unencrypted") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnusableKey("is not a PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey")
        raise UnusableKey(f"holds a key of another kind ({kind}); signed answers ({ALGORITHM}) "
                          "need an RSA key")
    if key.key_size < MIN_BITS:
        raise UnusableKey(f"holds a {key.key_size}-bit RSA key; at least {MIN_BITS} bits")
    return key


def _read_file(variable: str, path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else (
            f"cannot be read ({exc.strerror or type(exc).__name__})")
        raise ConfigError(f"{variable} names {str(path)!r}, which {why}") from exc


def configured(path: pathlib.Path) -> rsa.RSAPrivateKey:
    """The operator's key from KRR_SIGNING_KEY, or a ConfigError naming the variable."""
    data = _read_file(VARIABLE, path)
    try:
        return rsa_key(data)
    except UnusableKey as exc:
        raise ConfigError(f"{VARIABLE} names {str(path)!r}, which {exc}") from exc


def configured_chain(path: pathlib.Path, key: rsa.RSAPrivateKey) -> Chain:
    """The operator's chain from KRR_SIGNING_CERT for KRR_SIGNING_KEY's key, or a ConfigError
    naming the variable."""
    data = _read_file(CERT_VARIABLE, path)
    try:
        return chain.from_pem(data, key)
    except UnusableChain as exc:
        raise ConfigError(f"{CERT_VARIABLE} names {str(path)!r}, which {exc} (the signing key "
                          f"is {VARIABLE}'s)") from exc


def generated() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=MIN_BITS)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _read(path: pathlib.Path) -> rsa.RSAPrivateKey:
    try:
        return rsa_key(path.read_bytes())
    except (OSError, UnusableKey) as exc:
        raise ConfigError(
            f"The signing key file {path} is unusable ({exc}); delete it or run "
            "`krr rotate-signing-key` to have a new one generated"
        ) from exc


def load_or_create(var_dir: pathlib.Path) -> SigningKey:
    """The dev/test key under `var_dir` with its certificate, generated the first time;
    processes starting at once all end up with the one key that was written first."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / KEY_FILE_NAME
    key: rsa.RSAPrivateKey | None = None
    if not path.exists():
        fresh = generated()
        if keyfiles.write_once(path, _pem(fresh)):
            key = fresh
    if key is None:
        key = _read(path)
    return SigningKey.of(key, chain.load_or_create(var_dir, key))


def rotate(var_dir: pathlib.Path) -> SigningKey:
    """A new dev/test key, and a certificate of it, in place of the old ones. Running servers
    sign with the old one until they restart; both stay published (app.signing.store)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    key = generated()
    keyfiles.replace(var_dir / KEY_FILE_NAME, _pem(key))
    return SigningKey.of(key, chain.renew(var_dir, key))


def signing_key_for(settings: Settings) -> SigningKey | None:
    """The key this process signs with: KRR_SIGNING_KEY's when set, with KRR_SIGNING_CERT's
    chain (required in prod; outside prod a self-signed certificate is made when it is unset);
    else generated under the var directory outside prod; else none (prod serves JSON only)."""
    if settings.signing_key is None:
        if settings.signing_cert is not None:
            raise ConfigError(f"{CERT_VARIABLE} is set but {VARIABLE} is not: the chain is the "
                              f"certificate of the operator's key; set {VARIABLE} too")
        return None if settings.is_prod else load_or_create(settings.var_dir)
    key = configured(settings.signing_key)
    if settings.signing_cert is not None:
        return SigningKey.of(key, configured_chain(settings.signing_cert, key))
    if settings.is_prod:
        raise ConfigError(
            f"{VARIABLE} is set but {CERT_VARIABLE} is not: in prod a signed answer carries its "
            f"key's certificate chain (x5c); set {CERT_VARIABLE} to a PEM file with the key's "
            "certificate first, then each issuer"
        )
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SigningKey.of(key, chain.load_or_create(settings.var_dir, key))
