"""A Redis that stops answering cost every request its timeout before the rate limit failed
open (+0.5 s each): after three failures in a row the limiter stops calling it (a circuit
breaker), serves on the instance's own limits, says so once in the log, in /readyz and in
/metrics, and tries Redis again after a cool-down that doubles while it stays away."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as redis

from app.config import Limits, Rate
from app.edge.breaker import Breaker
from app.edge.ratelimit import RedisLimiter
from tests.factories import new_id
from tests.proxy import Proxy
from tests.test_ratelimit import READ, REDIS_URL, FakeClock, client_for, lookup_body

REDIS_PORT = 6379


@pytest.fixture
def redis_proxy() -> Iterator[Proxy]:
    """A TCP proxy in front of the real Redis, to black-hole it (accepts, never answers)."""
    proxy = Proxy(REDIS_PORT)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


class Counted:
    """The limiter's Redis script, counting the calls made to it."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.calls = 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        return await self.script(**kwargs)


def _metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_a_black_holed_redis_is_not_called_once_the_breaker_opens(
        db, mint, redis_proxy, caplog):
    prefix = f"krr:test:{uuid.uuid4().hex}:"
    clock = FakeClock()
    limiter = RedisLimiter(f"redis://127.0.0.1:{redis_proxy.port}/0",
                           Limits(Rate(1000, 1000), Rate(1000, 1000)), prefix=prefix,
                           timeout=0.2, clock=clock)
    script = limiter.script = Counted(limiter.script)  # type: ignore[assignment]
    token = {"Authorization": f"Bearer {mint(READ)}"}
    body = lookup_body([new_id(740)])
    caplog.set_level(logging.INFO, logger="app.edge.ratelimit")
    redis_proxy.black_hole()
    try:
        async with client_for(db, limiter=limiter) as client:
            for _ in range(3):  # each waits for Redis's timeout, then fails open
                assert (await client.post("/graphql", json=body, headers=token)).status_code == 200
            assert script.calls == 3
            for _ in range(5):  # the breaker is open: Redis is not asked
                assert (await client.post("/graphql", json=body, headers=token)).status_code == 200
            assert script.calls == 3

            ready = await client.get("/readyz")
            assert ready.status_code == 200  # ready: it serves, on its own limits
            assert ready.json()["rate_limit"] == {"store": "memory", "redis_circuit": "open"}
            scraped = (await client.get("/metrics")).text
            assert _metric(scraped, "krr_ratelimit_redis_circuit_open") == 1
            assert _metric(scraped, "krr_ratelimit_redis_failures_total") == 3

            # Redis is back; after the cool-down one request tries it, and it is used again.
            redis_proxy.pass_traffic()
            clock.now += 29
            assert (await client.post("/graphql", json=body, headers=token)).status_code == 200
            assert script.calls == 3
            clock.now += 1
            assert (await client.get("/readyz")).json()["rate_limit"]["redis_circuit"] == (
                "half-open")
            for _ in range(2):
                assert (await client.post("/graphql", json=body, headers=token)).status_code == 200
            assert script.calls == 5
            ready = await client.get("/readyz")
            assert ready.json()["rate_limit"] == {"store": "redis", "redis_circuit": "closed"}
            assert _metric((await client.get("/metrics")).text,
                           "krr_ratelimit_redis_circuit_open") == 0
    finally:
        await limiter.aclose()
    conn = redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in conn.scan_iter(match=f"{prefix}*")]
        assert keys  # the shared limit is kept in Redis again
        await conn.delete(*keys)
    finally:
        await conn.aclose()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "app.edge.ratelimit"]
    assert [m for level, m in lines if level == logging.WARNING] == [
        "rate limiter: Redis unavailable (TimeoutError, 3 failures in a row); using this "
        "instance's own limits, Redis tried again in 30 s"]
    assert [m for level, m in lines if level == logging.INFO] == [
        "rate limiter: Redis answers again; limits are shared again"]


def test_a_failed_probe_doubles_the_cool_down_up_to_five_minutes():
    clock = FakeClock()
    breaker = Breaker(clock=clock)
    assert [breaker.failed() for _ in range(3)] == [None, None, "opened"]
    waits = []
    for _ in range(5):
        assert not breaker.allows()
        clock.now += breaker.retry_in()
        assert breaker.allows()  # the probe ...
        assert not breaker.allows()  # ... and only one at a time
        assert breaker.failed() == "reopened"
        waits.append(breaker.wait)
    assert waits == [60, 120, 240, 300, 300]
    clock.now += 300
    assert breaker.allows() and breaker.succeeded()
    assert (breaker.state, breaker.wait) == ("closed", 30)
    assert [breaker.failed() for _ in range(3)] == [None, None, "opened"]  # counted anew


def test_a_success_between_failures_keeps_the_breaker_closed():
    breaker = Breaker(clock=FakeClock())
    for _ in range(5):
        assert breaker.failed() is None and breaker.failed() is None
        assert breaker.succeeded() is False  # it was not open
    assert breaker.state == "closed"
