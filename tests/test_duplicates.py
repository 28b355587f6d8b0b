"""The stored duplicate flags: every writer keeps them equal to the rule ("another AKTIV person
has the same address"), which the lookup used to compute on every read."""

from __future__ import annotations

import asyncio
import datetime as dt

from app import db as database
from app.endringer.store import endre_identifikator
from app.innbyggere import store as residents
from app.meldinger.models import Kanal
from app.personer import register
from app.personer.models import Person
from app.testdata import store as testdata
from app.testdata.seed import seed_register
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

# The rule written out independently of app.personer.register, as the oracle of these tests.
AVVIK = """SELECT p.personidentifikator FROM person p WHERE
 p.epostadresse_duplisert <> EXISTS (SELECT 1 FROM person o WHERE o.epostadresse = p.epostadresse
   AND o.status = 'AKTIV' AND o.personidentifikator <> p.personidentifikator)
 OR p.mobiltelefonnummer_duplisert <> EXISTS (SELECT 1 FROM person o
   WHERE o.mobiltelefonnummer = p.mobiltelefonnummer AND o.status = 'AKTIV'
   AND o.personidentifikator <> p.personidentifikator)"""


async def avvik() -> list[str]:
    """Persons whose stored flags differ from the rule (none, when every writer kept them)."""
    _, rows = await database.connection().execute_query(AVVIK)
    return [r[0] for r in rows]


async def flagg(pid: str) -> tuple[bool, bool]:
    record = (await register.hent_personer([pid]))[pid]
    return record.epostadresse_duplisert, record.mobiltelefonnummer_duplisert


async def test_a_resident_moving_off_a_shared_address_clears_the_other_holder(db) -> None:
    a, b, c = new_id(900), new_id(901), new_id(902)
    await person(a, epost="delt@example.no", mobil="+4791111111")
    await person(b, epost="delt@example.no", mobil="+4792222222")
    await person(c, epost="annen@example.no", mobil="+4793333333")
    assert await flagg(a) == (True, False) and await flagg(b) == (True, False)

    await residents.oppdater_kontaktinformasjon(
        a, {Kanal.EPOST: "annen@example.no", Kanal.MOBIL: "+4792222222"}, FIXED_NOW
    )
    assert await flagg(a) == (True, True)  # now shares c's e-mail and b's mobile
    assert await flagg(b) == (False, True)  # nobody else has delt@ any more
    assert await flagg(c) == (True, False)
    assert await avvik() == []


async def test_a_deleted_entry_no_longer_makes_others_duplicates(db) -> None:
    a, b = new_id(910), new_id(911)
    await person(a, epost="delt@example.no")
    await person(b, epost="delt@example.no")
    await residents.slett(a, FIXED_NOW)
    assert (await flagg(b))[0] is False
    assert await avvik() == []


async def test_a_new_id_takes_its_addresses_and_flags_along(db) -> None:
    fra, til, annen = new_id(920), new_id(921), new_id(922)
    await person(fra, epost="delt@example.no", mobil="+4794444444")
    await person(annen, epost="delt@example.no", mobil="+4795555555")
    await endre_identifikator(fra, til)
    assert await flagg(til) == (True, False)
    assert (await flagg(annen))[0] is True
    assert await flagg(fra) == (False, False)  # SLETTET without contact information
    assert await avvik() == []


async def test_test_persons_and_a_seeded_register_hold_the_rule(db) -> None:
    await seed_register(persons=3000, seed=5, now=FIXED_NOW)
    _, rows = await database.connection().execute_query(
        "SELECT COUNT(*) FROM person WHERE epostadresse_duplisert OR mobiltelefonnummer_duplisert"
    )
    assert int(rows[0][0]) > 0  # the seed shares some addresses on purpose
    await testdata.opprett_testpersoner(20, testdata.Testprofil.FULL, FIXED_NOW)
    assert await avvik() == []


async def test_entries_written_without_the_flags_get_them_from_the_bulk_recompute(db) -> None:
    """Rows loaded without flags (as a bulk load writes them) and the recompute after it."""
    for i, epost in enumerate(["x@example.no", "x@example.no", "y@example.no"]):
        await Person.create(personidentifikator=new_id(930 + i), epostadresse=epost,
                            reservasjon=False, endrings_id=0,
                            spraak_oppdatert=FIXED_NOW - dt.timedelta(days=1))
    assert await avvik() == [new_id(930), new_id(931)]
    await register.oppdater_alle_duplikater(database.connection())
    assert await avvik() == []


async def test_two_residents_taking_the_same_address_at_once_are_both_flagged(db) -> None:
    """Concurrent writers (really concurrent on PostgreSQL): each recompute must see the rows
    the others wrote, or some of the four would stay unflagged."""
    pids = [new_id(940 + i) for i in range(4)]
    for i, pid in enumerate(pids):
        await person(pid, epost=f"egen{i}@example.no", mobil=f"+479600000{i}")
    await asyncio.gather(*(
        residents.oppdater_kontaktinformasjon(pid, {Kanal.EPOST: "felles@example.no"}, FIXED_NOW)
        for pid in pids
    ))
    assert [await flagg(pid) for pid in pids] == [(True, False)] * 4
    assert await avvik() == []
