"""Rate limits per caller (requests and persons per second), charged by the edge's guard after
the token and before any database work.

GCRA (a token bucket kept as one "theoretical arrival time" per key): in process by default, in
Redis when KRR_REDIS_URL is set so that every instance holds one shared limit. If Redis cannot be
reached the limiter fails open to the instance's own in-process limit: the token check still
guards the register, and an outage of a cache must not take a national register down with it.
A Redis that stops answering would make every request wait for its timeout first, so after
three failures in a row a circuit breaker (app.edge.breaker) stops calling it: the instance's
own limits serve alone for 30 s (doubling up to 5 minutes while Redis stays away), then one
request tries Redis again. /readyz and /metrics say which limits are in force.

A request over its caller's limit is held until it fits, rather than refused, when that is soon
(`Hold`: within KRR_RATE_WAIT, one second by default, and half of what is left of its deadline;
a bounded number of one caller's at once): a consumer sending one request after another, or a
little faster than its rate for a moment, is paced instead of failed. The charge and the place
it reserves are made in the one step that decides (for Redis, the same script), so two held
requests never take the same place, and a held request is charged nothing more.

A charge also says where each of the caller's buckets stands after it (`Charge.buckets`), read in
the same step (for Redis, the same script), so that the edge can tell the caller in the
RateLimit-Policy and RateLimit header fields (`limit_fields`, below).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis

from app import metrics
from app.config import Limits, Rate
from app.edge.breaker import Breaker
from app.edge.deadline import time_left
from app.errors import RateLimited
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


REQUESTS, PERSONS = "requests", "persons"  # the buckets' names, as the headers give them


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket of a caller after a charge (or after a refusal, which costs nothing)."""

    name: str  # REQUESTS or PERSONS
    rate: Rate
    backlog: float  # seconds until the bucket is full again (0: full)
    over: float  # seconds until this request's cost would have fitted; 0 when it did

    @property
    def tokens(self) -> float:
        """What the bucket holds now, in requests or persons (fractions included)."""
        return max(0.0, self.rate.burst - self.backlog * self.rate.per_second)


@dataclass(frozen=True, slots=True)
class Charge:
    """The answer to a charge: `wait` is 0 when allowed, else seconds until the request would
    have fitted (refused, nothing charged); `held` the seconds an allowed request is to wait
    before it is served (charged already); `buckets` the caller's buckets as they stand when it
    is served, or as they stand when refused (persons only where persons were charged).
    `crowded`: refused at once though its wait was short enough to be held, since as many of
    the caller's requests as may be were held already (their number)."""

    wait: float
    buckets: tuple[Bucket, ...]
    held: float = 0.0
    crowded: int = 0


class Limiter(Protocol):
    async def charge(self, subject: str, persons: int | None,
                     max_wait: float = 0.0) -> Charge:
        """Charge one request and `persons`, all or nothing; persons None: the caller or the
        route counts none (no persons' bucket), 0: none this time (its bucket is shown). Over
        the limit by at most `max_wait` seconds, it is charged all the same and `held` that
        long (its place reserved now); further over, refused."""
        ...

    async def aclose(self) -> None: ...

    def status(self) -> dict[str, str]:
        """Which limits are in force, for /readyz: `store` "memory" (this instance's own) or
        "redis" (shared); `redis_circuit` where Redis is configured."""
        ...


