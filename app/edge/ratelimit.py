"""Rate limits per consumer organisation (requests and persons per second), checked at the HTTP
edge after the token and before any database work.

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
from dataclasses import dataclass
from typing import Protocol

import orjson
from graphql import GraphQLError, parse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authz.principal import Anonym, Caller, Innbygger

log = logging.getLogger(__name__)

RATE_LIMITED = "RATE_LIMITED"
PERSON_ARGUMENT = "personidentifikatorer"


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` sustained, up to `burst` at once."""

    per_second: float
    burst: float


@dataclass(frozen=True, slots=True)
class Limits:
    requests: Rate
    persons: Rate


DEFAULT_LIMITS = Limits(requests=Rate(50, 200), persons=Rate(20_000, 40_000))


def parse_rate(name: str, raw: str | None, default: Rate) -> Rate:
    """`RATE[/s][,BURST]`, e.g. `50/s,200`; burst defaults to the rate. Errors name `name`."""
    if raw is None or not raw.strip():
        return default
    rate_part, _, burst_part = raw.strip().partition(",")
    rate_part = rate_part.strip().removesuffix("/s")
    try:
        rate = float(rate_part)
        burst = float(burst_part) if burst_part.strip() else rate
    except ValueError:
        rate = burst = 0.0
    if not (0 < rate < 1e9 and 1 <= burst < 1e9) or math.isnan(rate + burst):
        from app.config import ConfigError  # here: app.config imports this module

        raise ConfigError(
            f"{name} must be 'RATE/s' or 'RATE/s,BURST' with RATE > 0 and BURST >= 1 "
            f"(got {raw!r})"
        )
    return Rate(rate, burst)


def subject_of(principal: Caller, client_ip: str | None) -> tuple[str, bool]:
    """The key a caller is limited under, and whether persons are charged. Residents are keyed
    by a hash of their pid so that no personal id lands in Redis or a log."""
    if isinstance(principal, Innbygger):
        return "pid:" + hashlib.sha256(principal.pid.encode()).hexdigest()[:32], False
    if isinstance(principal, Anonym):
        return f"ip:{client_ip or 'unknown'}", False
    return f"org:{principal.consumer}", True


def persons_asked(body: bytes) -> int:
    """How many person ids a GraphQL request body asks for, counted as app.limits counts them.
    Unparsable requests count 0: GraphQL refuses them without looking anyone up."""
    from app.api.limits import count_person_ids  # here: app.limits imports the lookup, config us

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    items = payload if isinstance(payload, list) else [payload]
    total = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            continue
        try:
            document = parse(item["query"], no_location=True, max_tokens=50_000)
        except GraphQLError:
            continue
        variables = item.get("variables")
        total += count_person_ids(document.definitions, variables if isinstance(variables, dict)
                                  else {})
    return total


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
        import redis.asyncio as redis

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


async def over_limit(
    limiter: Limiter | None, request: Request, principal: Caller, persons: int
) -> Response | None:
    """The rate limit for one request, checked once the caller is known and before any work:
    None to go on, or the 429 to answer (counted in the app's metrics)."""
    if limiter is None:
        return None
    client_ip = request.client.host if request.client else None
    subject, counts_persons = subject_of(principal, client_ip)
    wait = await limiter.charge(subject, persons if counts_persons else 0)
    if wait <= 0:
        return None
    metrics = getattr(request.app.state, "metrics", None) if "app" in request.scope else None
    if metrics is not None:
        metrics.rate_limited.inc()
    return too_many(wait, subject)


def too_many(wait: float, subject: str) -> Response:
    """429 with a whole number of seconds to wait (at least 1); no work has been done."""
    retry_after = max(1, math.ceil(wait))
    kind = subject.split(":", 1)[0]
    # Organisation numbers are not personal data; a pid hash or an IP address is.
    log.info("rate limited: %s", subject if kind == "org" else kind)
    return JSONResponse(
        {"errors": [{
            "message": f"Rate limit exceeded; retry after {retry_after} s",
            "extensions": {"code": RATE_LIMITED, "retryAfter": retry_after},
        }]},
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )
