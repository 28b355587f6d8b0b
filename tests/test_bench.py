"""The benchmarks' own parts that are not timing: the served floor answers the asked persons in
the lookup's shape, and the helpers that read memory and split latencies count right. Speed
itself is measured in bench/, never here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.edge.app import create_app
from bench import compression, floor_app
from bench.audit import Prune
from bench.common import SCOPES, process_tree, slope_per_minute, status_bytes
from bench.load import worker_rss
from tests import factories
from tests.conftest import FIXED_NOW


@pytest.fixture
async def floor(db: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("KRR_DATABASE_URL", db.database_url)
    app = floor_app.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
            yield client


async def test_the_floor_answers_the_asked_persons_in_the_lookups_shape(floor):
    digipost = await factories.provider()
    ids = [factories.new_id(n) for n in range(3)]
    for n, pid in enumerate(ids):
        await factories.person(pid, postkasseleverandoer=digipost if n == 0 else None)
    response = await floor.post("/graphql", json={
        "query": "ignored", "variables": {"ids": [*ids[:2], factories.new_id(5)]}})
    assert response.status_code == 200
    personer = response.json()["data"]["personer"]
    assert sorted(p["personidentifikator"] for p in personer) == sorted(ids[:2])
    by_id = {p["personidentifikator"]: p for p in personer}
    assert by_id[ids[0]]["sertifikat"] and by_id[ids[1]]["sertifikat"] is None


def test_memory_is_read_from_proc():
    me = os.getpid()
    assert process_tree(me)[0] == me
    assert status_bytes(me, "VmHWM") >= status_bytes(me, "VmRSS") > 0
    assert status_bytes(2**22 + 1, "VmRSS") == 0  # no such process
    rss, processes = worker_rss(me)  # no workers below: the process itself
    assert processes == 1 and rss > 0


def test_slope_is_per_minute():
    assert slope_per_minute([(0.0, 100), (30.0, 130), (60.0, 160)]) == pytest.approx(60.0)
    assert slope_per_minute([(0.0, 100)]) == 0.0


def test_lookups_are_split_around_the_prune():
    # (start, seconds) of each lookup; the prune ran from 10 to 20
    prune = Prune(10.0, "pruned", [(0, 1), (9.5, 1), (12, 1), (19.5, 1), (21, 1)], (10.0, 20.0))
    assert prune.during("before") == [1]
    assert prune.during("during") == [1, 1, 1]
    assert prune.during("after") == [1]


async def test_the_compression_bench_measures_what_is_served(db, mint):
    """bench/compression.py with tiny numbers, in process: every answer asked for, each
    compressed at every level and decoded back (its own checks), the served coding checked
    against the chosen level, and a row per answer and level in the table."""
    digipost = await factories.provider()
    ids = [factories.new_id(n) for n in range(5)]
    for pid in ids:
        await factories.person(pid, postkasseleverandoer=digipost)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        bearers = (mint(SCOPES), mint(compression.CONTACT))
        found = await compression.answers(client, bearers, ids, 1)
        sizes = {a.name: await compression.served(client, a) for a in found}
    rows = [row for answer in found for row in compression.measure(answer, 1)]
    assert len(rows) == len(found) * len(compression.LEVELS) == 4 * len(compression.LEVELS)
    assert all(0 < row.size < row.plain for row in rows)
    assert all(set(served) == {"gzip", "br"} for served in sizes.values())
    table = compression.table(rows)
    assert table.count("(served)") == 2
    assert table.count("\n") == len(compression.LEVELS) + 2
    assert all(answer.name in table for answer in found)


def test_the_consumers_bench_runs_both_patterns(tmp_path: Path):
    """bench/consumers.py kept working, with tiny numbers against `krr serve --workers 2` on a
    small SQLite register of its own: both consumers served, their table printed. (Its speed
    is the README's, not a test's.)"""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    done = subprocess.run(
        [sys.executable, "bench/consumers.py", "--database-url",
         f"sqlite:///{tmp_path / 'consumers.sqlite3'}", "--persons", "40", "--workers", "2",
         "--altinn-rate", "20", "--altinn-seconds", "0.5", "--valg-calls", "3",
         "--valg-ids", "10"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[3:7] for line in done.stdout.splitlines()
            if line.startswith("| ") and ("single-id" in line or "sequential" in line)}
    assert [c.strip() for c in rows["Altinn Correspondence"]] == ["10", "10", "0", "0"]
    assert [c.strip() for c in rows["Valgdirektoratet"]] == ["3", "3", "0", "0"]
