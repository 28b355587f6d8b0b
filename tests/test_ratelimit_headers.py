"""The limits a client can see: RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-
headers-10) on every answer the edge charges, refusals included, parsed here as Structured Fields
by a library of their own (http-sf), the same from the in-process and the Redis limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import http_sf
import httpx
import pytest

from app.config import Limits, Rate, Settings
from app.edge.ratelimit import Hold, MemoryLimiter, RedisLimiter, limit_fields
from app.tilgangsstyrere import store as roller
from tests.admin import log_in
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import new_id, person
from tests.test_ratelimit import READ, REDIS_URL, FakeClock, client_for, lookup_body
from tests.test_ratelimit import redis_prefix as redis_prefix

PID = "17912099997"  # an access manager of CONSUMER (as in test_tilgangsstyring_side)
EXPORT = "krr:test/sok.read krr:global/kontaktinformasjon.read"


def fields(response: httpx.Response) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(policy, limit) by policy name, each checked against the draft: a List of Items whose
    value is a String, with the Integer parameters the draft requires (q, r) and those we send
    (w, t), in the ranges it allows."""
    policies = _items(response.headers["ratelimit-policy"])
    limits = _items(response.headers["ratelimit"])
    assert list(policies) == list(limits)
    for name, parameters in policies.items():
        assert set(parameters) == {"q", "w"}, name
        assert parameters["q"] >= 0 and parameters["w"] >= 1, name
    for name, parameters in limits.items():
        assert set(parameters) == {"r", "t"}, name
        assert parameters["r"] >= 0 and parameters["t"] >= 0, name
    return policies, limits


def _items(value: str) -> dict[str, dict[str, Any]]:
    parsed = http_sf.parse(value.encode("ascii"), tltype="list")
    items: dict[str, dict[str, Any]] = {}
    for item, parameters in parsed:
        assert isinstance(item, str) and not isinstance(item, http_sf.Token), value
        assert all(type(v) is int for v in parameters.values()), value
        assert item not in items, value
        items[item] = dict(parameters)
    return items


def remaining(response: httpx.Response) -> dict[str, tuple[int, int]]:
    return {name: (p["r"], p["t"]) for name, p in fields(response)[1].items()}


# --- the fields themselves -----------------------------------------------------------------


async def test_the_default_limits_as_a_policy():
    limiter = MemoryLimiter(Limits(Rate(50, 200), Rate(20_000, 40_000)), clock=FakeClock())
    answer = limit_fields(await limiter.charge("org:1:egen", 1000))
    assert answer["RateLimit-Policy"] == '"requests";q=200;w=4, "persons";q=40000;w=2'
    # 1 request of 200 and 1000 persons of 40000 spent: full again in 1/50 s and 1000/20000 s.
    assert answer["RateLimit"] == '"requests";r=199;t=1, "persons";r=39000;t=1'


async def test_a_window_never_promises_more_than_the_rate():
    limiter = MemoryLimiter(Limits(Rate(3, 5), Rate(0.5, 1.5)), clock=FakeClock())
    answer = limit_fields(await limiter.charge("org:1:egen", 0))
    # 5 per 5/3 s is 5 per 2 s at most; a burst of 1.5 persons is one whole person.
    assert answer["RateLimit-Policy"] == '"requests";q=5;w=2, "persons";q=1;w=3'
    assert answer["RateLimit"] == '"requests";r=4;t=1, "persons";r=1;t=0'


# --- on the answers --------------------------------------------------------------------------


