"""A local stand-in for Maskinporten and ID-porten so the API can be exercised without a
real token.

The key lives on disk under the var directory so tokens minted by one process (a CLI, a test
client) verify in another (the server). It is trusted only when the app is told to trust it.
"""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from authz import keyfiles
from authz.identifikatorer import is_valid_orgno, org_claim, problem

DEV_ISSUER = "https://krr.localhost/dev-issuer/"
KEY_FILE_NAME = "dev-issuer-key.json"
ALGORITHM = "RS256"
#: What a resident's dev token claims by default: the lowest level the verifier accepts.
DEFAULT_ACR = "idporten-loa-substantial"
#: A token's lifetime in seconds: Maskinporten's default by default, and at most a day (long
#: enough to work through the README's examples, short enough that a copied one goes stale).
DEFAULT_TTL = 120
MAX_TTL = 24 * 60 * 60


class DevIssuer:
    """Signs Maskinporten- and ID-porten-shaped tokens with a locally kept RSA key."""

    issuer: str

    def __init__(
        self,
        key: RSAKey,
        *,
        issuer: str = DEV_ISSUER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key.is_private:
            raise ValueError("The dev issuer needs a private RSA key to sign tokens.")
        key.ensure_kid()
        self._key = key
        self.issuer = issuer
        self._clock = clock

    @property
    def kid(self) -> str:
        """Key id put in every minted token's header."""
        assert self._key.kid is not None  # set by ensure_kid() in __init__
        return self._key.kid

    @classmethod
    def load_or_create(cls, var_dir: pathlib.Path) -> DevIssuer:
        """Reuse the key in ``var_dir`` so restarts keep issued tokens valid; else make one."""
        var_dir = pathlib.Path(var_dir)
        var_dir.mkdir(parents=True, exist_ok=True)
        path = var_dir / KEY_FILE_NAME
        if path.exists():
            return cls(_load_key(path))
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
        return cls(_store_key(path, key))

    def jwks(self) -> dict[str, Any]:
        """The public half as a JWKS document (what a real issuer serves at its jwks_uri)."""
        public = self._key.as_dict(private=False)
        public.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [public]}

    def public_key_set(self) -> KeySet:
        """Public keys only, so a verifier holding them can never sign."""
        # jwks() is a JWKS document; joserfc types the argument as its own TypedDict.
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]

    def mint(
        self,
        *,
        scope: str,
        consumer: str | None = None,
        supplier: str | None = None,
        pid: str | None = None,
        ttl: int = DEFAULT_TTL,
        client_id: str = "krr-dev-client",
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """Sign an organisation's token (with ``consumer``, shaped like Maskinporten's) or a
        resident's (``pid`` without ``consumer``, shaped like ID-porten's, at ``DEFAULT_ACR``).

        The verifier tells the two apart by the ``consumer`` claim, so a resident token never
        carries one. ``extra_claims`` are applied last so tests can craft broken tokens; a value
        of ``None`` removes that claim (e.g. ``{"exp": None}`` for a token without expiry).
        """
        if consumer is None:
            if pid is None:
                raise ValueError(
                    "Give a consumer (organisation number, for an organisation's token) or a "
                    "pid (personal id, for a resident's token)."
                )
            if supplier is not None:
                raise ValueError("A supplier acts for a consumer; a resident's token has neither.")
            _require_pid(pid)
        else:
            _require_orgno("consumer", consumer)
        if supplier is not None:
            _require_orgno("supplier", supplier)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be from 1 to {MAX_TTL} seconds, got {ttl!r}.")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "scope": scope,
            "client_id": client_id,
            "client_amr": "private_key_jwt",
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
        }
        if consumer is not None:
            claims["consumer"] = org_claim(consumer)
        else:
            claims["acr"] = DEFAULT_ACR
        if supplier is not None:
            claims["supplier"] = org_claim(supplier)
            claims["delegation_source"] = "https://www.altinn.no"
        if pid is not None:
            claims["pid"] = pid
        for name, value in (extra_claims or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"alg": ALGORITHM, "kid": self.kid}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])


    def sign(self, claims: dict[str, Any]) -> str:
        """`claims` signed as they are: the development OpenID provider's ID tokens (their own
        `iss`, so the API's verifier, which trusts this key only under DEV_ISSUER, refuses them
        as API tokens)."""
        header = {"alg": ALGORITHM, "kid": self.kid}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])


def _require_orgno(field: str, value: object) -> None:
    if not is_valid_orgno(value):
        raise ValueError(
            f"{field} must be a valid 9-digit Norwegian organisation number "
            f"(digits only, correct mod-11 check digit), got {value!r}."
        )


def _require_pid(value: object) -> None:
    why = problem(value) if isinstance(value, str) else "must be a string"
    if why is not None:
        raise ValueError(
            f"pid must be a valid personal id (fødselsnummer, D-number or synthetic), got "
            f"{value!r}: {why}."
        )


def _load_key(path: pathlib.Path) -> RSAKey:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = RSAKey.import_key(data)
    except (OSError, ValueError, TypeError, KeyError, JoseError) as exc:
        raise ValueError(
            f"The dev issuer key file {path} is unreadable or not an RSA JWK; "
            "delete it to have a new key generated."
        ) from exc
    if not key.is_private:
        raise ValueError(f"The dev issuer key file {path} holds no private key; delete it.")
    return key


def _store_key(path: pathlib.Path, key: RSAKey) -> RSAKey:
    """Written once (authz.keyfiles): if another process won the race, its key is kept and
    returned instead of ours, so all processes sharing the directory agree on one key."""
    if keyfiles.write_once(path, json.dumps(key.as_dict(private=True))):
        return key
    return _load_key(path)