class MemoryLimiter:
    """GCRA in this process; `clock` is injectable (monotonic seconds) for the tests."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._tat: dict[str, float] = {}

    async def charge(self, subject: str, persons: int | None,
                     max_wait: float = 0.0) -> Charge:
        now = self.clock()
        planned = _planned(subject, persons, self.limits)
        wait, updates, overs = 0.0, [], []
        for key, _, cost, rate in planned:
            new_tat, over = _gcra(self._tat.get(key, now), now, min(cost, rate.burst), rate)
            wait = max(wait, over)
            updates.append((key, new_tat))
            overs.append(over)
        if wait > max_wait:  # refused: nothing is charged, the buckets stay as they were
            buckets = tuple(Bucket(name, rate, max(self._tat.get(key, now) - now, 0.0), over)
                            for (key, name, _, rate), over in zip(planned, overs, strict=True))
            return Charge(wait, buckets)
        self._tat.update(updates)  # charged now, for when it is served (`wait` from now)
        if len(self._tat) > 100_000:  # forget callers whose buckets are full again
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return Charge(0.0, tuple(Bucket(name, rate, max(tat - now - wait, 0.0), 0.0)
                                 for (_, name, _, rate), (_, tat)
                                 in zip(planned, updates, strict=True)), held=wait)

    async def aclose(self) -> None:
        return None

    def status(self) -> dict[str, str]:
        return {"store": "memory"}


def _planned(subject: str, persons: int | None, limits: Limits,
             prefix: str = "") -> list[tuple[str, str, int, Rate]]:
    """(key, bucket name, cost, rate) of each bucket a charge touches: an organisation's
    requests at `limits.requests`, a person's or an address's at `limits.for_individuals`."""
    requests = limits.requests if subject.startswith("org:") else limits.for_individuals
    planned = [(f"{prefix}{subject}:r", REQUESTS, 1, requests)]
    if persons is not None:
        planned.append((f"{prefix}{subject}:p", PERSONS, persons, limits.persons))
    return planned


EPSILON = 1e-6  # seconds: below this, "over the limit" is rounding, not a real excess


def _gcra(tat: float, now: float, cost: float, rate: Rate) -> tuple[float, float]:
    """(new theoretical arrival time, seconds over the limit or <= 0 when allowed)."""
    interval = 1 / rate.per_second
    new_tat = max(tat, now) + cost * interval
    over = new_tat - now - rate.burst * interval
    # A cost of exactly the burst lands on the boundary; float rounding must not refuse it.
    return new_tat, over if over > EPSILON else 0.0


# KEYS: one per limit; ARGV: interval, tolerance, cost per key, then the longest a request may
# be held. Redis's clock, so that the instances agree on time; all or nothing, so a refused
# request costs nothing, and a held one is charged here, its place reserved in the same atomic
# step that decided (two held requests never get the same place). Returns, as strings (Redis
# would truncate numbers to integers): the wait (refused) and the time held (allowed), then
# each key's backlog (seconds until it is full again: after the charge, from when the request
# is served, or, when refused, as it stands) and its excess; the same numbers as
# MemoryLimiter's, read in the same atomic step as the charge.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_wait = tonumber(ARGV[3 * #KEYS + 1])
local wait = 0
local olds, tats, overs = {}, {}, {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  olds[i] = tat
  tats[i] = tat + cost * interval
  overs[i] = tats[i] - now - tolerance
  if overs[i] <= 0.000001 then overs[i] = 0 end
  if overs[i] > wait then wait = overs[i] end
end
if wait > max_wait then
  local result = {tostring(wait), '0'}
  for i = 1, #KEYS do
    result[2 * i + 1] = tostring(olds[i] - now)
    result[2 * i + 2] = tostring(overs[i])
  end
  return result
end
local result = {'0', tostring(wait)}
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil((tats[i] - now) * 1000) + 1000)
  result[2 * i + 1] = tostring(tats[i] - now - wait)
  result[2 * i + 2] = '0'
end
return result
"""


