"""The key figures' running totals (app.statistikk.grunnlag) agree with a count of the persons
themselves after every kind of write: the seed's bulk load and its replacement of the
register, persons added one by one, changed in every counted field, deleted; and for cutoffs
falling on any day, the one day counted through the index included."""

from __future__ import annotations

import datetime as dt
import importlib

from app import db as database
from app.personer.models import Person, Registerstatus
from app.statistikk import grunnlag, store
from app.testdata.seed import seed_register
from tests.conftest import FIXED_NOW
from tests.factories import DIGIPOST, months_ago, new_id, person, provider

MIGRATION = importlib.import_module("app.migrations.0012_nokkeltall")


async def agree(now: dt.datetime) -> None:
    assert await store.statistikk(now) == await store.statistikk_ved_skanning(now)


def moments() -> list[dt.datetime]:
    """Cutoffs on many days, some inside a day the register's fresh dates fall on."""
    return [FIXED_NOW + dt.timedelta(days=d, hours=h) for d in (-400, -31, 0, 45, 200, 600)
            for h in (0, 7, 13)]


async def test_the_totals_follow_the_seed_and_its_replacement(db):
    await seed_register(persons=1500, seed=3, now=FIXED_NOW)
    for now in moments():
        await agree(now)
    await seed_register(persons=700, seed=4, now=FIXED_NOW)  # replaces the register
    figures = await store.statistikk(FIXED_NOW)
    assert figures.registrerte == (await store.statistikk_ved_skanning(FIXED_NOW)).registrerte
    for now in moments():
        await agree(now)


async def test_the_totals_follow_every_write_of_a_person(db):
    await provider(DIGIPOST)
    ids = [new_id(n) for n in range(12)]
    for n, pid in enumerate(ids):
        await person(pid, epost_alder=n * 3, mobil_alder=n * 2 + 1,
                     epost=None if n % 5 == 0 else f"p{n}@example.no",
                     postkasseadresse="digipost#1" if n % 2 else None,
                     postkasseleverandoeradresse=DIGIPOST if n % 2 else None)
    await agree(FIXED_NOW)

    await Person.filter(personidentifikator=ids[1]).update(reservasjon=True)
    await Person.filter(personidentifikator=ids[2]).update(status=Registerstatus.SLETTET)
    await Person.filter(personidentifikator=ids[3]).update(
        epostadresse=None, mobiltelefonnummer_sist_verifisert=months_ago(40),
        mobiltelefonnummer_oppdatert=months_ago(40))
    await Person.filter(personidentifikator=ids[4]).update(
        epostadresse_sist_verifisert=FIXED_NOW, postkasseadresse="")
    sql = database.Sql()  # a new id, as the population register's change does it
    await database.connection().execute_query(
        f"UPDATE person SET personidentifikator = {sql(new_id(99))}"
        f" WHERE personidentifikator = {sql(ids[5])}", sql.verdier)
    await Person.filter(personidentifikator=ids[6]).delete()
    await Person.filter(personidentifikator__in=ids[7:9]).update(
        status=Registerstatus.SLETTET, reservasjon=True)
    for now in moments():
        await agree(now)

    await Person.all().delete()
    figures = await store.statistikk(FIXED_NOW)
    assert (figures.registrerte, figures.kan_varsles) == (0, 0)
    await agree(FIXED_NOW)


async def test_the_migration_holds_a_frozen_copy_of_the_statements():
    """A change of the keys or of § 32's SQL needs a migration of its own: this fails until
    there is one (and the copy in 0012 stays what it was)."""
    for postgres, frozen in ((True, MIGRATION.POSTGRES), (False, MIGRATION.SQLITE)):
        assert frozen == [*grunnlag.tabeller_sql(postgres), *grunnlag.triggere_sql(postgres),
                          *grunnlag.fyll_sql(postgres)]
