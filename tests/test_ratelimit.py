"""Rate limits per consumer organisation: 429 / RATE_LIMITED with Retry-After, no work done;
in process by default, one shared limit through the Redis on 127.0.0.1:6379."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
import redis.asyncio as redis

from app.api.limits import persons_in_body
from app.config import ConfigError, Limits, Rate, Settings, load_settings
from app.edge.app import create_app
from app.edge.ratelimit import Hold, MemoryLimiter, RedisLimiter, _gcra
from app.edge.schema import personbegrensning
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

REDIS_URL = "redis://127.0.0.1:6379/0"
READ = "krr:global/kontaktinformasjon.read"


@asynccontextmanager
async def client_for(settings: Settings, **kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False, **kwargs)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as c:
        yield c


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lookup_body(ids: list[str]) -> dict[str, object]:
    return {"query": "query Q($ids: [String!]!) { personer(personidentifikatorer: $ids) "
                     "{ status } }", "variables": {"ids": ids}}


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


@pytest.fixture
async def limited(db: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    """An app allowing 2 requests/s (burst 2) and 10 persons/s (burst 10), on a fake clock,
    refusing at once (KRR_RATE_WAIT=0): what a caller over its limit is told. Requests held
    for it instead are tested in test_ratelimit_wait.py."""
    clock = FakeClock()
    limiter = MemoryLimiter(Limits(Rate(2, 2), Rate(10, 10)), clock=clock)
    async with client_for(db, limiter=limiter, hold=Hold(0)) as c:
        yield c, clock


async def test_requests_limit_gives_429_with_retry_after_and_recovers(limited, mint):
    client, clock = limited
    headers = {"Authorization": f"Bearer {mint(READ)}"}
    body = lookup_body([new_id(700)])
    for _ in range(2):
        assert (await client.post("/graphql", json=body, headers=headers)).status_code == 200
    refused = await client.post("/graphql", json=body, headers=headers)
    assert assert_429(refused) == 1
    # Another organisation has its own limit.
    other = {"Authorization": f"Bearer {mint(READ, consumer='991825827')}"}
    assert (await client.post("/graphql", json=body, headers=other)).status_code == 200
    clock.now += 0.5  # one request's worth of time
    assert (await client.post("/graphql", json=body, headers=headers)).status_code == 200
    assert_429(await client.post("/graphql", json=body, headers=headers))


async def test_persons_limit_counts_ids_and_does_no_work(limited, mint, caplog):
    client, clock = limited
    headers = {"Authorization": f"Bearer {mint(READ)}"}
    pid = new_id(701)
    await person(pid)
    ids = [pid, *(new_id(710 + i) for i in range(7))]
    assert (await client.post("/graphql", json=lookup_body(ids), headers=headers)).json()[
        "data"]["personer"][0] == {"status": "AKTIV"}
    # 8 of 10 persons used: 3 more is over, though requests are still allowed.
    caplog.set_level(logging.INFO)
    refused = await client.post("/graphql", json=lookup_body(ids[:3]), headers=headers)
    assert assert_429(refused) == 1
    assert "AKTIV" not in refused.text
    assert pid not in caplog.text
    clock.now += 1.0
    assert (await client.post("/graphql", json=lookup_body(ids[:3]),
                              headers=headers)).status_code == 200


async def test_residents_and_anonymous_callers_are_limited_too(limited, mint):
    client, _ = limited
    public = {"query": "{ __typename }"}
    for _ in range(2):
        assert (await client.post("/graphql", json=public)).status_code == 200
    assert_429(await client.post("/graphql", json=public))


def persons_asked(body: bytes) -> int:
    return persons_in_body(body, personbegrensning(), 5000)


def test_persons_asked_counts_literals_variables_aliases_and_fragments():
    q = ('{ a: personer(personidentifikatorer: ["1", "2"]) { status } ...F ...F } '
         'fragment F on Query { personer(personidentifikatorer: ["3"]) { status } }')
    assert persons_asked(orjson.dumps({"query": q})) == 4
    assert persons_asked(orjson.dumps(lookup_body(["1", "2", "3"]))) == 3
    assert persons_asked(orjson.dumps([lookup_body(["1"]), lookup_body(["2", "3"])])) == 3
    assert persons_asked(b"not json") == 0
    assert persons_asked(orjson.dumps({"query": "{ personer(personidentifikatorer: \"1\") "
                                                "{ status } }"})) == 1


def test_settings_read_rates_and_name_a_bad_variable():
    settings = load_settings({"KRR_RATE_REQUESTS": "5/s,10", "KRR_RATE_PERSONS": "300",
                              "KRR_RATE_INDIVIDUALS": "2/s,4", "KRR_RATE_WAIT": "0.25",
                              "KRR_REDIS_URL": REDIS_URL})
    assert settings.rate_limits == Limits(Rate(5, 10), Rate(300, 300), Rate(2, 4))
    assert settings.rate_wait == 0.25
    assert settings.redis_url == REDIS_URL
    assert load_settings({"KRR_RATE_WAIT": "0"}).rate_wait == 0  # refused at once
    for name, bad in (("KRR_RATE_REQUESTS", "fast"), ("KRR_RATE_PERSONS", "0/s"),
                      ("KRR_RATE_REQUESTS", "5/s,0"), ("KRR_REDIS_URL", "http://x"),
                      ("KRR_RATE_INDIVIDUALS", "-1/s"), ("KRR_RATE_WAIT", "-1"),
                      ("KRR_RATE_WAIT", "61"), ("KRR_RATE_WAIT", "nan"), ("KRR_RATE_WAIT", "1s")):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: bad})


def test_the_defaults_are_the_documented_ones():
    settings = load_settings({})
    assert settings.rate_limits == Limits(requests=Rate(400, 800), persons=Rate(20_000, 40_000),
                                          individuals=Rate(50, 200))
    assert settings.rate_wait == 1.0


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this run's own in the real Redis; its keys are removed afterwards. No
    Redis is a failure here, not a skip: the shared limit is what is being tested."""
    prefix = f"krr:test:{uuid.uuid4().hex}:"
    conn = redis.from_url(REDIS_URL)
    try:
        assert await conn.ping()
        yield prefix
        keys = [k async for k in conn.scan_iter(match=f"{prefix}*")]
        if keys:
            await conn.delete(*keys)
    finally:
        await conn.aclose()


