"""Verification of Maskinporten and ID-porten access tokens (and the dev issuer's look-alikes).

Everything an attacker controls (header, claims, the JWKS host's answers) is checked here
before any of it reaches access control, and every refusal carries a short machine reason
plus an English sentence that is safe to show a client: it never repeats the token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    InvalidKeyTypeError,
    JoseError,
    UnsupportedKeyAlgorithmError,
    UnsupportedKeyUseError,
)
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from authz.dev_issuer import DevIssuer
from authz.identifikatorer import CONSUMER_AUTHORITY, ORGNO_PREFIX, is_valid_orgno, problem
from authz.principal import Caller, Innbygger, Principal

__all__ = [
    "ACCEPTED_ACR",
    "ALLOWED_ALGORITHMS",
    "ISSUER_KINDS",
    "IssuerKind",
    "JwksCache",
    "TokenError",
    "TokenVerifier",
    "TrustedIssuer",
]

log = logging.getLogger(__name__)

#: Maskinporten signs with RSA only; anything else (none, HS*, ES*) is refused up front so a
#: public key can never be abused as an HMAC secret and unsigned tokens never get near a key.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512")
#: Real tokens are ~1 KiB; the bound keeps base64/JSON/RSA work per request small.
MAX_TOKEN_LENGTH = 16 * 1024
#: A JWKS is a few KiB; refuse to buffer a hostile or broken endpoint's endless answer.
MAX_JWKS_BYTES = 256 * 1024
#: Smaller RSA keys are breakable; a JWKS offering one is not trusted for that key.
MIN_RSA_BITS = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: Who an issuer vouches for: organisations (Maskinporten) or logged-in residents (ID-porten).
IssuerKind = Literal["maskinporten", "idporten"]
ISSUER_KINDS: tuple[IssuerKind, ...] = get_args(IssuerKind)
#: A resident's data is only shown after a login at least this strong (eIDAS substantial/high);
#: MinID's low level would let anyone who knows an id and a password see the entry.
ACCEPTED_ACR = frozenset({"idporten-loa-substantial", "idporten-loa-high"})


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer's keys and kind; the kind decides which claims make a valid caller."""

    jwks: str
    kind: IssuerKind = "maskinporten"

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_ORG_CLAIM_KEYS = frozenset({"authority", "ID"})