@pytest.fixture
async def slow(db: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    """2 requests per 20 s and 10 persons per 10 s, on a fake clock, refused at once
    (KRR_RATE_WAIT=0: the fields of a refusal are what is looked at)."""
    clock = FakeClock()
    limiter = MemoryLimiter(Limits(Rate(0.1, 2), Rate(1, 10)), clock=clock)
    async with client_for(db, limiter=limiter, hold=Hold(0)) as c:
        yield c, clock


async def test_graphql_answers_count_down_and_the_429_says_when(slow, mint):
    client, clock = slow
    token = {"Authorization": f"Bearer {mint(READ)}"}
    three = lookup_body([new_id(800 + i) for i in range(3)])
    first = await client.post("/graphql", json=three, headers=token)
    assert first.status_code == 200
    policies, _ = fields(first)
    assert policies == {"requests": {"q": 2, "w": 20}, "persons": {"q": 10, "w": 10}}
    # One request of two left, full again in 10 s; 7 persons of 10, full in 3 s.
    assert remaining(first) == {"requests": (1, 10), "persons": (7, 3)}
    second = await client.post("/graphql", json=three, headers=token)
    # None left: the next request in 10 s; the persons' bucket full in 6 s.
    assert remaining(second) == {"requests": (0, 10), "persons": (4, 6)}
    refused = await client.post("/graphql", json=three, headers=token)
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    # The refused request cost nothing; its bucket says what Retry-After says.
    assert remaining(refused) == {"requests": (0, retry_after), "persons": (4, 6)}
    assert retry_after == 10
    clock.now += 10  # as told
    paced = await client.post("/graphql", json=lookup_body([]), headers=token)
    assert paced.status_code == 200
    # No persons asked: their bucket is still shown (the policy stays the same), refilled.
    assert remaining(paced) == {"requests": (0, 10), "persons": (10, 0)}


async def test_a_persons_refusal_names_its_wait_and_what_is_left(slow, mint):
    client, _ = slow
    token = {"Authorization": f"Bearer {mint(READ)}"}
    eight = lookup_body([new_id(810 + i) for i in range(8)])
    assert (await client.post("/graphql", json=eight, headers=token)).status_code == 200
    refused = await client.post("/graphql", json=lookup_body(
        [new_id(820 + i) for i in range(3)]), headers=token)
    assert refused.status_code == 429
    # 2 persons left, 3 asked: one more person comes in 1 s, the Retry-After.
    assert remaining(refused) == {"requests": (1, 10), "persons": (2, 1)}
    assert refused.headers["retry-after"] == "1"


async def test_anonymous_callers_see_their_address_s_request_limit(slow):
    client, _ = slow
    answer = await client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.status_code == 200
    assert fields(answer)[0] == {"requests": {"q": 2, "w": 20}}
    assert remaining(answer) == {"requests": (1, 10)}


async def test_a_signed_answer_carries_them(slow, mint):
    client, _ = slow
    answer = await client.post("/graphql", json=lookup_body([new_id(830)]), headers={
        "Authorization": f"Bearer {mint(READ)}", "Accept": "application/jose"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/jose")
    assert remaining(answer) == {"requests": (1, 10), "persons": (9, 1)}


async def test_rest_lookups_and_the_streamed_export_carry_them(slow, mint):
    client, _ = slow
    pid = new_id(840)
    await person(pid)
    token = {"Authorization": f"Bearer {mint(EXPORT)}"}
    lookup = await client.post("/rest/v2/personer", json={"personidentifikatorer": [pid]},
                               headers=token)
    assert lookup.status_code == 200, lookup.text
    assert remaining(lookup) == {"requests": (1, 10), "persons": (9, 1)}
    export = await client.get("/export/personer.csv", headers=token)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    # The export counts no persons: the requests' limit only.
    assert remaining(export) == {"requests": (0, 10)}
    refused = await client.post("/rest/v2/personer", json={"personidentifikatorer": [pid]},
                                headers=token)
    assert refused.status_code == 429
    assert remaining(refused)["requests"] == (0, int(refused.headers["retry-after"]))


async def test_an_answer_refused_after_the_charge_carries_them(slow, mint):
    client, _ = slow
    no_scope = {"Authorization": f"Bearer {mint('')}"}
    refused = await client.post("/rest/v2/personer", json={"personidentifikatorer": []},
                                headers=no_scope)
    assert refused.status_code == 403
    assert remaining(refused)["requests"] == (1, 10)


async def test_the_pages_carry_them_their_refusal_page_too(db):
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    limiter = MemoryLimiter(Limits(Rate(0.01, 3), Rate(1, 1)))
    async with client_for(db, limiter=limiter) as c:
        await log_in(c, PID)  # the login itself is not a guarded page: not charged
        page = f"/admin/organisasjon/{CONSUMER}"
        answers = [await c.get(page) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert fields(answers[0])[0] == {"requests": {"q": 3, "w": 300}}
    assert [remaining(a)["requests"][0] for a in answers[:3]] == [2, 1, 0]
    limited = answers[-1]
    assert "For mange forespørsler" in limited.text
    assert remaining(limited) == {"requests": (0, int(limited.headers["retry-after"]))}


# --- the same from Redis as from memory --------------------------------------------------


async def test_redis_and_memory_tell_the_same(redis_prefix):
    """One sequence (persons asked, refused requests included) charged to both limiters, on the
    real clock (Redis keeps its own): the same fields after every step."""
    limits = Limits(Rate(0.01, 3), Rate(0.5, 100))  # slow: a few ms between steps change nothing
    shared = RedisLimiter(REDIS_URL, limits, prefix=redis_prefix)
    alone = MemoryLimiter(limits)
    steps: list[int | None] = [5, 0, 30, 90, None, 60, 2]
    try:
        told: list[tuple[dict[str, str], dict[str, str]]] = []
        for persons in steps:
            subject = "org:974760673:egen" if persons is not None else "ip:192.0.2.1"
            a, b = await shared.charge(subject, persons), await alone.charge(subject, persons)
            assert (a.wait > 0) == (b.wait > 0), persons
            told.append((limit_fields(a), limit_fields(b)))
            await asyncio.sleep(0.002)
    finally:
        await shared.aclose()
    for from_redis, from_memory in told:
        assert from_redis == from_memory
    assert [t[0]["RateLimit"] for t in told] == [
        '"requests";r=2;t=100, "persons";r=95;t=10',
        '"requests";r=1;t=200, "persons";r=95;t=10',
        '"requests";r=0;t=100, "persons";r=65;t=70',
        '"requests";r=0;t=100, "persons";r=65;t=50',  # refused: requests first, then persons
        '"requests";r=2;t=100',
        '"requests";r=0;t=100, "persons";r=65;t=70',
        '"requests";r=0;t=100, "persons";r=65;t=70',
    ]
