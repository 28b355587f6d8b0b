"""The REST endpoints sit behind the same edge as GraphQL: body size and rate limits."""

from __future__ import annotations

import dataclasses

import httpx

from app.config import Limits, Rate
from app.edge.app import create_app
from app.edge.ratelimit import MemoryLimiter
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

KONTAKT = "krr:global/kontaktinformasjon.read"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://krr.test")


async def test_rest_lookups_are_rate_limited_per_consumer_and_counted(db, mint):
    pid = new_id(1)
    await person(pid)
    limiter = MemoryLimiter(Limits(Rate(0.01, 2), Rate(1000, 1000)))  # 2 requests, then none
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False, limiter=limiter)
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    body = {"personidentifikatorer": [pid]}
    async with _client(app) as c:
        for _ in range(2):
            response = await c.post("/rest/v2/personer", json=body, headers=headers)
            assert response.status_code == 200
        refused = await c.post("/rest/v2/personer", json=body, headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        metrics = (await c.get("/metrics")).text
    assert "krr_rate_limited_total 1.0" in metrics


async def test_rest_persons_limit_counts_the_ids_asked(db, mint):
    limiter = MemoryLimiter(Limits(Rate(1000, 1000), Rate(0.01, 5)))  # 5 persons, then none
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False, limiter=limiter)
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    four = {"personidentifikatorer": [new_id(i) for i in range(4)]}  # clear of the boundary
    async with _client(app) as c:
        first = await c.post("/rest/v2/personer", json=four, headers=headers)
        second = await c.post("/rest/v2/personer", json=four, headers=headers)
    assert first.status_code == 200, first.text
    assert second.status_code == 429


async def test_rest_refuses_a_body_over_the_maximum_before_the_token_check(db):
    small = dataclasses.replace(db, max_body_bytes=1000)
    app = create_app(small, clock=lambda: FIXED_NOW, manage_db=False)
    async with _client(app) as c:
        response = await c.post("/rest/v2/personer", content=b"x" * 5000)  # no token at all
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
