"""Expiry reminders: exactly the channels that pass 18 months within two months, once each."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from dateutil.relativedelta import relativedelta

from app.meldinger.models import Kanal, Melding
from app.meldinger.paaminnelser import varsle_utlop
from app.personer.models import Person, Registerstatus
from tests.conftest import FIXED_NOW
from tests.factories import months_ago, new_id, person

NOW = FIXED_NOW
ROOT = Path(__file__).resolve().parent.parent


async def queued() -> set[tuple[str, Kanal]]:
    return {(m.mottaker, m.kanal) for m in await Melding.all()}


def epost_fersk(months: int, days: int = 0) -> dict[str, object]:
    """E-mail fields whose freshness date is `months` (and `days`) before NOW."""
    return {"epostadresse_oppdatert": months_ago(40),
            "epostadresse_sist_verifisert": months_ago(months, days)}


async def test_exactly_the_channels_about_to_expire_get_a_reminder(db):
    await person(new_id(0), epost="a@x.no", mobil=None, **epost_fersk(16, 1))  # < 2 months left
    await person(new_id(1), epost="b@x.no", mobil=None, **epost_fersk(15))  # 3 months left
    await person(new_id(2), epost="c@x.no", mobil=None, **epost_fersk(19))  # already expired
    await person(new_id(3), epost="d@x.no", mobil=None, **epost_fersk(18))  # expired right now
    await person(new_id(4), epost="e@x.no", mobil=None, **epost_fersk(16))  # exactly 2 months
    await person(new_id(5), epost=None, mobil="+4790000005", mobil_alder=17)
    await person(new_id(6), epost="g@x.no", mobil="+4790000006", epost_alder=17,
                 mobil_alder=17, status=Registerstatus.SLETTET)
    # the later of the two dates counts: updated long ago, confirmed 15 months ago
    await person(new_id(7), epost="h@x.no", mobil=None, **epost_fersk(15))
    # updated 17 months ago and never confirmed
    await person(new_id(8), epost="i@x.no", mobil=None,
                 epostadresse_oppdatert=months_ago(17), epostadresse_sist_verifisert=None)
    # each channel alone: the e-mail is due, the mobile is fresh
    await person(new_id(9), epost="j@x.no", mobil="+4790000009", epost_alder=17, mobil_alder=1)

    assert await varsle_utlop(NOW) == 5
    assert await queued() == {
        ("a@x.no", Kanal.EPOST), ("e@x.no", Kanal.EPOST), ("+4790000005", Kanal.MOBIL),
        ("i@x.no", Kanal.EPOST), ("j@x.no", Kanal.EPOST),
    }


async def test_reminders_are_queued_once_per_expiry(db):
    await person(new_id(0), epost="a@x.no", mobil="+4790000000", epost_alder=17,
                 mobil_alder=17)
    assert await varsle_utlop(NOW) == 2
    assert await varsle_utlop(NOW) == 0
    assert await varsle_utlop(NOW + dt.timedelta(days=20)) == 0
    assert await Melding.all().count() == 2


async def test_a_renewed_channel_gets_a_new_reminder_when_it_expires_again(db):
    p = await person(new_id(0), epost="a@x.no", mobil=None, epost_alder=17)
    assert await varsle_utlop(NOW) == 1
    p.epostadresse_sist_verifisert = NOW  # the resident confirmed
    await p.save()
    assert await varsle_utlop(NOW) == 0
    later = NOW + relativedelta(months=17)
    assert await varsle_utlop(later) == 1
    assert await varsle_utlop(later) == 0
    assert await Melding.filter(mottaker="a@x.no").count() == 2


async def test_the_register_is_read_in_batches(db):
    for n in range(7):
        await person(new_id(n), epost=f"p{n}@x.no", mobil=None, epost_alder=17)
    await person(new_id(7), epost="fresh@x.no", mobil=None, epost_alder=1)
    assert await varsle_utlop(NOW, batch=2) == 7
    assert await varsle_utlop(NOW, batch=3) == 0


async def test_the_reminder_names_the_channel_and_the_deadline(db):
    await person(new_id(0), epost=None, mobil="+4790000000",
                 mobiltelefonnummer_oppdatert=dt.datetime(2025, 2, 10, 9, 0, tzinfo=dt.UTC),
                 mobiltelefonnummer_sist_verifisert=None)
    assert await varsle_utlop(NOW) == 1
    melding = await Melding.get()
    assert melding.kanal == Kanal.MOBIL
    assert "Mobilnummeret ditt" in melding.tekst
    assert "10.02.2025" in melding.tekst and "10.08.2026" in melding.tekst
    assert melding.noekkel.startswith(f"utlop:MOBIL:{new_id(0)}:")


# --- the command -----------------------------------------------------------------------------


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(" ")


def test_krr_varsle_utlop_prints_how_many_it_queued(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    database = tmp_path / "cli.sqlite3"
    env |= {
        "KRR_ENV": "dev",
        "KRR_VAR_DIR": str(tmp_path / "var"),
        "KRR_DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": str(ROOT),
    }

    def krr(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True,
            text=True, timeout=120, check=True,
        ).stdout

    krr("migrate")
    now = dt.datetime.now(dt.UTC)
    rows = [
        (new_id(0), "a@x.no", now - relativedelta(months=17), "+4790000000",
         now - relativedelta(months=17)),
        (new_id(1), "b@x.no", now - relativedelta(months=1), None, None),
    ]
    with sqlite3.connect(database) as conn:
        conn.executemany(
            "INSERT INTO person (personidentifikator, status, reservasjon, epostadresse,"
            " epostadresse_oppdatert, mobiltelefonnummer, mobiltelefonnummer_oppdatert)"
            " VALUES (?, 'AKTIV', 0, ?, ?, ?, ?)",
            [(pid, e, _ts(eo), m, _ts(mo) if mo else None) for pid, e, eo, m, mo in rows],
        )
    assert krr("varsle-utlop").strip() == "queued 2 expiry reminders"
    assert krr("varsle-utlop").strip() == "queued 0 expiry reminders"
    assert krr("send-meldinger").strip().startswith("sent 2 messages, 0 failed")
    assert krr("send-meldinger").strip().startswith("sent 0 messages")
    sent = (tmp_path / "var" / "meldinger.txt").read_text()
    assert "E-postadressen din" in sent and "Mobilnummeret ditt" in sent


async def test_person_model_is_untouched(db):
    """The reminder job only reads the register."""
    p = await person(new_id(0), epost="a@x.no", mobil=None, epost_alder=17)
    await varsle_utlop(NOW)
    again = await Person.get(personidentifikator=p.personidentifikator)
    assert again.endrings_id == p.endrings_id