class RedisLimiter:
    """The same GCRA in Redis (one atomic script), shared by every instance; on a Redis error
    it fails open to `fallback`, this instance's own limit, and after repeated errors stops
    asking Redis for a while (`breaker`). `timeout`: seconds Redis has to answer; `clock`
    (monotonic seconds) the breaker's, injectable for the tests."""

    def __init__(self, url: str, limits: Limits, prefix: str = "krr:rl:",
                 fallback: Limiter | None = None, timeout: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.prefix = prefix
        self.fallback = fallback or MemoryLimiter(limits)
        self.client = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.script = self.client.register_script(_GCRA_LUA)
        self.breaker = Breaker(clock=clock)

    async def charge(self, subject: str, persons: int | None,
                     max_wait: float = 0.0) -> Charge:
        if not self.breaker.allows():
            return await self.fallback.charge(subject, persons, max_wait)
        planned = _planned(subject, persons, self.limits, self.prefix)
        args: list[float] = []
        for _, _, cost, rate in planned:
            args += [1 / rate.per_second, rate.burst / rate.per_second, min(cost, rate.burst)]
        args.append(max_wait)
        try:
            result = await self.script(keys=[k for k, _, _, _ in planned], args=args)
        except Exception as exc:  # any Redis trouble: fail open to the local limit
            self._failed(exc)
            return await self.fallback.charge(subject, persons, max_wait)
        if self.breaker.succeeded():
            log.info("rate limiter: Redis answers again; limits are shared again")
        numbers = [float(x) for x in result]
        return Charge(numbers[0], tuple(
            Bucket(name, rate, max(numbers[2 * i + 2], 0.0), numbers[2 * i + 3])
            for i, (_, name, _, rate) in enumerate(planned)), held=numbers[1])

    def _failed(self, exc: Exception) -> None:
        metrics.redis_failed()
        # The exception type only: messages may carry the URL (with a password).
        change = self.breaker.failed()
        if change == "opened":
            log.warning("rate limiter: Redis unavailable (%s, %d failures in a row); using this "
                        "instance's own limits, Redis tried again in %g s", type(exc).__name__,
                        self.breaker.failures, self.breaker.wait)
        elif change == "reopened":
            log.info("rate limiter: Redis still unavailable (%s); tried again in %g s",
                     type(exc).__name__, self.breaker.wait)

    def status(self) -> dict[str, str]:
        return {"store": "memory" if self.breaker.is_open else "redis",
                "redis_circuit": self.breaker.state}

    async def aclose(self) -> None:
        await self.client.aclose()


def build_limiter(limits: Limits, redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url, limits) if redis_url else MemoryLimiter(limits)


# --- holding a request until it fits ---------------------------------------------------------

def held_per_caller(max_connections: int) -> int:
    """How many of one caller's requests a worker may hold at once: a tenth of its connections
    (KRR_MAX_CONNECTIONS, 100 of 1000 by default), so that one caller's flood holds at most that
    share of them, and of the bodies they hold."""
    return max(1, max_connections // 10)


class Hold:
    """Requests over their caller's limit held until they fit, when that is within `seconds`
    (KRR_RATE_WAIT; 0: never held) and within half of what is left of the request's deadline
    (app.edge.deadline: the other half is the work's), rather than refused. At most
    `per_caller` of one caller's requests are held at once in this process; beyond them a
    request is refused at once, so that a caller's flood holds a bounded share of the worker's
    connections and memory. A held request waits with nothing but its body: the charge comes
    before any database work (app.edge.guard), so it holds no connection. It was charged when it
    was held and is charged nothing more; a held request whose client goes away keeps the place
    it reserved spent. `sleep` is injectable for the tests."""

    def __init__(self, seconds: float, per_caller: int = 100,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.seconds = seconds
        self.per_caller = per_caller
        self.sleep = sleep
        self._held: dict[str, int] = {}  # subject -> its requests being charged or held

    def holding(self, subject: str) -> int:
        """How many of `subject`'s requests are held (or being charged to be) now."""
        return self._held.get(subject, 0)

    async def charge(self, limiter: Limiter, subject: str, persons: int | None) -> Charge:
        """`limiter`'s charge of one request, held here first when it says so."""
        max_wait = min(self.seconds, time_left() / 2)
        if max_wait <= 0:
            return await limiter.charge(subject, persons)
        held = self.holding(subject)
        if held >= self.per_caller:  # no place to wait: refused unless it fits now
            charge = await limiter.charge(subject, persons)
            if 0 < charge.wait <= max_wait:
                return Charge(charge.wait, charge.buckets, crowded=held)
            return charge
        # The place is taken before the charge is asked for (with Redis, across an await), so
        # that requests charged at the same time cannot hold more than `per_caller` together.
        self._held[subject] = held + 1
        try:
            charge = await limiter.charge(subject, persons, max_wait)
            if charge.held > 0:
                metrics.rate_held()
                await self.sleep(charge.held)
            return charge
        finally:
            left = self._held[subject] - 1
            if left:
                self._held[subject] = left
            else:
                del self._held[subject]



# --- what a caller is told: RateLimit-Policy and RateLimit -----------------------------------
#
# The syntax of draft-ietf-httpapi-ratelimit-headers-10 (27 September 2025; the form the item
# and its parameters have kept since draft-08): each field a Structured Fields List (RFC 9651)
# of Items, each a String naming a policy, with Integer parameters. Later revisions (-11, -12)
# were announced but their text could not be checked here.
#
#   RateLimit-Policy: "requests";q=200;w=4, "persons";q=40000;w=2
#   RateLimit: "requests";r=57;t=3, "persons";r=39000;t=1
#
# A token bucket (rate per second, burst) in that model: the quota q is the burst and the
# window w the seconds an empty bucket takes to fill (burst / rate, rounded up, so that q per w
# never promises more than the rate); r is what the bucket holds after this request (whole
# units, rounded down) and t the seconds until it is full again, or, when it holds less than one
# unit, until it holds one; for a bucket that refused the request, the seconds until the request
# would have fitted (the Retry-After, for the bucket that waits longest). The persons' policy
# counts person ids asked for, a unit the draft's `qu` registry lacks, so `qu` is left out
# rather than misused; the README says so.


def whole_seconds(wait: float) -> int:
    """A wait as the whole seconds Retry-After and `t` give: rounded up, at least 1."""
    return max(1, math.ceil(wait))


UNITS = {REQUESTS: "requests", PERSONS: "persons (ids asked for)"}


def refuse_if_spent(charge: Charge, subject: str) -> None:
    """RateLimited (429, Retry-After) when `charge` found the caller's budget spent, counted and
    logged here for every place that charges. Its message names the limit that refused (the
    bucket whose wait is the longest) and its numbers, for a client that shows only that."""
    if charge.wait <= 0:
        return
    metrics.rate_limited()
    kind = subject.split(":", 1)[0]
    # Organisation numbers are not personal data; a pid hash or an IP address is.
    log.info("rate limited: %s", subject if kind == "org" else kind)
    refused = max(charge.buckets, key=lambda b: b.over)
    retry_after = whole_seconds(charge.wait)
    message = (f"Rate limit exceeded for this caller's {UNITS[refused.name]}: at most "
               f"{refused.rate.per_second:g} a second, {refused.rate.burst:g} at once; retry "
               f"after {retry_after} s")
    if charge.crowded:
        message += (f" ({charge.crowded} of this caller's requests are already waiting for "
                    "their turn, the most that may)")
    raise RateLimited(retry_after, message, limit=refused.name,
                      perSecond=_number(refused.rate.per_second),
                      burst=_number(refused.rate.burst))


def _number(value: float) -> int | float:
    """A whole number as an integer (JSON `400`, not `400.0`)."""
    return int(value) if float(value).is_integer() else value


async def charge_client(limiter: Limiter, hold: Hold, client_ip: str | None) -> None:
    """One request of a caller known only by its address (the client KRR_TRUSTED_PROXIES
    vouch for, else the peer), charged to that address's budget, as an anonymous request is
    (held as any request is); RateLimited when it is spent."""
    subject, _ = subject_of(Anonym(), client_ip)
    refuse_if_spent(await hold.charge(limiter, subject, None), subject)


def _quota(rate: Rate) -> int:
    return max(1, math.floor(rate.burst + EPSILON))


def _window(rate: Rate) -> int:
    return max(1, math.ceil(rate.burst / rate.per_second - EPSILON))


def _remaining(bucket: Bucket) -> int:
    return max(0, math.floor(bucket.tokens + EPSILON))


def _reset(bucket: Bucket) -> int:
    if bucket.over > 0:
        return whole_seconds(bucket.over)
    if _remaining(bucket) >= 1:
        return max(0, math.ceil(bucket.backlog - EPSILON))
    until_one = bucket.backlog - (bucket.rate.burst - 1) / bucket.rate.per_second
    return max(0, math.ceil(until_one - EPSILON))


def limit_fields(charge: Charge) -> dict[str, str]:
    """The RateLimit-Policy and RateLimit fields for a charge's buckets."""
    return {
        "RateLimit-Policy": ", ".join(f'"{b.name}";q={_quota(b.rate)};w={_window(b.rate)}'
                                      for b in charge.buckets),
        "RateLimit": ", ".join(f'"{b.name}";r={_remaining(b)};t={_reset(b)}'
                               for b in charge.buckets),
    }
