"""The audit log: one record per disclosing request, bulk and atomic, read per person, summed
per day for the usage report, and pruned after the retention period."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.transactions import in_transaction

from app import db as database
from app.config import ConfigError, load_settings
from app.edge.app import create_app
from app.revisjon import fordeling, kategorier, store
from app.revisjon.models import Oppslag
from authz.principal import Principal
from authz.scopes import Kategori
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import DIGIPOST, EBOKS, new_id, person
from tests.revisjonsrader import personrader

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
BRUK_READ = "krr:admin/bruk.read"
DELEGERING_WRITE = "krr:admin/delegering.write"
OTHER_ORG = "991825827"
ALL = 1 | 2 | 4


def principal(
    consumer: str = CONSUMER, *, supplier: str | None = None, pid: str | None = None
) -> Principal:
    return Principal(
        consumer=consumer, scopes=frozenset({KONTAKT, POST}), issuer="test",
        supplier=supplier, pid=pid, client_id="klient-1",
    )


async def write(
    tidspunkt: dt.datetime = FIXED_NOW,
    personer: list[tuple[str, int]] | None = None,
    **kwargs: Any,
) -> int:
    return await store.skriv_oppslag(
        tidspunkt=tidspunkt,
        request_id=kwargs.pop("request_id", "req-1"),
        principal=kwargs.pop("principal", None) or principal(),
        scopes=kwargs.pop("scopes", [POST, KONTAKT]),
        varslingsstatus=kwargs.pop("varslingsstatus", False),
        personer=[(new_id(0), 1)] if personer is None else personer,
    )


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement sent through any tortoise client (transactions included); an
    executemany counts once, as it is one prepared statement."""
    seen: list[str] = []
    depth = [0]
    names = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
             "execute_script")

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(self: Any, query: str, *args: Any) -> Any:
            if depth[0] == 0:
                seen.append(query)
            depth[0] += 1
            try:
                return await original(self, query, *args)
            finally:
                depth[0] -= 1
        return counted

    classes = [BaseDBAsyncClient]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        for name in names:
            if name in cls.__dict__:
                monkeypatch.setattr(cls, name, wrap(cls.__dict__[name]))
    return seen


def is_postgres() -> bool:
    return database.dialect() == "postgres"


# --- categories ------------------------------------------------------------------------------

def test_categories_round_trip_through_bits():
    assert kategorier.kategorier_til_bits([Kategori.GRUNNDATA, Kategori.DIGITAL_POST]) == 5
    assert kategorier.kategorier_til_bits([]) == 0
    assert kategorier.bits_til_kategorier(7) == list(Kategori)
    for bits in range(8):
        assert kategorier.kategorier_til_bits(kategorier.bits_til_kategorier(bits)) == bits


# --- writing ---------------------------------------------------------------------------------

async def test_one_request_row_and_one_row_per_person(db):
    when = dt.datetime(2026, 6, 15, 12, 0, 1, 250_000, tzinfo=dt.UTC)
    personer = [(new_id(1), 1), (new_id(2), 3), (new_id(3), 7)]
    oppslag_id = await write(
        when, personer, request_id="abc-123", varslingsstatus=True,
        scopes=[POST, KONTAKT, POST],
    )
    row = await Oppslag.get(id=oppslag_id)
    assert row.tidspunkt == when
    assert row.dag == dt.date(2026, 6, 15)
    assert (row.request_id, row.consumer, row.supplier) == ("abc-123", CONSUMER, None)
    assert row.actor == "klient-1"
    assert row.scopes == f"{POST} {KONTAKT}"  # sorted, de-duplicated, space-separated
    assert row.varslingsstatus is True
    assert row.antall == 3
    rows = await personrader(oppslag_id)
    assert [(p.personidentifikator, p.kategorier) for p in rows] == sorted(personer)
    assert all(p.tidspunkt == when for p in rows)


async def test_vendor_and_person_acting_are_recorded(db):
    pid = new_id(50)
    oppslag_id = await write(principal=principal(supplier=DIGIPOST, pid=pid))
    row = await Oppslag.get(id=oppslag_id)
    assert (row.consumer, row.supplier, row.actor) == (CONSUMER, DIGIPOST, pid)
    assert row.varslingsstatus is False


