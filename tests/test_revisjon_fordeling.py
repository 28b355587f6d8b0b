"""The audit log's queue and its filer (app.revisjon.fordeling): a record is readable the moment
it is written, the same before, during and after filing, filed exactly once however many filers
run, and a served app files in the background."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from app import db as database
from app.revisjon import fordeling, store
from tests.factories import new_id
from tests.revisjonsrader import personrader
from tests.test_audit import write

BASE = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
X, Y = new_id(10), new_id(11)


async def _records() -> list[int]:
    """Eight requests over two months naming X (and others), some with Y, various categories,
    two at the same moment (the cursor's tie-breaker)."""
    ider = []
    for i in range(8):
        naar = BASE + dt.timedelta(days=20 * (i // 2))  # two requests at each moment
        personer = [(X, 1 + i % 7), *((new_id(100 + i * 10 + j), 2) for j in range(3))]
        if i % 3 == 0:
            personer.append((Y, 4))
        ider.append(await write(naar, personer))
    return ider


async def _all_pages(pid: str, size: int) -> list[list[tuple[int, dt.datetime, list[str]]]]:
    pages, before = [], None
    while True:
        page = await store.oppslag_av_person(pid, limit=size, before=before)
        if not page:
            return pages
        assert not before or await store.oppslag_av_person_fra(pid, before)
        pages.append([(o.oppslag_id, o.tidspunkt, [k.value for k in o.kategorier]) for o in page])
        before = page[-1].cursor


async def test_a_record_reads_the_same_queued_half_filed_and_filed(db):
    await _records()
    assert await fordeling.ufordelte() == 8
    queued = {pid: await _all_pages(pid, 3) for pid in (X, Y)}
    assert [len(p) for p in queued[X]] == [3, 3, 2]
    assert sum(len(p) for p in queued[Y]) == 3
    assert await fordeling.fordel(batch=3) == 3  # the oldest three filed, five still queued
    assert await fordeling.ufordelte() == 5
    for pid in (X, Y):
        assert await _all_pages(pid, 3) == queued[pid]
    await fordeling.fordel_alt()
    assert await fordeling.ufordelte() == 0
    for pid in (X, Y):
        assert await _all_pages(pid, 3) == queued[pid]
    rows = await personrader()
    assert len(rows) == 8 * 4 + 3
    # Newest first, ties broken by the request, categories as written.
    first = queued[X][0]
    assert [t for _, t, _ in first] == sorted((t for _, t, _ in first), reverse=True)
    assert first[0][0] > first[1][0]


async def test_the_probe_for_a_previous_page_sees_the_queue(db):
    oppslag_id = await write(BASE, [(X, 1)])
    assert await store.oppslag_av_person_fra(X, (BASE, oppslag_id))
    assert not await store.oppslag_av_person_fra(X, (BASE, oppslag_id + 1))
    assert not await store.oppslag_av_person_fra(Y, (BASE, oppslag_id))
    await fordeling.fordel_alt()
    assert await store.oppslag_av_person_fra(X, (BASE, oppslag_id))


async def test_concurrent_filers_file_every_request_exactly_once(db):
    personer_per = 50
    ider = [await write(BASE + dt.timedelta(seconds=i),
                        [(new_id(1000 + i * personer_per + j), 1) for j in range(personer_per)])
            for i in range(40)]
    filed = await asyncio.gather(*(fordeling.fordel(batch=random.randint(1, 5))
                                   for _ in range(30)))
    await fordeling.fordel_alt()
    assert sum(filed) <= len(ider)
    rows = await personrader()
    assert len(rows) == len(ider) * personer_per
    assert len({(r.oppslag_id, r.personidentifikator) for r in rows}) == len(rows)
    assert {r.oppslag_id for r in rows} == set(ider)


async def test_persons_are_filed_with_their_own_category_and_moment(db):
    naar = BASE + dt.timedelta(minutes=5)
    oppslag_id = await write(naar, [(X, 1), (Y, 6)])
    assert await personrader(oppslag_id) == sorted([
        (oppslag_id, X, naar, 1), (oppslag_id, Y, naar, 6)])


async def test_the_filer_files_in_the_background_after_a_write(db):
    async with fordeling.fordeler(intervall=60):  # woken by the write, not by the interval
        await asyncio.sleep(0)
        await write(BASE, [(X, 1), (Y, 2)])
        for _ in range(500):
            if await fordeling.ufordelte() == 0:
                break
            await asyncio.sleep(0.01)
        assert await fordeling.ufordelte() == 0
    _, [(antall,)] = await database.connection().execute_query(
        "SELECT count(*) FROM oppslag_person")
    assert antall == 2


async def test_a_write_is_filed_after_a_pause_that_gathers_the_moments_requests(db):
    batches: list[int] = []
    async with fordeling.fordeler(intervall=60, fordelt=batches.append, samle=2.0):
        for _ in range(500):  # the start's look at what waits (nothing) is done
            if batches:
                break
            await asyncio.sleep(0.01)
        assert batches == [0]
        await write(BASE, [(X, 1)])
        await write(BASE + dt.timedelta(seconds=1), [(Y, 2)])
        assert await fordeling.ufordelte() == 2  # not beside the answers that woke it
        for _ in range(1000):
            if await fordeling.ufordelte() == 0:
                break
            await asyncio.sleep(0.01)
    assert batches == [0, 2]  # both requests in one transaction


async def test_a_filer_stopped_in_its_pause_leaves_the_queue_to_the_next(db):
    async with fordeling.fordeler(intervall=60, samle=60):
        await asyncio.sleep(0)
        await write(BASE, [(X, 1), (Y, 2)])
        await asyncio.sleep(0.05)
    assert await fordeling.ufordelte() == 1  # durable, not filed, not lost
    async with fordeling.fordeler(intervall=60):  # the next start files it at once
        for _ in range(500):
            if await fordeling.ufordelte() == 0:
                break
            await asyncio.sleep(0.01)
    assert await fordeling.ufordelte() == 0
    assert [(r.personidentifikator, r.kategorier) for r in await personrader()] == sorted(
        [(X, 1), (Y, 2)])


async def test_the_filer_files_what_an_earlier_process_left_at_start(db):
    await write(BASE, [(X, 1)])
    async with fordeling.fordeler(intervall=60):
        for _ in range(500):
            if await fordeling.ufordelte() == 0:
                break
            await asyncio.sleep(0.01)
    assert await fordeling.ufordelte() == 0


async def test_the_filer_goes_on_after_the_database_failed(db, monkeypatch, caplog):
    real = fordeling.fordel
    calls = [0]

    async def flaky(batch: int = fordeling.BATCH) -> int:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("boom")
        return await real(batch)

    monkeypatch.setattr(fordeling, "fordel", flaky)
    monkeypatch.setattr(fordeling, "VENT_VED_FEIL", 0.01)
    await write(BASE, [(X, 1)])
    async with fordeling.fordeler(intervall=0.02):
        for _ in range(500):
            if await fordeling.ufordelte() == 0:
                break
            await asyncio.sleep(0.01)
    assert await fordeling.ufordelte() == 0
    assert calls[0] >= 2
    assert "filer failed" in caplog.text


@pytest.mark.parametrize("filed", [False, True])
async def test_prune_counts_queued_and_filed_persons_alike(db, filed):
    old = BASE - dt.timedelta(days=400)
    await write(old, [(X, 1), (Y, 1)])
    await write(old + dt.timedelta(days=45), [(X, 1)])
    await write(BASE, [(X, 1), (Y, 1), (new_id(3), 1)])
    if filed:
        await fordeling.fordel_alt()
    assert await store.prune(older_than=BASE - dt.timedelta(days=1), now=BASE) == (2, 3)
    assert await fordeling.ufordelte() == (0 if filed else 1)
    assert len(await personrader()) == 3
