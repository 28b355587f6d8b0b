"""Rate limits per caller (requests and persons per second), charged by the edge's guard after
the token and before any database work.

GCRA (a token bucket kept as one "theoretical arrival time" per key): in process by default, in
Redis when KRR_REDIS_URL is set so that every instance holds one shared limit. If Redis cannot be
reached the limiter fails open to the instance's own in-process limit: the token check still
guards the register, and an outage of a cache must not take a national register down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis

from app.config import Limits, Rate
from authz.principal import Anonym, Caller, Innbygger, Tilgangsstyrer

log = logging.getLogger(__name__)


def subject_of(principal: Caller, client_ip: str | None) -> tuple[str, bool]:
    """The key a caller is limited under, and whether persons are charged. An organisation and
    each vendor acting for it have budgets of their own: a vendor's requests, refused or served,
    never spend the organisation's (it could not revoke the vendor otherwise) or another
    vendor's. Residents are keyed by a hash of their pid so that no personal id lands in Redis
    or a log."""
    if isinstance(principal, Innbygger | Tilgangsstyrer):  # one budget per person
        return "pid:" + hashlib.sha256(principal.pid.encode()).hexdigest()[:32], False
    if isinstance(principal, Anonym):
        return f"ip:{client_ip or 'unknown'}", False
    return f"org:{principal.consumer}:{principal.supplier or 'egen'}", True


class Limiter(Protocol):
    async def charge(self, subject: str, persons: int) -> float:
        """Charge one request (and `persons`); 0 when allowed, else seconds to wait."""
        ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    """GCRA in this process; `clock` is injectable (monotonic seconds) for the tests."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._tat: dict[str, float] = {}

    async def charge(self, subject: str, persons: int) -> float:
        now = self.clock()
        planned = [(f"{subject}:r", 1, self.limits.requests)]
        if persons:
            planned.append((f"{subject}:p", persons, self.limits.persons))
        wait, updates = 0.0, []
        for key, cost, rate in planned:
            new_tat, over = _gcra(self._tat.get(key, now), now, min(cost, rate.burst), rate)
            wait = max(wait, over)
            updates.append((key, new_tat))
        if wait > 0:
            return wait
        self._tat.update(updates)
        if len(self._tat) > 100_000:  # forget callers whose buckets are full again
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return 0.0

    async def aclose(self) -> None:
        return None


EPSILON = 1e-6  # seconds: below this, "over the limit" is rounding, not a real excess


def _gcra(tat: float, now: float, cost: float, rate: Rate) -> tuple[float, float]:
    """(new theoretical arrival time, seconds over the limit or <= 0 when allowed)."""
    interval = 1 / rate.per_second
    new_tat = max(tat, now) + cost * interval
    over = new_tat - now - rate.burst * interval
    # A cost of exactly the burst lands on the boundary; float rounding must not refuse it.
    return new_tat, over if over > EPSILON else 0.0


# KEYS: one per limit; ARGV: interval, tolerance, cost per key. Redis's clock, so that the
# instances agree on time; all or nothing, so a refused request costs nothing.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat + cost * interval
  local over = tats[i] - now - tolerance
  if over > wait then wait = over end
end
if wait > 0.000001 then return tostring(wait) end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil((tats[i] - now) * 1000) + 1000)
end
return '0'
"""


class RedisLimiter:
    """The same GCRA in Redis (one atomic script), shared by every instance; on a Redis error
    it fails open to `fallback`, this instance's own limit, and says so in the log."""

    def __init__(self, url: str, limits: Limits, prefix: str = "krr:rl:",
                 fallback: Limiter | None = None) -> None:
        self.limits = limits
        self.prefix = prefix
        self.fallback = fallback or MemoryLimiter(limits)
        self.client = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.script = self.client.register_script(_GCRA_LUA)
        self._last_warning = -math.inf

    async def charge(self, subject: str, persons: int) -> float:
        planned = [(f"{self.prefix}{subject}:r", 1, self.limits.requests)]
        if persons:
            planned.append((f"{self.prefix}{subject}:p", persons, self.limits.persons))
        args: list[float] = []
        for _, cost, rate in planned:
            args += [1 / rate.per_second, rate.burst / rate.per_second, min(cost, rate.burst)]
        try:
            result = await self.script(keys=[k for k, _, _ in planned], args=args)
        except Exception as exc:  # any Redis trouble: fail open to the local limit
            if time.monotonic() - self._last_warning > 60:
                self._last_warning = time.monotonic()
                # The exception type only: messages may carry the URL (with a password).
                log.warning("rate limiter: Redis unavailable (%s); using this instance's "
                            "own limits", type(exc).__name__)
            return await self.fallback.charge(subject, persons)
        return float(result)

    async def aclose(self) -> None:
        await self.client.aclose()


def build_limiter(limits: Limits, redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url, limits) if redis_url else MemoryLimiter(limits)


