"""A request over its caller's limit by little enough is held until it fits (KRR_RATE_WAIT),
not refused: the consumers in the field (issue 24) are served under the default limits without
a single 429, held requests are bounded per caller, charged once, kept within their deadline
and hold no database connection, a vendor's flood still spends only its own budget, and a
consumer that is refused is told which limit, its numbers and when to come back.

Time here is a fake clock that the hold's sleep moves on (or, for requests that must stay held
while the test looks, a gate that opens when the test says): nothing waits for real time."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from tortoise import connections

from app.config import DEFAULT_LIMITS, DEFAULT_RATE_WAIT, Limits, Rate, Settings, load_settings
from app.edge.app import create_app
from app.edge.deadline import time_left, within
from app.edge.ratelimit import Hold, MemoryLimiter, RedisLimiter, held_per_caller
from app.personer.rest import antall_personer
from app.revisjon.models import Oppslag
from authz.tokens import TokenVerifier
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import new_id, person
from tests.test_ratelimit import READ, REDIS_URL, FakeClock, lookup_body
from tests.test_ratelimit import redis_prefix as redis_prefix
from tests.test_ratelimit_headers import remaining

PERSONER = "/rest/v2/personer"
VENDOR, OTHER_VENDOR = "889640782", "921627009"
T = TypeVar("T")


class Clock(FakeClock):
    """A fake clock whose sleep is time passing, each sleep noted."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Gate:
    """A sleep that lasts until the test opens the gate: held requests stay held meanwhile, and
    the test can wait until a number of them are."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waiting = 0
        self.opened = asyncio.Event()
        self._changed = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.waiting += 1
        self._changed.set()
        await self.opened.wait()
        self.clock.now += seconds
        self.waiting -= 1

    async def held(self, count: int) -> None:
        """Until `count` requests are held here."""
        while self.waiting < count:
            self._changed.clear()
            await self._changed.wait()


async def bounded(work: Awaitable[T]) -> T:
    """A guard against a hang (a held request that holds what another needs): the test fails
    rather than waits for ever. Not a timing assertion: nothing here takes a fraction of it."""
    return await asyncio.wait_for(work, 60)


@asynccontextmanager
async def serving(settings: Settings, limiter: Any, hold: Hold,
                  verifier: TokenVerifier | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False, limiter=limiter,
                     hold=hold, verifier=verifier)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield client


def bearer(mint: Any, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(READ, **kwargs)}"}


def rest_body(ids: list[str]) -> dict[str, Any]:
    return {"personidentifikatorer": ids, "inkluderIkkeRegistrerte": False}


# --- the hold --------------------------------------------------------------------------------


async def test_a_request_just_over_the_limit_is_held_then_served_and_charged_once(db, mint):
    clock = Clock()
    limiter = MemoryLimiter(Limits(Rate(2, 2), Rate(1000, 1000)), clock=clock)
    async with serving(db, limiter, Hold(1.0, sleep=clock.sleep)) as client:
        token = bearer(mint)
        answers = [await client.post(PERSONER, json=rest_body([new_id(900 + n)]), headers=token)
                   for n in range(4)]
        metrics = (await client.get("/metrics")).text
    assert [a.status_code for a in answers] == [200] * 4
    assert "krr_rate_held_total 2.0" in metrics and "krr_rate_limited_total 0.0" in metrics
    # Two in the burst; then each a half second (one request at 2/s) later than it came. Had
    # the third been charged again when it was served, the fourth would have waited a second.
    assert clock.sleeps == [0.5, 0.5]
    # Told as things stand when it is served: nothing left, one more in half a second.
    assert remaining(answers[2])["requests"] == (0, 1)
    assert await Oppslag.all().count() == 4  # each served once


async def test_a_request_further_over_than_the_wait_is_refused_at_once(db, mint):
    clock = Clock()
    limiter = MemoryLimiter(Limits(Rate(0.5, 1), Rate(1000, 1000)), clock=clock)
    async with serving(db, limiter, Hold(1.0, sleep=clock.sleep)) as client:
        token = bearer(mint)
        served = await client.post(PERSONER, json=rest_body([new_id(910)]), headers=token)
        refused = await client.post(PERSONER, json=rest_body([new_id(911)]), headers=token)
    assert served.status_code == 200 and refused.status_code == 429
    assert refused.headers["retry-after"] == "2" and clock.sleeps == []


async def test_a_wait_of_0_refuses_at_once(db):
    app = create_app(dataclasses.replace(db, rate_wait=0.0), manage_db=False)
    assert app.state.hold.seconds == 0
    assert load_settings({"KRR_RATE_WAIT": "0"}).rate_wait == 0
    limiter = MemoryLimiter(Limits(Rate(2, 2), Rate(10, 10)), clock=FakeClock())
    hold = Hold(0.0, sleep=Clock().sleep)
    statuses = []
    for _ in range(3):
        charge = await hold.charge(limiter, f"org:{CONSUMER}:egen", 1)
        statuses.append((charge.wait, charge.held))
    assert statuses == [(0.0, 0.0), (0.0, 0.0), (0.5, 0.0)]


async def test_held_requests_are_bounded_per_caller(db, mint):
    """Three of one caller's requests held at once at most; the next that would have been
    held is refused at once, saying why. Another caller is not held up by them."""
    clock = FakeClock()
    gate = Gate(clock)
    limiter = MemoryLimiter(Limits(Rate(10, 1), Rate(1000, 1000)), clock=clock)
    hold = Hold(1.0, per_caller=3, sleep=gate.sleep)
    async with serving(db, limiter, hold) as client:
        token = bearer(mint)
        first = await client.post(PERSONER, json=rest_body([new_id(920)]), headers=token)
        held = [asyncio.create_task(client.post(PERSONER, json=rest_body([new_id(921 + n)]),
                                                headers=token)) for n in range(3)]
        await bounded(gate.held(3))
        refused = await client.post(PERSONER, json=rest_body([new_id(925)]), headers=token)
        other = await client.post(PERSONER, json=rest_body([new_id(926)]),
                                  headers=bearer(mint, consumer="991825827"))
        assert gate.waiting == 3 and hold.holding(f"org:{CONSUMER}:egen") == 3
        gate.opened.set()
        answers = await bounded(asyncio.gather(*held))
    assert first.status_code == 200 and other.status_code == 200
    assert [a.status_code for a in answers] == [200] * 3
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    error = refused.json()["errors"][0]
    assert "3 of this caller's requests are already waiting" in error["message"]
    assert hold.holding(f"org:{CONSUMER}:egen") == 0
    assert await Oppslag.all().count() == 5


async def test_a_held_request_holds_no_database_connection(db, mint):
    """While a request is held, no connection of the pool is in use, and another caller's
    lookup, audit record and all, is served (with one held, a pool of one would hang)."""
    clock = FakeClock()
    gate = Gate(clock)
    limiter = MemoryLimiter(Limits(Rate(10, 1), Rate(1000, 1000)), clock=clock)
    pid = new_id(930)
    await person(pid)
    async with serving(db, limiter, Hold(1.0, sleep=gate.sleep)) as client:
        token = bearer(mint)
        assert (await client.post(PERSONER, json=rest_body([pid]), headers=token)).status_code \
            == 200
        held = asyncio.create_task(client.post(PERSONER, json=rest_body([pid]), headers=token))
        await bounded(gate.held(1))
        if db.database_url.startswith("postgres"):  # every connection of the pool idle
            pool = connections.get("default")._pool  # type: ignore[attr-defined]
            assert pool.get_size() >= 1 and pool.get_idle_size() == pool.get_size()
        other = await bounded(client.post(PERSONER, json=rest_body([pid]),
                                          headers=bearer(mint, consumer="991825827")))
        assert other.status_code == 200 and other.json()["personer"][0]["status"] == "AKTIV"
        gate.opened.set()
        answer = await bounded(held)
    assert answer.status_code == 200 and answer.json()["personer"][0]["status"] == "AKTIV"
    assert await Oppslag.all().count() == 3


async def test_the_hold_keeps_within_the_request_s_deadline(db, mint):
    """Held at most half of what is left of the deadline: with 0.4 s, a wait of 0.1 s is held,
    one of 0.5 s refused at once, though both are within KRR_RATE_WAIT."""
    settings = dataclasses.replace(db, request_timeout=0.4)
    for rate, expected in ((10, 200), (2, 429)):
        clock = Clock()
        limiter = MemoryLimiter(Limits(Rate(rate, 1), Rate(1000, 1000)), clock=clock)
        async with serving(settings, limiter, Hold(1.0, sleep=clock.sleep)) as client:
            token = bearer(mint)
            await client.post(PERSONER, json=rest_body([new_id(940)]), headers=token)
            answer = await client.post(PERSONER, json=rest_body([new_id(941)]), headers=token)
        assert answer.status_code == expected, rate
        assert clock.sleeps == ([pytest.approx(0.1)] if expected == 200 else []), rate


async def test_time_left_is_the_deadline_s():
    assert time_left() == float("inf")  # not under a deadline

    async def asked() -> float:
        return time_left()

    left = await within(3.0, asked())
    assert 0 < left <= 3.0


async def test_held_requests_in_redis_take_places_one_after_another(redis_prefix):
    """The place is reserved in the script that decides: two instances holding requests of one
    caller give them successive places, never the same one."""
    limits = Limits(Rate(0.1, 1), Rate(1000, 1000))  # one request, then one each 10 s
    first = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    second = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    subject = f"org:{CONSUMER}:egen"
    try:
        charges = [await first.charge(subject, 1, 25), await first.charge(subject, 1, 25),
                   await second.charge(subject, 1, 25), await second.charge(subject, 1, 25)]
    finally:
        await first.aclose()
        await second.aclose()
    assert charges[0].held == 0 and charges[0].wait == 0
    # Seconds of real time pass between the charges (Redis's clock): well under one.
    assert 9 < charges[1].held <= 10 and 19 < charges[2].held <= 20
    assert charges[1].wait == charges[2].wait == 0
    refused = charges[3]  # would wait 30 s: refused, nothing reserved
    assert 29 < refused.wait <= 30 and refused.held == 0
    # Held, the buckets are told as they will stand when served: empty.
    assert [b.tokens for b in charges[2].buckets if b.name == "requests"] == [0]


async def test_redis_and_memory_hold_alike(redis_prefix):
    limits = Limits(Rate(0.01, 2), Rate(0.5, 100))
    shared = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    alone = MemoryLimiter(limits)
    told = []
    try:
        for persons, max_wait in ((50, 0), (50, 150), (10, 150), (0, 150), (0, 0)):
            a = await shared.charge(f"org:{CONSUMER}:egen", persons, max_wait)
            b = await alone.charge(f"org:{CONSUMER}:egen", persons, max_wait)
            told.append(((a.wait > 0, round(a.held)), (b.wait > 0, round(b.held))))
    finally:
        await shared.aclose()
    assert [a for a, b in told] == [b for a, b in told]
    # Two in the requests' burst (and 100 of the persons'); the third held 100 s for its
    # request (20 s would have done for its persons); the fourth would wait 200 s: refused, as
    # is the last, not to be held at all.
    assert [a for a, _ in told] == [(False, 0), (False, 0), (False, 100), (True, 0), (True, 0)]


# --- isolation, the hold on ------------------------------------------------------------------


async def test_a_vendor_s_flood_with_the_hold_on_starves_neither_its_agency_nor_another(
        db, mint):
    """A vendor floods for an organisation: its burst served, as many held as a caller may
    have, the rest refused at once. Meanwhile the organisation's own lookups and its
    administration, and another vendor's lookups, are served without waiting: their budgets,
    and their places to wait, are their own."""
    clock = FakeClock()
    gate = Gate(clock)
    limiter = MemoryLimiter(Limits(Rate(10, 2), Rate(1000, 1000)), clock=clock)
    hold = Hold(1.0, per_caller=3, sleep=gate.sleep)
    body = lookup_body([new_id(950)])
    vendor = bearer(mint, supplier=VENDOR)
    async with serving(db, limiter, hold) as client:
        flood = [asyncio.create_task(client.post("/graphql", json=body, headers=vendor))
                 for _ in range(10)]
        await bounded(gate.held(3))
        own = await client.post("/graphql", json=body, headers=bearer(mint))
        admin = await client.post("/graphql", json={"query": "{ delegeringer { gitt { id } } }"},
                                  headers={"Authorization": "Bearer "
                                           + mint("krr:admin/delegering.write")})
        other = await client.post("/graphql", json=body, headers=bearer(mint,
                                                                       supplier=OTHER_VENDOR))
        # The organisation's own requests that must wait (its burst spent on the two above)
        # are held, not crowded out by the vendor's.
        own_held = [asyncio.create_task(client.post("/graphql", json=body, headers=bearer(mint)))
                    for _ in range(2)]
        await bounded(gate.held(5))
        assert gate.waiting == 5  # the vendor's three and the organisation's two
        gate.opened.set()
        flooded = await bounded(asyncio.gather(*flood))
        own_later = await bounded(asyncio.gather(*own_held))
    for answer in (own, admin, other, *own_later):
        assert answer.status_code == 200, answer.text
    assert remaining(own)["requests"] == (1, 1)  # its own burst, untouched by the vendor's
    statuses = sorted(a.status_code for a in flooded)
    assert statuses == [200] * 5 + [429] * 5  # 2 at once + 3 held; the rest refused at once


# --- the consumers in the field, under the defaults ------------------------------------------


ALTINN = "org:991825827:egen"


async def test_altinn_s_300_single_id_lookups_a_second_for_10_s_meet_no_429():
    """Altinn Correspondence: 300 single-id lookups a second for 10 s from one client, on one
    worker alone (the worst a worker's own limits can see: no Redis, every request to it),
    under the default limits and hold: none refused, none even held. Arriving evenly, and in
    clumps of 30 every 100 ms (a client's timer)."""
    one_id = antall_personer(b'{"personidentifikatorer": ["31819198252"]}')
    assert one_id == 1
    for clump in (1, 30):
        clock = Clock()
        limiter = MemoryLimiter(DEFAULT_LIMITS, clock=clock)
        hold = Hold(DEFAULT_RATE_WAIT, held_per_caller(1000), sleep=clock.sleep)
        start = clock.now
        refused = 0
        for n in range(3000):
            clock.now = start + (n // clump) * clump / 300
            refused += (await hold.charge(limiter, ALTINN, one_id)).wait > 0
        assert (refused, clock.sleeps) == (0, []), clump


async def test_valgdirektoratet_s_100_sequential_1000_id_lookups_meet_no_429():
    """Valgdirektoratet: 100 lookups of 1000 ids one after the other, no pause, no retry, as
    fast as a client could ever send them (no time passes but what the hold takes), on one
    worker alone: the persons' burst serves 40 at once, then each is held 50 ms (1000 persons
    at 20,000 a second) and served. Sequential calls can never be further over than one call."""
    clock = Clock()
    limiter = MemoryLimiter(DEFAULT_LIMITS, clock=clock)
    hold = Hold(DEFAULT_RATE_WAIT, held_per_caller(1000), sleep=clock.sleep)
    thousand = antall_personer(orjson_body([new_id(n) for n in range(1000)]))
    assert thousand == 1000
    charges = [await hold.charge(limiter, f"org:{CONSUMER}:egen", thousand) for _ in range(100)]
    assert [c.wait for c in charges] == [0] * 100
    assert clock.sleeps == pytest.approx([0.05] * 60)


def orjson_body(ids: list[str]) -> bytes:
    return orjson.dumps(rest_body(ids))


async def test_valgdirektoratet_through_the_service(db, mint):
    """The same, over REST v2 through the whole service (the edge's count of persons, the
    hold, the lookup and its audit record): 100 answers, all 200."""
    clock = Clock()
    limiter = MemoryLimiter(DEFAULT_LIMITS, clock=clock)
    hold = Hold(DEFAULT_RATE_WAIT, held_per_caller(1000), sleep=clock.sleep)
    ids = [new_id(2000 + n) for n in range(1000)]
    async with serving(db, limiter, hold) as client:
        token = bearer(mint)
        statuses = [(await client.post(PERSONER, json=rest_body(ids), headers=token)).status_code
                    for _ in range(100)]
    assert statuses == [200] * 100
    assert clock.sleeps == pytest.approx([0.05] * 60)
    assert await Oppslag.all().count() == 100


async def test_altinn_through_the_service(db, mint):
    """A second of Altinn's pattern over REST v2 through the whole service: 300 single-id
    lookups, one every 1/300 s, none refused or held."""
    clock = Clock()
    limiter = MemoryLimiter(DEFAULT_LIMITS, clock=clock)
    hold = Hold(DEFAULT_RATE_WAIT, held_per_caller(1000), sleep=clock.sleep)
    start = clock.now
    async with serving(db, limiter, hold) as client:
        token = bearer(mint, consumer="991825827")
        statuses = []
        for n in range(300):
            clock.now = start + n / 300
            response = await client.post(PERSONER, json=rest_body([new_id(n)]),
                                         headers=token)
            statuses.append(response.status_code)
    assert statuses == [200] * 300 and clock.sleeps == []
    # 300 requests in a second at 400 a second: the burst barely touched.
    assert remaining(response)["requests"][0] >= 700


# --- what a refused consumer is told -----------------------------------------------------------


@pytest.fixture(params=["test", "prod"])
async def tight(db: Settings, dev_issuer: Any,
                request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """One request, the next in 2 s; 10 persons, then one a second: refused with the hold on.
    In test and prod (which trusts the dev issuer here as if it were a real one)."""
    clock = Clock()
    limiter = MemoryLimiter(Limits(Rate(0.5, 1), Rate(1, 10)), clock=clock)
    async with serving(dataclasses.replace(db, env=request.param), limiter,
                       Hold(1.0, sleep=clock.sleep),
                       TokenVerifier({}, dev_issuer=dev_issuer)) as client:
        yield client


def refusal(response: httpx.Response, media_type: str = "application/json") -> dict[str, Any]:
    """The 429 as a generated client reads it: status, Retry-After (whole seconds), the
    RateLimit fields, and one error with a message and a code."""
    assert response.status_code == 429
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["retry-after"].isdigit()
    assert "ratelimit" in response.headers and "ratelimit-policy" in response.headers
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(response.headers["retry-after"])
    return error


async def test_a_refusal_names_the_requests_limit_graphql_and_rest(tight, mint):
    token = bearer(mint)
    assert (await tight.post(PERSONER, json=rest_body([new_id(959)]), headers=token)) \
        .status_code == 200
    for path, body, media in (
        ("/graphql", lookup_body([new_id(960)]), "application/json"),
        ("/graphql", lookup_body([new_id(960)]), "application/graphql-response+json"),
        (PERSONER, rest_body([new_id(960)]), "application/json"),
        ("/rest/v1/personer", {"personidentifikatorer": [new_id(960)]}, "application/json"),
    ):
        headers = token | {"Accept": media}
        error = refusal(await tight.post(path, json=body, headers=headers), media)
        assert error["message"] == ("Rate limit exceeded for this caller's requests: at most "
                                    "0.5 a second, 1 at once; retry after 2 s"), path
        assert {k: error["extensions"][k] for k in ("limit", "perSecond", "burst")} == {
            "limit": "requests", "perSecond": 0.5, "burst": 1}


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_refusal_names_the_persons_limit(db, dev_issuer, mint, env):
    clock = Clock()
    limiter = MemoryLimiter(Limits(Rate(1000, 1000), Rate(1, 10)), clock=clock)
    async with serving(dataclasses.replace(db, env=env), limiter, Hold(1.0, sleep=clock.sleep),
                       TokenVerifier({}, dev_issuer=dev_issuer)) as client:
        token = bearer(mint)
        ten = [new_id(970 + n) for n in range(10)]
        assert (await client.post(PERSONER, json=rest_body(ten), headers=token)).status_code \
            == 200
        rest = await client.post(PERSONER, json=rest_body(ten[:5]), headers=token)
        graphql = await client.post("/graphql", json=lookup_body(ten[:5]), headers=token)
    for answer in (rest, graphql):
        error = refusal(answer)
        assert error["message"] == ("Rate limit exceeded for this caller's persons (ids asked "
                                    "for): at most 1 a second, 10 at once; retry after 5 s")
        assert error["extensions"]["limit"] == "persons"
        assert (error["extensions"]["perSecond"], error["extensions"]["burst"]) == (1, 10)
    assert clock.sleeps == []