def _show(value: object, limit: int = 80) -> str:
    """Quote attacker-supplied values in messages, cut short so errors stay small, and in
    ASCII (non-ASCII escaped), so the text is safe in a header as well as in a body."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TokenError(Exception):
    """A token was refused. ``reason`` is for code and metrics, ``message`` for people."""

    reason: str
    message: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"TokenError({self.reason!r}, {self.message!r})"


class NoToken(TokenError):
    """No bearer token was presented: no Authorization header, or one of another scheme or
    without a token. Nothing was wrong with a token, so the challenge names no error (RFC 6750
    3.1); ``reason`` still says which (``missing``, ``malformed``)."""


class _JwksProblem(Exception):
    """Internal: the JWKS endpoint could not give us usable keys this time."""


class JwksCache:
    """The signing keys of one issuer, fetched lazily and refreshed sparingly.

    A kid we have not seen triggers a refetch (that is how key rotation is picked up), but at
    most one refetch per ``refetch_interval`` so that tokens with made-up kids cannot turn us
    into a request amplifier against the issuer. Keys older than ``max_age`` are refreshed on
    use so keys the issuer withdraws stop being trusted. A failed fetch never discards keys we
    already have: an issuer outage must not lock out callers whose tokens are still good.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        refetch_interval: float = 60.0,
        max_age: float = 3600.0,
        timeout: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self._http = http
        self._owns_http = http is None
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._timeout = timeout
        self._keys: dict[str, RSAKey] = {}
        self._loaded_at: float | None = None
        self._first_fetch_done = False
        self._last_refetch: float | None = None
        self._last_problem: str | None = None
        self._lock = asyncio.Lock()
        #: Number of HTTP fetches attempted, for health checks and tests.
        self.fetch_count = 0

    @property
    def kids(self) -> frozenset[str]:
        """Key ids currently trusted for this issuer."""
        return frozenset(self._keys)

    async def get_key(self, kid: str) -> RSAKey:
        """The issuer's public key for ``kid``; raises ``unknown_key`` or ``jwks_unavailable``."""
        key = self._keys.get(kid)
        if key is not None and (not self._is_stale() or self._lock.locked()):
            return key  # a refresh in progress must not stall requests we can already serve
        async with self._lock:
            # Whoever held the lock may just have fetched what we need.
            key = self._keys.get(kid)
            if (key is None or self._is_stale()) and self._may_fetch():
                await self._fetch()
                key = self._keys.get(kid)
        if key is not None:
            return key
        if self._last_problem is not None:  # the detail went to the log, not to the caller
            raise TokenError(
                "jwks_unavailable",
                f"The signing keys of issuer {self.issuer} could not be fetched just now and "
                f"key id {_show(kid)} is not among the cached keys; try again later.",
            )
        raise TokenError(
            "unknown_key",
            f"Issuer {self.issuer} has no signing key with key id {_show(kid)}.",
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def _is_stale(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at >= self._max_age

    def _may_fetch(self) -> bool:
        if not self._first_fetch_done:
            return True
        return (
            self._last_refetch is None
            or self._clock() - self._last_refetch >= self._refetch_interval
        )

    async def _fetch(self) -> None:
        now = self._clock()
        if self._first_fetch_done:
            self._last_refetch = now
        self._first_fetch_done = True
        self.fetch_count += 1
        try:
            keys = await self._download()
        except _JwksProblem as problem:
            self._last_problem = str(problem)
            log.warning(
                "JWKS fetch for issuer %s from %s failed: %s; keeping %d cached key(s)",
                self.issuer,
                self.jwks_url,
                problem,
                len(self._keys),
            )
            return
        self._keys = keys
        self._loaded_at = now
        self._last_problem = None
        log.info("Loaded %d signing key(s) for issuer %s", len(keys), self.issuer)

    async def _download(self) -> dict[str, RSAKey]:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        body = bytearray()
        try:
            async with self._http.stream(
                "GET", self.jwks_url, headers={"Accept": "application/json"}
            ) as response:
                if response.status_code != 200:
                    raise _JwksProblem(f"HTTP status {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise _JwksProblem(f"response larger than {MAX_JWKS_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise _JwksProblem(f"{type(exc).__name__}: {exc}") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise _JwksProblem("response is not JSON") from exc
        return _parse_jwks(document)


def _parse_jwks(document: object) -> dict[str, RSAKey]:
    """Keep only keys we could legitimately verify with; ignore the rest (RFC 7517 §5)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _JwksProblem("response is not a JWK set")
    keys: dict[str, RSAKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") not in ALLOWED_ALGORITHMS:
            continue
        if _modulus_bits(entry.get("n")) < MIN_RSA_BITS:
            continue  # checked before import, which would only warn
        public = {name: value for name, value in entry.items() if name not in _RSA_PRIVATE}
        try:
            keys[kid] = RSAKey.import_key(public)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
    if not keys:
        raise _JwksProblem("no usable RSA signing keys in the JWK set")
    return keys


_RSA_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def _modulus_bits(n: object) -> int:
    if not isinstance(n, str) or len(n) > 2048 or _B64URL_RE.fullmatch(n) is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _check_jwks_url(issuer: str, url: str, require_https: bool) -> None:
    """Keys fetched over plain HTTP could be swapped in transit; only loopback is exempt."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"JWKS URL for issuer {issuer} is not a valid URL: {url!r}") from exc
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise ValueError(f"JWKS URL for issuer {issuer} must be an http(s) URL: {url!r}")
    if require_https and parsed.scheme != "https" and parsed.host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"JWKS URL for issuer {issuer} must use https (plain http is only allowed for "
            f"loopback hosts): {url!r}"
        )


class TokenVerifier:
    """Turns a bearer token into a ``Principal``, an ``Innbygger`` or a ``TokenError``.

    ``trusted_issuers`` maps each issuer URL (compared exactly, as the issuer spells it, with
    or without trailing slash) to a ``TrustedIssuer``, or to a bare JWKS URL meaning a
    Maskinporten-kind issuer. The kind is configuration, never read from the token, so a
    resident's token can never pass as an organisation's or the other way round. The dev issuer
    has no kind: it stands in for both, telling them apart by the ``consumer`` claim.
    """

    def __init__(
        self,
        trusted_issuers: Mapping[str, str | TrustedIssuer],
        *,
        dev_issuer: DevIssuer | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        leeway: int = 30,
        refetch_interval: float = 60.0,
        require_https: bool = False,
        audiences: Iterable[str] = (),
    ) -> None:
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        issuers = {
            issuer: entry if isinstance(entry, TrustedIssuer) else TrustedIssuer(entry)
            for issuer, entry in trusted_issuers.items()
        }
        for issuer, entry in issuers.items():
            if entry.kind not in ISSUER_KINDS:
                kinds = ", ".join(ISSUER_KINDS)
                raise ValueError(f"Issuer {issuer} has kind {entry.kind!r}; use one of {kinds}.")
            _check_jwks_url(issuer, entry.jwks, require_https)
        if dev_issuer is not None and dev_issuer.issuer in trusted_issuers:
            raise ValueError(
                f"Issuer {dev_issuer.issuer} is configured both as the dev issuer and with a JWKS "
                "URL; pick one."
            )
        self._clock = clock
        self._leeway = leeway
        self._audiences = frozenset(audiences)
        self._kinds: dict[str, IssuerKind] = {issuer: e.kind for issuer, e in issuers.items()}
        self._caches: dict[str, JwksCache] = {
            issuer: JwksCache(
                issuer, entry.jwks, http=http, clock=clock, refetch_interval=refetch_interval
            )
            for issuer, entry in issuers.items()
        }
        self._dev_issuer = dev_issuer.issuer if dev_issuer is not None else None
        self._dev_keys: dict[str, RSAKey] = {}
        if dev_issuer is not None:
            for key in dev_issuer.public_key_set():
                if isinstance(key, RSAKey) and key.kid:
                    self._dev_keys[key.kid] = key

    @property
    def issuers(self) -> frozenset[str]:
        """Every issuer whose tokens are accepted, dev issuer included."""
        names = set(self._caches)
        if self._dev_issuer is not None:
            names.add(self._dev_issuer)
        return frozenset(names)

    @property
    def kinds(self) -> Mapping[str, IssuerKind]:
        """The kind of each configured issuer (the dev issuer, having none, is not listed)."""
        return dict(self._kinds)

    @property
    def caches(self) -> Mapping[str, JwksCache]:
        """Per-issuer key caches (read-only view), e.g. for a readiness check."""
        return dict(self._caches)

    async def aclose(self) -> None:
        """Release HTTP clients the verifier created itself."""
        for cache in self._caches.values():
            await cache.aclose()

    async def verify(self, token: str) -> Caller:
        """Check signature, issuer, lifetime and the caller's claims; return who is calling."""
        if not isinstance(token, str) or not token.strip():
            raise TokenError("missing", "No access token was given.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError(
                "malformed", f"The access token is longer than {MAX_TOKEN_LENGTH} characters."
            )
        if not token.isascii():
            raise TokenError("malformed", "The access token contains non-ASCII characters.")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError(
                "malformed",
                "The access token is not a signed JWT (expected three dot-separated parts).",
            )
        # Unverified at this point: used only to pick the algorithm check and the key.
        header = _decode_segment(parts[0], "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise TokenError(
                "unsupported_algorithm",
                f"The token's signing algorithm {_show(alg)} is not accepted; "
                f"use one of {', '.join(ALLOWED_ALGORITHMS)}.",
            )
        unverified = _decode_segment(parts[1], "payload")
        issuer = unverified.get("iss")
        if issuer is None:
            raise TokenError("missing_claim", "The token has no iss (issuer) claim.")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            raise TokenError("unknown_issuer", f"The token issuer {_show(issuer)} is not trusted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("unknown_key", "The token header has no kid (key id).")
        key = await self._key_for(issuer, kid)
        claims = self._check_signature(token, key, alg, kid)
        if claims.get("iss") != issuer:  # cannot differ for the same bytes; belt and braces
            raise TokenError("bad_signature", "The token's issuer changed during verification.")
        self._check_lifetime(claims)
        self._check_audience(claims)
        if self._kind_of(issuer, claims) == "idporten":
            return _innbygger(issuer, claims)
        return _principal(issuer, claims)

    def _check_audience(self, claims: dict[str, Any]) -> None:
        """A token that names an audience must name this service (one of `audiences`): a token
        minted for another API is not ours to honour. Maskinporten leaves `aud` out unless the
        client asks for one, so a token without it stays accepted."""
        if "aud" not in claims:
            return
        aud = claims["aud"]
        named = [aud] if isinstance(aud, str) else aud
        if not isinstance(named, list) or not named or not all(isinstance(a, str) for a in named):
            raise TokenError("invalid_audience", "The token's aud claim is not a string or a "
                             "list of strings.")
        if not self._audiences & set(named):
            shown = ", ".join(_show(a) for a in named[:3])
            raise TokenError(
                "invalid_audience",
                f"The token is for {shown}, not for this service"
                + ("" if self._audiences else " (no audience is configured: KRR_AUDIENCE)")
                + ".",
            )

    def _kind_of(self, issuer: str, claims: dict[str, Any]) -> IssuerKind:
        """Configured kind; dev tokens read as ID-porten only with a pid and no consumer."""
        if issuer == self._dev_issuer:
            return "idporten" if "consumer" not in claims and "pid" in claims else "maskinporten"
        return self._kinds[issuer]

    async def _key_for(self, issuer: str, kid: str) -> RSAKey:
        if issuer == self._dev_issuer:
            key = self._dev_keys.get(kid)
            if key is None:
                raise TokenError(
                    "unknown_key", f"The dev issuer has no signing key with key id {_show(kid)}."
                )
            return key
        return await self._caches[issuer].get_key(kid)

    @staticmethod
    def _check_signature(token: str, key: RSAKey, alg: str, kid: str) -> dict[str, Any]:
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        try:
            return jwt.decode(token, key, algorithms=[alg], registry=registry).claims
        except BadSignatureError:
            raise TokenError(
                "bad_signature", "The token signature does not match the issuer's key."
            ) from None
        except (UnsupportedKeyUseError, UnsupportedKeyAlgorithmError, InvalidKeyTypeError):
            raise TokenError(
                "bad_signature",
                f"The issuer's key {_show(kid)} may not be used to verify {alg} signatures.",
            ) from None
        except JoseError as exc:
            raise TokenError(
                "malformed", f"The access token could not be decoded ({exc.error})."
            ) from None

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        exp = _numeric_claim(claims, "exp", required=True)
        iat = _numeric_claim(claims, "iat", required=True)
        nbf = _numeric_claim(claims, "nbf", required=False)
        now = self._clock()
        assert exp is not None and iat is not None
        if exp <= now - self._leeway:
            raise TokenError("expired", "The access token has expired.")
        if iat > now + self._leeway:
            raise TokenError("not_yet_valid", "The access token is issued in the future (iat).")
        if nbf is not None and nbf > now + self._leeway:
            raise TokenError("not_yet_valid", "The access token is not valid yet (nbf).")


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    if not segment or _B64URL_RE.fullmatch(segment) is None:
        raise TokenError("malformed", f"The token {what} is not base64url encoded.")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    # UnicodeDecodeError is a ValueError; thousands of nested brackets exhaust the parser's
    # recursion before anything is authenticated.
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise TokenError("malformed", f"The token {what} is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise TokenError("malformed", f"The token {what} is not a JSON object.")
    return value


def _numeric_claim(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise TokenError("missing_claim", f"The token has no {name} claim.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenError("malformed", f"The token's {name} claim is not a finite number.")
    return float(value)


def _optional_str(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise TokenError("malformed", f"The token's {name} claim is not a string.")


def _org_claim(claims: dict[str, Any], name: str, reason: str) -> str | None:
    """Read a consumer/supplier claim; the shape is exact so one org has one identity."""
    value = claims.get(name)
    if value is None:
        return None
    what = (
        f"The token's {name} claim must be "
        f'{{"authority": "{CONSUMER_AUTHORITY}", "ID": "{ORGNO_PREFIX}<orgno>"}}'
    )
    if not isinstance(value, dict) or set(value) != _ORG_CLAIM_KEYS:
        raise TokenError(reason, f"{what}.")
    if value["authority"] != CONSUMER_AUTHORITY:
        raise TokenError(reason, f"{what}; the authority is {_show(value['authority'])}.")
    ident = value["ID"]
    if not isinstance(ident, str) or not ident.startswith(ORGNO_PREFIX):
        raise TokenError(reason, f"{what}; the ID is {_show(ident)}.")
    orgno = ident.removeprefix(ORGNO_PREFIX)
    if not is_valid_orgno(orgno):
        raise TokenError(
            reason, f"The token's {name} {_show(orgno)} is not a valid organisation number."
        )
    return orgno


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        return frozenset(part for part in scope.split(" ") if part)
    raise TokenError("malformed", "The token's scope claim is not a space-separated string.")


def _principal(issuer: str, claims: dict[str, Any]) -> Principal:
    consumer = _org_claim(claims, "consumer", "invalid_consumer")
    if consumer is None:
        raise TokenError("invalid_consumer", "The token has no consumer claim.")
    supplier = _org_claim(claims, "supplier", "invalid_supplier")
    return Principal(
        consumer=consumer,
        scopes=_scopes(claims),
        issuer=issuer,
        supplier=supplier,
        pid=_optional_str(claims, "pid"),
        client_id=_optional_str(claims, "client_id"),
        token_id=_optional_str(claims, "jti"),
        delegation_source=_optional_str(claims, "delegation_source"),
    )


#: Claims that make a token an organisation's; a resident's token carrying one is ambiguous.
_ORGANISATION_CLAIMS = ("consumer", "supplier")


def _innbygger(issuer: str, claims: dict[str, Any]) -> Innbygger:
    """A resident acting on their own entry: the pid is the only key to whose data it is."""
    for name in _ORGANISATION_CLAIMS:
        if name in claims:
            raise TokenError(
                "invalid_claims",
                f"An ID-porten token must not carry a {name} claim; organisations use "
                "Maskinporten.",
            )
    pid = claims.get("pid")
    if pid is None:
        raise TokenError("invalid_pid", "The token has no pid claim (the resident's personal id).")
    # The value is not repeated: a personal id does not belong in error messages or logs.
    why = problem(pid) if isinstance(pid, str) else "is not a string"
    if why is not None:
        raise TokenError("invalid_pid", f"The token's pid claim is not a valid personal id: {why}.")
    acr = claims.get("acr")
    if not isinstance(acr, str) or acr not in ACCEPTED_ACR:
        got = "has no acr claim" if acr is None else f"has acr {_show(acr)}"
        raise TokenError(
            "insufficient_acr",
            f"The token {got}; a resident must log in at level "
            f"{' or '.join(sorted(ACCEPTED_ACR, reverse=True))}.",
        )
    return Innbygger(
        pid=pid,
        scopes=_scopes(claims),
        issuer=issuer,
        acr=acr,
        client_id=_optional_str(claims, "client_id"),
        token_id=_optional_str(claims, "jti"),
    )
