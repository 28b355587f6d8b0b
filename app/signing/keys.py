"""The key the register signs its answers with (RS256).

In prod it is the operator's: `KRR_SIGNING_KEY` names a PEM file holding an RSA private key of
at least 2048 bits, read and checked at startup (anything else is a ConfigError naming the
variable). Without it prod still serves JSON, and a request for a signed answer is refused. In
dev and test, when the variable is unset, a key is generated under the var directory on first
use (written once, owner-only, the first of several starting processes winning, as the dev
issuer's key is), and `krr rotate-signing-key` replaces it.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from app.config import ConfigError, Settings
from authz import keyfiles

ALGORITHM = "RS256"
MIN_BITS = 2048
VARIABLE = "KRR_SIGNING_KEY"
KEY_FILE_NAME = "signing-key.pem"


class UnusableKey(ValueError):
    """The PEM holds no RSA private key of at least MIN_BITS bits; the message says why."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key and what is published of it: `kid` (its RFC 7638 thumbprint, so the same
    key has the same id on every instance) and the public JWK."""

    private: RSAKey
    kid: str
    public: dict[str, str]

    @classmethod
    def of(cls, key: rsa.RSAPrivateKey) -> SigningKey:
        private = RSAKey.import_key(key)
        kid = private.thumbprint()
        numbers = private.as_dict(private=False)
        public = {"kty": "RSA", "n": str(numbers["n"]), "e": str(numbers["e"]), "kid": kid,
                  "use": "sig", "alg": ALGORITHM}
        return cls(private, kid, public)


def from_pem(data: bytes) -> SigningKey:
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
    return SigningKey.of(key)


def configured(path: pathlib.Path) -> SigningKey:
    """The operator's key from KRR_SIGNING_KEY, or a ConfigError naming the variable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else (
            f"cannot be read ({exc.strerror or type(exc).__name__})")
        raise ConfigError(f"{VARIABLE} names {str(path)!r}, which {why}") from exc
    try:
        return from_pem(data)
    except UnusableKey as exc:
        raise ConfigError(f"{VARIABLE} names {str(path)!r}, which {exc}") from exc


def generated() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=MIN_BITS)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _read(path: pathlib.Path) -> SigningKey:
    try:
        return from_pem(path.read_bytes())
    except (OSError, UnusableKey) as exc:
        raise ConfigError(
            f"The signing key file {path} is unusable ({exc}); delete it or run "
            "`krr rotate-signing-key` to have a new one generated"
        ) from exc


def load_or_create(var_dir: pathlib.Path) -> SigningKey:
    """The dev/test key under `var_dir`, generated the first time; processes starting at once
    all end up with the one key that was written first."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / KEY_FILE_NAME
    if not path.exists():
        key = generated()
        if keyfiles.write_once(path, _pem(key)):
            return SigningKey.of(key)
    return _read(path)


def rotate(var_dir: pathlib.Path) -> SigningKey:
    """A new dev/test key in place of the old one. Running servers sign with the old one until
    they restart; both stay published (app.signing.store)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    key = generated()
    keyfiles.replace(var_dir / KEY_FILE_NAME, _pem(key))
    return SigningKey.of(key)


def signing_key_for(settings: Settings) -> SigningKey | None:
    """The key this process signs with: KRR_SIGNING_KEY's when set; else generated under the var
    directory outside prod; else none (prod serves JSON only)."""
    if settings.signing_key is not None:
        return configured(settings.signing_key)
    if settings.is_prod:
        return None
    return load_or_create(settings.var_dir)
