"""The synthetic register: example persons as documented, a realistic mix, determinism."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
from collections import Counter
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from dateutil.relativedelta import relativedelta
from rich.console import Console

from app import db as database
from app.config import Settings
from app.personer.models import Person, Postkasseleverandoer, Registerstatus
from app.testdata import seed as seed_module
from app.testdata.seed import (
    DIGIPOST_ORGNR,
    EBOKS_ORGNR,
    EXAMPLE_IDS,
    NEVER_REGISTERED,
    seed_register,
)
from authz.identifikatorer import birth_date, problem

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
CUTOFF = NOW - relativedelta(months=18)  # the § 32 freshness limit
EXAMPLES = set(EXAMPLE_IDS) - {NEVER_REGISTERED}


async def _rows() -> list[dict[str, Any]]:
    return await Person.all().order_by("personidentifikator").values()


def _touched(p: dict[str, Any], channel: str) -> dt.datetime:
    dates = [p[f"{channel}_oppdatert"], p[f"{channel}_sist_verifisert"]]
    return max(d for d in dates if d is not None)


def _fresh_recently(p: dict[str, Any], channel: str) -> bool:
    """Updated and confirmed within about a month, as "fresh" means for the examples."""
    updated, confirmed = p[f"{channel}_oppdatert"], p[f"{channel}_sist_verifisert"]
    month_ago = NOW - dt.timedelta(days=35)
    return month_ago < updated <= NOW and confirmed is not None and month_ago < confirmed <= NOW


async def test_example_persons_as_documented(db: Settings) -> None:
    await seed_register(persons=50, seed=7, now=NOW)
    people = {p["personidentifikator"]: p for p in await _rows()}
    assert EXAMPLES <= people.keys()
    assert NEVER_REGISTERED not in people

    kjell = people["17912099997"]
    assert kjell["status"] == Registerstatus.AKTIV and kjell["reservasjon"] is False
    assert (kjell["epostadresse"], kjell["mobiltelefonnummer"]) == ("kjell@test.no", "+4798765432")
    assert _fresh_recently(kjell, "epostadresse") and _fresh_recently(kjell, "mobiltelefonnummer")
    assert kjell["postkasseadresse"] == "kjell#digipost"
    assert kjell["postkasseleverandoer_id"] == DIGIPOST_ORGNR
    assert kjell["spraak"] == "nb" and kjell["spraak_oppdatert"] <= NOW

    email_expired = people["24907999374"]
    assert _touched(email_expired, "epostadresse") < CUTOFF
    assert _touched(email_expired, "epostadresse") > NOW - relativedelta(months=20)
    assert _fresh_recently(email_expired, "mobiltelefonnummer")

    both_expired = people["10846896444"]
    for channel in ("epostadresse", "mobiltelefonnummer"):
        assert both_expired[channel] is not None
        assert _touched(both_expired, channel) < NOW - relativedelta(months=19)

    reserved = people["04855998918"]
    assert reserved["reservasjon"] is True
    assert reserved["reservasjonstidspunkt"] is not None
    assert reserved["reservasjon_oppdatert"] is not None
    assert _fresh_recently(reserved, "epostadresse")
    assert _fresh_recently(reserved, "mobiltelefonnummer")
    assert reserved["postkasseadresse"] == "reservert#digipost"  # as Digdir's "Digipost med
    assert reserved["postkasseleverandoer_id"] == DIGIPOST_ORGNR  # reservasjon" test person

    deleted = people["06925098068"]
    assert deleted["status"] == Registerstatus.SLETTET
    assert deleted["epostadresse"] is None and deleted["mobiltelefonnummer"] is None
    assert deleted["postkasseadresse"] is None and deleted["postkasseleverandoer_id"] is None

    d_number = people["66829700914"]
    assert int(d_number["personidentifikator"][:2]) > 40
    assert d_number["postkasseleverandoer_id"] == EBOKS_ORGNR and d_number["postkasseadresse"]
    assert d_number["spraak"] == "se"
    assert _fresh_recently(d_number, "epostadresse")
    assert _fresh_recently(d_number, "mobiltelefonnummer")

    shared = [people["09911049276"], people["06881599269"]]
    assert {p["mobiltelefonnummer"] for p in shared} == {"+4799999999"}
    assert shared[0]["epostadresse"] != shared[1]["epostadresse"]
    for p in shared:
        assert _fresh_recently(p, "epostadresse") and _fresh_recently(p, "mobiltelefonnummer")

    # Every example with contact information has its own addresses, but for the shared mobile.
    example_emails = [people[i]["epostadresse"] for i in EXAMPLES if people[i]["epostadresse"]]
    assert len(example_emails) == len(set(example_emails)) == 7
    example_mobiles = [people[i]["mobiltelefonnummer"] for i in EXAMPLES
                       if people[i]["mobiltelefonnummer"]]
    assert len(set(example_mobiles)) == 6


async def test_providers_and_certificates(db: Settings) -> None:
    await seed_register(persons=0, seed=1, now=NOW)
    providers = {p.orgnr: p for p in await Postkasseleverandoer.all()}
    assert set(providers) == {DIGIPOST_ORGNR, EBOKS_ORGNR}
    for orgnr, name in ((DIGIPOST_ORGNR, "Digipost"), (EBOKS_ORGNR, "e-Boks")):
        assert providers[orgnr].navn == name
        # Stored as the register hands it out: bare base64 of DER.
        cert = x509.load_der_x509_certificate(
            base64.b64decode(providers[orgnr].sertifikat, validate=True)
        )
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == orgnr
        assert cert.not_valid_before_utc == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        assert cert.not_valid_after_utc == dt.datetime(2036, 1, 1, tzinfo=dt.UTC)
    assert await Person.all().count() == len(EXAMPLES)


async def test_same_arguments_same_register_other_seed_other_register(db: Settings) -> None:
    await seed_register(persons=300, seed=42, now=NOW)
    first = await _rows()
    await seed_register(persons=300, seed=42, now=NOW)
    assert await _rows() == first
    await seed_register(persons=300, seed=43, now=NOW)
    other = await _rows()
    assert len(other) == len(first)
    assert [p for p in first if p["personidentifikator"] not in EXAMPLES] != [
        p for p in other if p["personidentifikator"] not in EXAMPLES
    ]


async def test_default_now_is_start_of_utc_day(db: Settings) -> None:
    before = seed_module.start_of_utc_day()
    await seed_register(persons=0, seed=1)
    after = seed_module.start_of_utc_day()  # the same, unless the run straddles midnight
    kjell = await Person.get(personidentifikator="17912099997")
    assert kjell.epostadresse_oppdatert is not None
    assert kjell.epostadresse_oppdatert + dt.timedelta(days=20) in {before, after}


async def test_seeding_replaces_the_register(db: Settings) -> None:
    await Person.create(personidentifikator="01818012345", epostadresse="gammel@example.no")
    await seed_register(persons=200, seed=1, now=NOW)
    assert await Person.filter(personidentifikator="01818012345").count() == 0
    await seed_register(persons=100, seed=2, now=NOW)
    assert await Person.all().count() == 100 + len(EXAMPLES)
    assert await Postkasseleverandoer.all().count() == 2
    await _assert_foreign_keys_checked()


@pytest.mark.parametrize("failing", ["database", "generate"])
async def test_failure_leaves_the_old_register(db: Settings, monkeypatch: pytest.MonkeyPatch,
                                               failing: str) -> None:
    """In the generator (Python raises mid-load) or in the database (a duplicate id: refused
    by the insert on SQLite, by the primary key built after the COPY on PostgreSQL)."""
    await seed_register(persons=100, seed=1, now=NOW)
    before = await _rows()
    schema = await _person_schema()
    calls = 0
    real_rows = seed_module._Generator.rows

    def rows(self: Any, count: int) -> list[tuple[Any, ...]]:
        nonlocal calls
        calls += 1
        made = real_rows(self, count)
        if calls == 3:
            if failing == "generate":
                raise RuntimeError("disk full")
            made[-1] = (made[0][0], *made[-1][1:])  # the chunk's first id once more
        return made

    monkeypatch.setattr(seed_module._Generator, "rows", rows)
    monkeypatch.setattr(seed_module, "CHUNK", 50)
    with pytest.raises(Exception) as raised:
        await seed_register(persons=500, seed=2, now=NOW)
    if failing == "generate":
        assert raised.match("disk full")
    assert await _rows() == before
    assert await Postkasseleverandoer.all().count() == 2
    assert await _person_schema() == schema
    await _assert_foreign_keys_checked()


async def _person_schema() -> list[str]:
    """The person table's indexes, constraints and triggers as the database describes them."""
    conn = database.connection()
    if database.dialect() == "postgres":
        _, rows = await conn.execute_query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'person'"
            " UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'person'::regclass"
            " UNION ALL SELECT pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = 'person'::regclass AND NOT tgisinternal ORDER BY 1")
    else:
        _, rows = await conn.execute_query(
            "SELECT coalesce(sql, name) FROM sqlite_master WHERE tbl_name = 'person'"
            " ORDER BY 1")
    return [row[0] for row in rows]