@pytest.mark.parametrize(
    ("utc", "oslo_day"),
    [
        (dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC), dt.date(2026, 1, 11)),  # CET
        (dt.datetime(2026, 1, 10, 22, 59, tzinfo=dt.UTC), dt.date(2026, 1, 10)),
        (dt.datetime(2026, 7, 10, 22, 30, tzinfo=dt.UTC), dt.date(2026, 7, 11)),  # CEST
        (dt.datetime(2026, 7, 10, 21, 59, tzinfo=dt.UTC), dt.date(2026, 7, 10)),
    ],
)
async def test_the_day_is_the_day_in_oslo(db, utc, oslo_day):
    row = await Oppslag.get(id=await write(utc))
    assert row.dag == oslo_day
    assert row.tidspunkt == utc


async def test_a_naive_timestamp_is_refused(db):
    with pytest.raises(ValueError, match="timezone"):
        await write(dt.datetime(2026, 1, 1, 12, 0))
    assert await Oppslag.all().count() == 0


async def test_a_request_without_persons_still_leaves_its_row(db):
    row = await Oppslag.get(id=await write(personer=[]))
    assert row.antall == 0
    assert len(await personrader()) == 0


async def test_1000_persons_are_written_with_a_bounded_number_of_statements(db, monkeypatch):
    personer = [(new_id(i), ALL) for i in range(1000)]
    statements = count_statements(monkeypatch)
    oppslag_id = await write(personer=personer)
    # PostgreSQL: one statement for both rows; SQLite: the request row, then its queue row.
    assert len(statements) == (1 if is_postgres() else 2), statements
    assert await fordeling.ufordelte() == 1  # filed after the answer, not on its path
    monkeypatch.undo()
    assert len(await personrader(oppslag_id)) == 1000


async def test_a_person_without_an_id_is_refused_before_anything_is_written(db):
    await write(FIXED_NOW - dt.timedelta(days=1))  # an earlier record stays untouched
    bad: list[tuple[str, int]] = [(new_id(1), 1), (None, 1)]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="needs an id"):
        await write(personer=bad)
    assert await Oppslag.all().count() == 1
    assert len(await personrader()) == 1


async def test_the_queue_refuses_a_row_the_filer_could_not_file(db):
    """The database's own check behind the writer's: persons and categories pair up (and on
    PostgreSQL neither holds a NULL), so no queue row can hold up the filer."""
    sql = database.Sql()
    if is_postgres():
        values = f"{sql(['12345678901', None])}::varchar[], {sql([1, 1])}::smallint[]"
    else:
        one_id = '["12345678901"]'
        values = f"{sql(one_id)}, {sql('[1, 1]')}"
    with pytest.raises(Exception):  # noqa: B017 - a CHECK violation, dialect-specific type
        await database.connection().execute_query(
            "INSERT INTO oppslag_ufordelt (oppslag_id, tidspunkt, personer, kategorier)"
            f" VALUES (1, {sql.tid(FIXED_NOW)}, {values})", sql.verdier)
    assert await fordeling.ufordelte() == 0


async def test_an_exception_during_the_write_rolls_back(db, monkeypatch):
    """SQLite writes in two steps (request row, then its queue row): a failure in the second
    step must take the first back. PostgreSQL writes both in one statement: a failure of that
    statement leaves nothing either."""
    if is_postgres():
        target: type = AsyncpgDBClient
    else:
        target = SqliteTransactionWrapper
    method = "execute_query"

    async def boom(self: Any, query: str, values: list) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(target, method, boom)
    with pytest.raises(RuntimeError, match="disk full"):
        await write(personer=[(new_id(1), 1), (new_id(2), 1)])
    monkeypatch.undo()
    assert await Oppslag.all().count() == 0
    assert len(await personrader()) == 0


# --- who looked up person X ------------------------------------------------------------------

