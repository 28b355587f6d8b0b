"""Signing with this process's key, and publishing the keys answers are checked with.

A key is recorded in the database before the first answer it signs leaves (and at startup), so
a signature never exists whose key could be missing from the published set; the set is every
recorded key, so after a rotation old answers still verify, and every instance publishes the
same keys.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.foresporsel import Foresporsel
from app.signing import jws, store
from app.signing.keys import SigningKey

JWKS_TTL = 60.0  # seconds an instance serves the recorded keys before reading them again


class Signer:
    """Turns a JSON answer into a signed one with `key`."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self._recorded = False

    async def publish(self, now: dt.datetime) -> None:
        """Records the key once per process (idempotent across processes)."""
        if not self._recorded:
            await store.record(self.key, now)
            self._recorded = True

    async def sign(self, answer: bytes, foresporsel: Foresporsel, jti: str,
                   request: Mapping[str, str | None], *, claims_in_header: bool = False) -> str:
        """`answer` signed as the answer to `request` (app.signing.jws), named `jti`; with
        `claims_in_header` the payload is `answer` alone and the claims are in the header."""
        await self.publish(foresporsel.now)
        claims = jws.claims(foresporsel.kaller, foresporsel.now, jti, foresporsel.revisjoner,
                            request)
        if claims_in_header:
            return jws.compact(self.key, answer, claims)
        return jws.compact(self.key, jws.payload(answer, claims))


class PublishedKeys:
    """The JWKS document: every recorded key and this process's own (listed even before it is
    recorded), the database read at most once per `ttl` seconds."""

    def __init__(self, current: SigningKey | None, ttl: float = JWKS_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.current = current
        self.ttl = ttl
        self.clock = clock
        self._keys: list[dict[str, Any]] | None = None
        self._read_at = 0.0

    async def document(self) -> dict[str, list[dict[str, Any]]]:
        now = self.clock()
        if self._keys is None or now - self._read_at >= self.ttl:
            self._keys = await store.recorded()
            self._read_at = now
        keys = list(self._keys)
        if self.current is not None and all(k.get("kid") != self.current.kid for k in keys):
            keys.append(self.current.public)
        return {"keys": keys}