async def test_seeding_keeps_the_tables_indexes_constraints_and_triggers(db: Settings) -> None:
    """The load drops them and builds them again from the schema's own definitions."""
    schema = await _person_schema()
    assert any("PRIMARY KEY" in s or "UNIQUE" in s or "pkey" in s for s in schema)
    assert sum("INDEX" in s for s in schema) >= 3
    assert sum("TRIGGER nokkeltall_" in s for s in schema) >= 3
    await seed_register(persons=200, seed=1, now=NOW)
    assert await _person_schema() == schema


async def _assert_foreign_keys_checked() -> None:
    """SQLite seeding switches foreign-key checks off around its transaction; never for good."""
    if database.dialect() == "sqlite":
        rows = await database.connection().execute_query_dict("PRAGMA foreign_keys")
        assert rows[0]["foreign_keys"] == 1


async def test_realistic_mix(db: Settings) -> None:
    summary = await seed_register(persons=5000, seed=2017, now=NOW)
    rows = await _rows()
    assert summary.persons == len(rows) == 5000 + len(EXAMPLES)
    generated = [p for p in rows if p["personidentifikator"] not in EXAMPLES]

    # Ids: valid synthetic numbers, distinct, ages about 15 to 100, some D-numbers.
    ids = [p["personidentifikator"] for p in generated]
    assert len(set(ids)) == len(ids)
    assert [i for i in ids if problem(i) is not None] == []
    assert all(int(i[2:4]) > 80 for i in ids)
    ages = {}
    for i in ids:
        born = birth_date(i)
        assert born is not None
        ages[i] = relativedelta(NOW.date(), born).years
    assert 15 <= min(ages.values()) and max(ages.values()) <= 100
    assert 0.03 < sum(int(i[:2]) > 40 for i in ids) / len(ids) < 0.07

    active = [p for p in generated if p["status"] == Registerstatus.AKTIV]
    deleted = [p for p in generated if p["status"] == Registerstatus.SLETTET]
    n = len(generated)
    assert 0.015 < len(deleted) / n < 0.04
    for p in deleted:
        assert not any(p[k] for k in ("epostadresse", "mobiltelefonnummer", "postkasseadresse",
                                      "postkasseleverandoer_id", "reservasjon"))

    reserved = [p for p in active if p["reservasjon"]]
    assert 0.02 < len(reserved) / len(active) < 0.045
    assert all(p["reservasjonstidspunkt"] and p["reservasjon_oppdatert"] for p in reserved)
    assert not any(p["reservasjonstidspunkt"] for p in active if not p["reservasjon"])

    assert 0.92 < sum(bool(p["epostadresse"]) for p in generated) / n < 0.98
    assert 0.93 < sum(bool(p["mobiltelefonnummer"]) for p in generated) / n < 0.99
    assert all(p["epostadresse"] or p["mobiltelefonnummer"] for p in active)

    mailboxes = [p for p in active if p["postkasseleverandoer_id"]]
    assert 0.34 < len(mailboxes) / len(active) < 0.47
    digipost = [p for p in mailboxes if p["postkasseleverandoer_id"] == DIGIPOST_ORGNR]
    assert 0.84 < len(digipost) / len(mailboxes) < 0.94
    assert all("#" in p["postkasseadresse"] for p in mailboxes)
    assert len({p["postkasseadresse"] for p in mailboxes}) == len(mailboxes)

    def mailbox_share(lo: int, hi: int) -> float:
        group = [p for p in active if lo <= ages[p["personidentifikator"]] <= hi]
        return sum(bool(p["postkasseleverandoer_id"]) for p in group) / len(group)

    assert mailbox_share(21, 30) > mailbox_share(76, 120) + 0.2

    # Addresses look right and only reserved example domains are used.
    for p in active:
        if p["mobiltelefonnummer"]:
            assert p["mobiltelefonnummer"][:4] in ("+479", "+474")
            assert len(p["mobiltelefonnummer"]) == 11 and p["mobiltelefonnummer"][1:].isdigit()
        if p["epostadresse"]:
            assert p["epostadresse"].isascii()
            assert p["epostadresse"].split("@")[1] in ("example.no", "example.com", "test.no")

    # Dates: never in the future; validated no later than updated; a share expired (§ 32).
    expired = 0
    for p in active:
        stale = False
        for channel in ("epostadresse", "mobiltelefonnummer"):
            if not p[channel]:
                assert p[f"{channel}_oppdatert"] is None
                continue
            touched = _touched(p, channel)
            assert touched <= NOW
            validated = p[f"{channel}_sist_validert"]
            assert validated is None or validated <= p[f"{channel}_oppdatert"]
            stale = stale or touched < CUTOFF
        expired += stale
    assert 0.08 < expired / len(active) < 0.17
    assert sum(bool(p["epostadresse_sist_validert"]) for p in active) > 0.8 * len(active)

    # Some persons share an address with another; none takes an example person's address.
    emails = Counter(p["epostadresse"] for p in active if p["epostadresse"])
    mobiles = Counter(p["mobiltelefonnummer"] for p in active if p["mobiltelefonnummer"])
    sharing = sum(c for c in emails.values() if c > 1) + sum(c for c in mobiles.values() if c > 1)
    assert 0.003 < sharing / len(active) < 0.03
    by_address = Counter(p["epostadresse"] for p in rows) + Counter(
        p["mobiltelefonnummer"] for p in rows)
    assert by_address["kjell@test.no"] == by_address["+4798765432"] == 1
    assert by_address["+4799999999"] == 2

    languages = Counter(p["spraak"] for p in active)
    assert languages["nb"] > languages["nn"] > languages["en"] > languages["se"]
    assert all(p["spraak_oppdatert"] for p in active if p["spraak"])
    assert not any(p["spraak_oppdatert"] for p in active if not p["spraak"])

    assert summary.active == sum(p["status"] == Registerstatus.AKTIV for p in rows)
    assert summary.deleted == len(rows) - summary.active
    assert summary.reserved == sum(bool(p["reservasjon"]) for p in rows)
    assert summary.with_email == sum(bool(p["epostadresse"]) for p in rows)
    assert summary.with_mobile == sum(bool(p["mobiltelefonnummer"]) for p in rows)
    assert summary.digipost == sum(p["postkasseleverandoer_id"] == DIGIPOST_ORGNR for p in rows)
    assert summary.eboks == sum(p["postkasseleverandoer_id"] == EBOKS_ORGNR for p in rows)