async def test_lookups_of_a_person_newest_first_in_pages(db):
    x, y = new_id(10), new_id(11)
    base = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    await write(base, [(x, 1)], principal=principal(OTHER_ORG))
    await write(base + dt.timedelta(hours=1), [(x, 3), (y, 7)],
                principal=principal(supplier=DIGIPOST))
    await write(base + dt.timedelta(hours=2), [(y, 1)])
    # Two requests at the same instant: the row id breaks the tie.
    same = base + dt.timedelta(hours=3, microseconds=500)
    await write(same, [(x, 5)], principal=principal(supplier=EBOKS))
    await write(same, [(x, 7)])
    await write(base + dt.timedelta(days=1), [(x, 1)])

    everything = await store.oppslag_av_person(x, limit=100)
    assert [(o.tidspunkt, o.consumer, o.supplier, o.kategorier) for o in everything] == [
        (base + dt.timedelta(days=1), CONSUMER, None, [Kategori.GRUNNDATA]),
        (same, CONSUMER, None, list(Kategori)),
        (same, CONSUMER, EBOKS, [Kategori.GRUNNDATA, Kategori.DIGITAL_POST]),
        (base + dt.timedelta(hours=1), CONSUMER, DIGIPOST,
         [Kategori.GRUNNDATA, Kategori.KONTAKTINFORMASJON]),
        (base, OTHER_ORG, None, [Kategori.GRUNNDATA]),
    ]

    pages: list[list[store.OppslagAvPerson]] = []
    before = None
    while True:
        page = await store.oppslag_av_person(x, limit=2, before=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].cursor
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [o for p in pages for o in p] == everything
    assert await store.oppslag_av_person(new_id(12), limit=10) == []
    assert await store.oppslag_av_person(x, limit=0) == []


async def test_the_person_query_uses_the_person_index(db):
    """"Who looked up X" must stay an index range scan on millions of rows."""
    sql = database.Sql()
    statement = store.oppslag_av_person_sql(sql, "x", 10, (FIXED_NOW, 1))
    await store.lag_maaneder_framover(FIXED_NOW)  # months to plan over (PostgreSQL)
    if is_postgres():
        async with in_transaction() as conn:
            # An empty table makes a sequential scan cheapest; ask what the plan is otherwise.
            await conn.execute_script("SET LOCAL enable_seqscan = off")
            _, rows = await conn.execute_query("EXPLAIN " + statement, sql.verdier)
        plan = " | ".join(str(row[0]) for row in rows)
    else:
        _, rows = await database.connection().execute_query(
            "EXPLAIN QUERY PLAN " + statement, sql.verdier
        )
        plan = " | ".join(str(row[3]) for row in rows)
    if is_postgres():
        # Each month's partition has its copy of the parent's index, named after it.
        assert "Seq Scan on oppslag_person" not in plan, plan
        assert "_personidentifikator_tidspunkt_oppsla" in plan, plan
    else:
        assert "oppslag_person_pid_idx" in plan, plan


# --- retention -------------------------------------------------------------------------------

async def test_prune_removes_only_old_records_from_both_tables(db):
    cutoff = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    await write(cutoff - dt.timedelta(days=30), [(new_id(1), 1), (new_id(2), 1)])
    await write(cutoff - dt.timedelta(microseconds=1), [(new_id(3), 1)])
    keep_at = await write(cutoff, [(new_id(4), 1)])
    keep_later = await write(cutoff + dt.timedelta(days=1), [(new_id(5), 1), (new_id(6), 1)])

    assert await store.prune(older_than=cutoff) == (2, 3)
    assert sorted(await Oppslag.all().values_list("id", flat=True)) == [keep_at, keep_later]
    assert sorted(r.personidentifikator for r in await personrader()) == [
        new_id(4), new_id(5), new_id(6)
    ]
    assert await store.prune(older_than=cutoff) == (0, 0)