async def test_two_instances_share_one_limit_through_redis(db, mint, redis_prefix):
    limits = Limits(Rate(0.01, 3), Rate(1000, 1000))  # 3 requests, then none for minutes
    token = {"Authorization": f"Bearer {mint(READ)}"}
    body = lookup_body([new_id(720)])
    first = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    second = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    alone = MemoryLimiter(limits)
    try:
        async with (client_for(db, limiter=first) as a, client_for(db, limiter=second) as b,
                    client_for(db, limiter=alone) as c):
            statuses = [(await x.post("/graphql", json=body, headers=token)).status_code
                        for x in (a, b, a)]
            assert statuses == [200, 200, 200]
            assert_429(await b.post("/graphql", json=body, headers=token))
            assert assert_429(await a.post("/graphql", json=body, headers=token)) > 60
            # An instance without Redis keeps its own count.
            assert (await c.post("/graphql", json=body, headers=token)).status_code == 200
    finally:
        await first.aclose()
        await second.aclose()


async def test_unreachable_redis_fails_open_to_the_local_limit(db, mint, caplog):
    limits = Limits(Rate(0.01, 2), Rate(1000, 1000))
    limiter = RedisLimiter("redis://127.0.0.1:1/0", limits, prefix="krr:test:")
    token = {"Authorization": f"Bearer {mint(READ)}"}
    pid = new_id(730)
    caplog.set_level(logging.INFO)
    try:
        async with client_for(db, limiter=limiter) as c:
            for _ in range(2):
                response = await c.post("/graphql", json=lookup_body([pid]), headers=token)
                assert response.status_code == 200
            assert_429(await c.post("/graphql", json=lookup_body([pid]), headers=token))
    finally:
        await limiter.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.edge.ratelimit"
                and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0]
    assert pid not in caplog.text


def test_default_app_limits_in_process(db):
    limiter = create_app(db, clock=lambda: FIXED_NOW, manage_db=False).state.limiter
    assert isinstance(limiter, MemoryLimiter)
    assert limiter.limits.requests.burst >= 100  # far above what any test sends


def test_a_cost_of_exactly_the_burst_is_allowed_whatever_the_clock():
    rate = Rate(3, 5)  # 1/3 s per unit: (now + 5/3) - now - 5/3 rounds above 0 at these clocks
    for now in (98_765.4321, 5e6 + 0.77, 1.7e9 + 0.123):
        _, over = _gcra(now, now, 5, rate)
        assert over <= 0, now
        _, over = _gcra(now, now, 6, rate)
        assert over > 0, now


# --- issue 12.9: one vendor spends only its own budget ----------------------------------------

async def test_a_vendor_flooding_for_an_organisation_spends_only_its_own_budget(limited, mint):
    """The attack: a vendor (with or without a delegation) floods with consumer A; A's own
    lookups, and A's revocation of that vendor, then failed with 429. Each (consumer, supplier)
    has its own budget, refused requests included."""
    client, _ = limited
    body = lookup_body([new_id(701)])
    vendor = {"Authorization": f"Bearer {mint(READ, supplier='889640782')}"}  # no delegation
    for _ in range(2):  # refused (no delegation), yet charged to the vendor's own budget
        assert (await client.post("/graphql", json=body, headers=vendor)).status_code == 200
    assert_429(await client.post("/graphql", json=body, headers=vendor))
    # The organisation itself is untouched: its lookups and its administration go through.
    own = {"Authorization": f"Bearer {mint(READ)}"}
    assert (await client.post("/graphql", json=body, headers=own)).status_code == 200
    admin = {"Authorization": f"Bearer {mint('krr:admin/delegering.write')}"}
    listing = {"query": "{ delegeringer { gitt { id } } }"}
    assert (await client.post("/graphql", json=listing, headers=admin)).status_code == 200
    # And so is another vendor acting for the same organisation.
    other = {"Authorization": f"Bearer {mint(READ, supplier='921627009')}"}
    assert (await client.post("/graphql", json=body, headers=other)).status_code == 200


async def test_a_vendors_persons_budget_is_its_own_too(limited, mint):
    client, _ = limited
    vendor = {"Authorization": f"Bearer {mint(READ, supplier='889640782')}"}
    ten = lookup_body([new_id(710 + n) for n in range(10)])
    assert (await client.post("/graphql", json=ten, headers=vendor)).status_code == 200
    assert_429(await client.post("/graphql", json=lookup_body([new_id(720)]), headers=vendor))
    own = {"Authorization": f"Bearer {mint(READ)}"}
    assert (await client.post("/graphql", json=ten, headers=own)).status_code == 200
