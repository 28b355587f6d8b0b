"""The one lock order of the writers of persons (app.personer.endringsnummer.skrivetransaksjon):
residents taking each other's addresses at once, with a public body's settSpraak and the
population register's endreIdentifikator beside them, never deadlock, keep the duplicate flags
right and the change numbers in commit order (really concurrent on PostgreSQL)."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
from pathlib import Path

import pytest

from app import db as database
from app.endringer.store import endre_identifikator, sett_spraak
from app.innbyggere import store as residents
from app.meldinger import engangskoder
from app.personer import register
from app.personer.endringsnummer import neste_endrings_id, siste_endrings_id, skrivetransaksjon
from app.personer.felt import Kanal, PersonRecord
from app.personer.models import Person
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person
from tests.test_duplicates import avvik

ROUNDS = 50
KRYSS = 4  # residents taking the two shared pairs crosswise
NYE = 4  # residents taking, in pairs, an address nobody held before the round
E_POST = ("felles-a@example.no", "felles-b@example.no")
MOBIL = ("+4790000001", "+4790000002")
# The code hash is not under test here: cheap, so fifty rounds take a few seconds.
CHEAP_SCRYPT = {"n": 2**4, "r": 1, "p": 1, "dklen": 32}


async def registrert(pid: str, **fields: object) -> None:
    """A factory person numbered in the feed, in the writers' transaction."""
    async with skrivetransaksjon() as conn:
        nummer = await neste_endrings_id(conn)
        await person(pid, endrings_id=nummer, using_db=conn, **fields)


async def kopier(kopi: dict[str, PersonRecord], fra: int) -> int:
    """Read the feed from `fra` to its end into `kopi`, as a reader paging by number does
    (app.endringer.store.les_endringer); the number to go on from."""
    while True:
        side = await register.hent_endringer(fra, 7)
        for _, record in side.personer:
            kopi[record.personidentifikator] = record
        if len(side.personer) == 7:
            fra = side.personer[-1][0]
            continue
        return max(fra, side.siste_endrings_id)


async def test_residents_taking_each_others_addresses_at_once_never_deadlock(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each round, all at once: four residents take one of two e-mail addresses and, crosswise,
    the other pair's mobile, so every writer wants rows the others hold; four more take, in
    pairs, an address nobody held, so each pair's first to commit is flagged only by the
    second; a public body creates an entry; a holder of both shared pairs moves to a new id.
    A reader pages the feed meanwhile.

    Before the one lock order this deadlocked within a few rounds on PostgreSQL (each writer
    locked its own row, then the other holders', then the counter), and a pair's first writer
    could keep a stale flag in the feed (the second read the holders before the first had
    committed, so did not renumber it)."""
    monkeypatch.setattr(engangskoder, "_SCRYPT", CHEAP_SCRYPT)
    kryss = [new_id(1100 + i) for i in range(KRYSS)]
    nye = [new_id(1110 + i) for i in range(NYE)]
    for i, pid in enumerate([*kryss, *nye]):
        await registrert(pid, epost=f"egen{i}@example.no", mobil=f"+479100000{i}")
    flytter = new_id(1150)
    await registrert(flytter, epost=E_POST[0], mobil=MOBIL[0], spraak=None,
                     spraak_oppdatert=None)

    kopi: dict[str, PersonRecord] = {}
    fra = [0]
    stopp = asyncio.Event()

    async def leser() -> None:
        while not stopp.is_set():
            fra[0] = await kopier(kopi, fra[0])
            await asyncio.sleep(0)

    reader = asyncio.ensure_future(leser())
    try:
        for runde in range(ROUNDS):
            til = new_id(1200 + runde)
            naa = FIXED_NOW + dt.timedelta(hours=runde)  # a resident may ask 10 codes an hour
            endringer = [
                residents.oppdater_kontaktinformasjon(pid, {
                    Kanal.EPOST: E_POST[(i + runde) % 2], Kanal.MOBIL: MOBIL[(i + runde + 1) % 2]
                }, naa)
                for i, pid in enumerate(kryss)
            ] + [
                residents.oppdater_kontaktinformasjon(
                    pid, {Kanal.EPOST: f"runde{runde}-{i // 2}@example.no"}, naa
                )
                for i, pid in enumerate(nye)
            ]
            svar = await asyncio.gather(
                *endringer,
                sett_spraak(new_id(1300 + runde), "nn", naa),
                endre_identifikator(flytter, til),
            )
            assert svar[-1].endret, runde
            flytter = til
    finally:
        stopp.set()
        await reader

    # The duplicate flags are the rule's, and everyone holding a shared address is flagged.
    assert await avvik() == []
    records = await register.hent_personer([*kryss, *nye, flytter])
    assert [r.epostadresse_duplisert for r in records.values()] == [True] * (KRYSS + NYE + 1)
    assert all(records[pid].mobiltelefonnummer_duplisert for pid in [*kryss, flytter])
    # Every change number names one row, none above the counter, and the reader, caught up,
    # holds an exact copy of the register: numbers became visible in the order taken, and
    # every row whose flags another writer changed came again.
    numbers = [p.endrings_id for p in await Person.all()]
    assert len(numbers) == len(set(numbers)) == KRYSS + NYE + 2 * ROUNDS + 1
    assert max(numbers) <= await siste_endrings_id(database.connection())
    await kopier(kopi, fra[0])
    alle = await register.hent_personer([p.personidentifikator for p in await Person.all()])
    assert kopi == alle


# --- every writer takes the same road ----------------------------------------------------------

APP = Path(__file__).resolve().parent.parent / "app"
# What writes the person table: the model's writes, raw SQL on it, a change number, and the
# write helpers of app.personer.register (which take the caller's transaction).
SKRIVER_PERSON = (
    "Person.create(", "select_for_update(", 'TRUNCATE "person"', "UPDATE person",
    "copy_records_to_table(\"person\"", "neste_endrings_id(", "ta_endrings_ider(",
    "register.oppdater_duplikater(",
    "register.oppdater_alle_duplikater(", "register.renummerer(",
    "register.laas_andre_innehavere(",
)


def _calls(node: ast.AST, name: str) -> bool:
    return any(
        isinstance(c, ast.Call)
        and (getattr(c.func, "id", None) == name or getattr(c.func, "attr", None) == name)
        for c in ast.walk(node)
    )


def _transactions_outside_the_writers(path: Path) -> list[int]:
    """Lines of `async with in_transaction()` not inside `async with skrivetransaksjon()`."""
    found: list[int] = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, ast.AsyncWith):
            opens = [item.context_expr for item in node.items]
            if any(_calls(e, "in_transaction") for e in opens) and not inside:
                found.append(node.lineno)
            inside = inside or any(_calls(e, "skrivetransaksjon") for e in opens)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def test_every_writer_of_persons_opens_the_writers_transaction() -> None:
    """A writer that opened a plain transaction would lock person rows before the counter row
    and could deadlock with the others: in every module that writes persons, a transaction is
    the writers' one (a savepoint inside it is fine)."""
    writers = [
        path for path in sorted(APP.rglob("*.py"))
        if "migrations" not in path.parts
        and path.relative_to(APP).as_posix() not in ("personer/register.py",
                                                      "personer/endringsnummer.py")
        and any(s in path.read_text() for s in SKRIVER_PERSON)
    ]
    assert {p.relative_to(APP).as_posix() for p in writers} >= {
        "cli.py", "endringer/store.py", "innbyggere/store.py", "testdata/seed.py",
        "testdata/store.py",
    }
    assert {
        p.relative_to(APP).as_posix(): lines for p in writers
        if (lines := _transactions_outside_the_writers(p))
    } == {}