def test_retention_days_from_the_environment():
    assert load_settings({}).audit_retention_days == 1825
    assert load_settings({"KRR_AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30
    for bad in ("0", "-5", "abc", "1.5", "99999999"):
        with pytest.raises(ConfigError, match="KRR_AUDIT_RETENTION_DAYS"):
            load_settings({"KRR_AUDIT_RETENTION_DAYS": bad})


ROOT = Path(__file__).resolve().parent.parent


def test_krr_prune_audit(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {
        "KRR_ENV": "dev",
        "KRR_VAR_DIR": str(tmp_path / "var"),
        "KRR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "KRR_AUDIT_RETENTION_DAYS": "30",
        "PYTHONPATH": str(ROOT),
    }

    def krr(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=env | extra, cwd=ROOT,
            capture_output=True, text=True, timeout=120, check=False,
        )

    assert krr("migrate").returncode == 0
    now = dt.datetime.now(dt.UTC)
    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        for oppslag_id, age, persons in ((1, 40, 2), (2, 20, 1)):
            ts = (now - dt.timedelta(days=age)).isoformat(" ")
            conn.execute(
                "INSERT INTO oppslag (id, tidspunkt, dag, request_id, consumer, scopes,"
                " varslingsstatus, antall) VALUES (?, ?, ?, 'r', ?, '', 0, ?)",
                (oppslag_id, ts, ts[:10], CONSUMER, persons),
            )
            conn.executemany(
                "INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt,"
                " kategorier) VALUES (?, ?, ?, 1)",
                [(oppslag_id, new_id(i), ts) for i in range(persons)],
            )
    conn.close()

    done = krr("prune-audit")
    assert done.returncode == 0, done.stderr
    assert "pruned 1 requests and 2 person rows" in done.stdout
    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        assert conn.execute("SELECT id FROM oppslag").fetchall() == [(2,)]
        assert conn.execute("SELECT oppslag_id FROM oppslag_person").fetchall() == [(2,)]
    conn.close()
    assert "pruned 0 requests and 0 person rows" in krr("prune-audit").stdout

    bad = krr("prune-audit", KRR_AUDIT_RETENTION_DAYS="zero")
    assert bad.returncode == 2
    assert "KRR_AUDIT_RETENTION_DAYS" in bad.stderr


# --- the usage report ------------------------------------------------------------------------

BRUK = """query($fra: Date!, $til: Date!) { bruk(fra: $fra, til: $til) {
  organisasjon fra til
  dager { dag egenBruk { oppslag personer } paaVegneAv { leverandoer oppslag personer } }
  totalt { oppslag personer } } }"""


async def bruk(client, token: str, fra: str, til: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": BRUK, "variables": {"fra": fra, "til": til}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def persons(n: int, start: int = 0) -> list[tuple[str, int]]:
    return [(new_id(start + i), 1) for i in range(n)]


async def test_usage_per_day_split_by_own_use_and_each_vendor(client, mint):
    oslo = store.OSLO
    day1 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=oslo)
    day2 = dt.datetime(2026, 5, 5, 0, 30, tzinfo=oslo)  # 22:30 UTC on 4 May
    await write(day1, persons(3))
    await write(day1, persons(2))
    await write(day1, persons(5), principal=principal(supplier=EBOKS))
    await write(day1, persons(1), principal=principal(supplier=DIGIPOST))
    await write(day1, persons(4), principal=principal(supplier=DIGIPOST))
    await write(day2, persons(7), principal=principal(supplier=DIGIPOST))
    # Not counted: another organisation, and days outside the period.
    await write(day1, persons(9), principal=principal(OTHER_ORG))
    await write(dt.datetime(2026, 5, 3, 23, 59, tzinfo=oslo), persons(1))
    await write(dt.datetime(2026, 5, 7, 0, 0, tzinfo=oslo), persons(1))

    body = await bruk(client, mint(BRUK_READ), "2026-05-04", "2026-05-06")
    assert "errors" not in body, body
    assert body["data"]["bruk"] == {
        "organisasjon": CONSUMER,
        "fra": "2026-05-04",
        "til": "2026-05-06",
        "dager": [
            {
                "dag": "2026-05-04",
                "egenBruk": {"oppslag": 2, "personer": 5},
                "paaVegneAv": [
                    {"leverandoer": EBOKS, "oppslag": 1, "personer": 5},
                    {"leverandoer": DIGIPOST, "oppslag": 2, "personer": 5},
                ],
            },
            {
                "dag": "2026-05-05",
                "egenBruk": {"oppslag": 0, "personer": 0},
                "paaVegneAv": [{"leverandoer": DIGIPOST, "oppslag": 1, "personer": 7}],
            },
        ],
        "totalt": {"oppslag": 6, "personer": 22},
    }


async def test_usage_report_with_the_delegation_scope_and_no_use(client, mint):
    body = await bruk(client, mint(DELEGERING_WRITE), "2026-01-01", "2026-12-31")
    assert "errors" not in body, body
    assert body["data"]["bruk"]["dager"] == []
    assert body["data"]["bruk"]["totalt"] == {"oppslag": 0, "personer": 0}


async def test_usage_report_needs_an_admin_scope(client, mint):
    await write()
    body = await bruk(client, mint(f"{KONTAKT} {POST}"), "2026-06-01", "2026-06-30")
    assert body["data"] is None
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert BRUK_READ in err["message"] and DELEGERING_WRITE in err["message"]


async def test_usage_report_is_not_for_a_vendor_acting_for_the_organisation(client, mint):
    body = await bruk(client, mint(BRUK_READ, supplier=DIGIPOST), "2026-06-01", "2026-06-30")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("fra", "til", "ok"),
    [
        ("2026-06-02", "2026-06-01", False),  # backwards
        ("2024-01-01", "2024-12-31", True),  # a leap year: 366 days
        ("2025-01-01", "2026-01-02", False),  # 367 days
        ("2026-06-01", "2026-06-01", True),
    ],
)
async def test_usage_report_period(client, mint, fra, til, ok):
    body = await bruk(client, mint(BRUK_READ), fra, til)
    if ok:
        assert "errors" not in body, body
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_usage_report_is_one_query(client, mint, monkeypatch):
    await write()
    token = mint(BRUK_READ)
    statements = count_statements(monkeypatch)
    body = await bruk(client, token, "2026-06-01", "2026-06-30")
    assert body["data"]["bruk"]["totalt"] == {"oppslag": 1, "personer": 1}
    assert len(statements) == 1, statements


# --- the answer leaves only once its record is written -----------------------------------------
# The lookup builds its answer while the record is being written (app.api.pending, REST's
# handler); these hold the order: the record is durable before the first byte of the answer.


def _recording(app: Any, events: list[str]) -> Any:
    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        async def send_recorded(message: Any) -> None:
            events.append(message["type"])
            await send(message)

        await app(scope, receive, send_recorded)

    return recorded


LOOKUPS = {
    "graphql": ("/graphql", lambda pid: {
        "query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ personidentifikator '
                 "kontaktinformasjon { epostadresse } } }"}),
    "rest": ("/rest/v2/personer", lambda pid: {"personidentifikatorer": [pid]}),
}


@pytest.mark.parametrize("route", list(LOOKUPS))
async def test_the_answer_leaves_after_its_record_is_written(db, mint, monkeypatch, route):
    pid = new_id(611)
    await person(pid)
    events: list[str] = []
    written = store.skriv_oppslag

    async def slow(**record: Any) -> int:
        await asyncio.sleep(0.05)  # the answer is built meanwhile, and must wait
        oppslag_id = await written(**record)
        events.append("audit record written")
        return oppslag_id

    monkeypatch.setattr(store, "skriv_oppslag", slow)
    app = _recording(create_app(db, clock=lambda: FIXED_NOW, manage_db=False), events)
    path, body = LOOKUPS[route]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        response = await client.post(path, json=body(pid),
                                     headers={"Authorization": f"Bearer {mint(KONTAKT)}"})
    assert response.status_code == 200, response.text
    assert "kari@example.no" in response.text
    assert events[0] == "audit record written"
    assert events[1:] == ["http.response.start", "http.response.body"]


async def test_a_failed_record_takes_its_withheld_field_errors_with_it(client, mint, monkeypatch):
    """Without the postal scope digitalPost is withheld (FORBIDDEN); when the record then
    cannot be written, the answer is the 503 alone, as if the lookup had raised it."""
    pid = new_id(612)
    await person(pid)

    async def broken(**_: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(store, "skriv_oppslag", broken)
    response = await client.post("/graphql", json={
        "query": f'{{ p: personer(personidentifikatorer: ["{pid}"]) {{ personidentifikator '
                 "digitalPost { postkasseadresse } } }"},
        headers={"Authorization": f"Bearer {mint(KONTAKT)}"})
    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["path"] == ["p"]
    assert error["locations"] == [{"line": 1, "column": 3}]