@pytest.mark.parametrize("ago", [0, 1, 59, 3600, 86_399, 86_400, 400 * 86_400 + 7])
def test_the_seeds_fast_moment_text_is_the_one_helpers(ago: int) -> None:
    """The bulk load formats moments itself, for speed; it must write app.db.Sql's text on
    SQLite, or lookups and § 32 comparisons would read seeded rows differently, and the same
    text is what PostgreSQL's COPY parses (as this instant)."""
    now = dt.datetime(2026, 6, 15, 12, 0, 0, tzinfo=dt.UTC)
    moment = now - dt.timedelta(seconds=ago)
    text = seed_module._Clock(now, None).text(ago)
    assert text == database.Sql("sqlite").tidsverdi(moment)
    assert dt.datetime.fromisoformat(text) == moment
    assert seed_module._Clock(now, "NULL").text(None) == "NULL"


def test_the_same_seed_gives_the_same_persons_as_always() -> None:
    """Benchmarks, demos and tests name persons of a seeded register, so the generator's output
    for a seed is part of its contract: a faster generator must draw the same persons (this
    digest was taken before the generator was made faster). Change it only on purpose."""
    values = seed_module._values("sqlite", NOW)
    examples = seed_module._example_rows(NOW, values)
    gen = seed_module._Generator(1, NOW, values, frozenset(EXAMPLE_IDS),
                                 frozenset(row[9] for row in examples if row[9]))
    rows = [examples, gen.rows(3000), gen.rows(7000)]
    assert hashlib.sha256(repr(rows).encode()).hexdigest() == (
        "855efb8896cef7ca9ce6eed6a12ab8dbe2bf96a0284408694e7b4c915adcacdf")


def test_the_copy_text_needs_no_escaping() -> None:
    """COPY's text format is written without escaping (seed._copy_text): no value may hold a
    backslash, tab, newline or carriage return, and NULL is only ever the marker itself."""
    values = seed_module._values("postgres", NOW)
    examples = seed_module._example_rows(NOW, values)
    gen = seed_module._Generator(3, NOW, values, frozenset(EXAMPLE_IDS), frozenset())
    rows = examples + gen.rows(20_000)
    text = seed_module._copy_text(rows, 1).decode()
    lines = text.split("\n")
    assert lines.pop() == "" and len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert line.split("\t")[:-1] == list(row)
        assert all(isinstance(v, str) for v in row)
        assert not any(c in v for v in row if v != "\\N" for c in "\\\t\n\r")


async def test_progress_off_a_terminal_is_a_line_per_phase(
        db: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Captured (CI, a pipe): no redrawn bar, but the persons in tenths and every finishing
    step by name, so a slow phase is visible in a log."""
    monkeypatch.setattr(seed_module, "CHUNK", 100)
    await seed_register(persons=1000, seed=1, now=NOW, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("seeding: ") for line in lines)
    written = [line for line in lines if "persons written" in line]
    assert 5 <= len(written) <= 11
    assert "1,000 of 1,000 persons written" in written[-1]
    steps = [line.split(" (")[0] for line in lines if "persons written" not in line]
    assert "seeding: duplicate flags" in steps
    assert any(step.startswith("seeding: index ") for step in steps)


def test_progress_on_a_terminal_is_a_bar_through_the_last_step() -> None:
    out = io.StringIO()
    progress = seed_module._Progress(
        20, Console(file=out, force_terminal=True, width=100, color_system=None))
    progress.written(20)
    progress.finishing(2)
    progress.step("index person_pkey")
    progress.step("duplicate flags")
    progress.close()
    text = out.getvalue()
    assert "20/20" in text and "index person_pkey" in text and "duplicate flags" in text
    assert "2/2" in text.rsplit("done", 1)[1]
