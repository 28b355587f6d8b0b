"""One-time codes: six digits, kept hashed, ten minutes, five wrong tries, used once."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from tortoise.transactions import in_transaction

from app import db as database
from app.meldinger import engangskoder
from app.meldinger.engangskoder import (
    MAKS_KODER,
    KodeFeil,
    Kodefeil,
    opprett_kode,
    sjekk_paa_forhaand,
    verifiser_kode,
)
from app.meldinger.models import Engangskode, Kanal, Melding
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW
PID = "17912099997"
MOBIL = "+4791234567"
EPOST = "kari@example.no"


async def issue(kanal: Kanal = Kanal.MOBIL, adresse: str = MOBIL, naa: dt.datetime = NOW) -> str:
    """Issue a code and read it back from the queued message, as the resident would."""
    async with in_transaction() as conn:
        await opprett_kode(conn, personidentifikator=PID, kanal=kanal, adresse=adresse, naa=naa)
    melding = await Melding.filter(kanal=kanal).order_by("-id").first()
    assert melding is not None
    found = re.search(r"\b(\d{6})\b", melding.tekst)
    assert found, melding.tekst
    return found.group(1)


async def verify(
    kode: str, *, kanal: Kanal = Kanal.MOBIL, adresse: str | None = MOBIL,
    naa: dt.datetime = NOW, forhaand: engangskoder.Forhaandssjekk | None = None,
) -> None:
    await verifiser_kode(database.connection(), personidentifikator=PID, kanal=kanal, kode=kode,
                         adresse=adresse, naa=naa, forhaand=forhaand)


async def precheck(kode: str, naa: dt.datetime = NOW) -> engangskoder.Forhaandssjekk | None:
    return await sjekk_paa_forhaand(personidentifikator=PID, kanal=Kanal.MOBIL, kode=kode, naa=naa)


def wrong(kode: str) -> str:
    return f"{(int(kode) + 1) % 10**6:06d}"


async def feil(kode: str, **kwargs: object) -> Kodefeil:
    with pytest.raises(KodeFeil) as err:
        await verify(kode, **kwargs)  # type: ignore[arg-type]
    assert err.value.melding  # a Norwegian sentence for the resident
    return err.value.kode


async def test_a_code_is_six_digits_sent_to_the_channel_and_stored_hashed(db):
    kode = await issue()
    assert re.fullmatch(r"\d{6}", kode)
    [melding] = await Melding.all()
    assert (melding.kanal, melding.mottaker) == (Kanal.MOBIL, MOBIL)
    assert "10 minutter" in melding.tekst
    [row] = await Engangskode.all()
    assert (row.personidentifikator, row.kanal, row.adresse) == (PID, Kanal.MOBIL, MOBIL)
    assert row.kode_hash.startswith("scrypt$")
    assert kode not in row.kode_hash
    assert row.utloper == NOW + dt.timedelta(minutes=10)


async def test_an_email_code_goes_by_email(db):
    await issue(Kanal.EPOST, EPOST)
    [melding] = await Melding.all()
    assert (melding.kanal, melding.mottaker) == (Kanal.EPOST, EPOST)
    assert melding.emne


async def test_the_right_code_is_accepted_once(db):
    kode = await issue()
    await verify(f" {kode} ")
    row = await Engangskode.get()
    assert (row.brukt, row.feil_forsok) == (NOW, 0)
    assert await feil(kode) == Kodefeil.INGEN_KODE


async def test_no_code_at_all(db):
    assert await feil("123456") == Kodefeil.INGEN_KODE
    await issue(Kanal.EPOST, EPOST)
    assert await feil("123456", kanal=Kanal.MOBIL) == Kodefeil.INGEN_KODE


async def test_a_code_expires_after_ten_minutes(db):
    kode = await issue()
    assert await feil(kode, naa=NOW + dt.timedelta(minutes=10)) == Kodefeil.KODE_UTLOPT
    await verify(kode, naa=NOW + dt.timedelta(minutes=9, seconds=59))


async def test_five_wrong_tries_void_the_code(db):
    kode = await issue()
    for igjen in (4, 3, 2, 1):
        with pytest.raises(KodeFeil) as err:
            await verify(wrong(kode))
        assert err.value.kode == Kodefeil.FEIL_KODE
        assert f"{igjen} forsøk igjen" in err.value.melding
    assert await feil(wrong(kode)) == Kodefeil.FOR_MANGE_FORSOK
    assert await feil(kode) == Kodefeil.FOR_MANGE_FORSOK  # the right one is too late now
    assert (await Engangskode.get()).feil_forsok == 5


async def test_malformed_input_counts_as_a_wrong_try(db):
    kode = await issue()
    assert await feil("12a456") == Kodefeil.FEIL_KODE
    assert await feil(kode + "0") == Kodefeil.FEIL_KODE
    assert (await Engangskode.get()).feil_forsok == 2
    await verify(kode)


async def test_parallel_guesses_cannot_exceed_five(db):
    kode = await issue()
    results = await asyncio.gather(
        *(verify(wrong(kode)) for _ in range(12)), return_exceptions=True
    )
    assert all(isinstance(r, KodeFeil) for r in results)
    assert (await Engangskode.get()).feil_forsok == 5
    assert await feil(kode) == Kodefeil.FOR_MANGE_FORSOK


async def test_a_changed_address_voids_the_code(db):
    kode = await issue()
    assert await feil(kode, adresse="+4799999999") == Kodefeil.ADRESSE_ENDRET
    assert await feil(kode, adresse=MOBIL) == Kodefeil.KODE_UTLOPT
    assert await feil(kode, adresse=None) == Kodefeil.KODE_UTLOPT


async def test_a_new_code_voids_the_earlier_one(db):
    first = await issue()
    second = await issue(naa=NOW + dt.timedelta(minutes=1))
    later = NOW + dt.timedelta(minutes=2)
    if first != second:
        assert await feil(first, naa=later) == Kodefeil.FEIL_KODE
    await verify(second, naa=later)
    first_row = await Engangskode.all().order_by("id").first()
    assert first_row is not None and first_row.utloper == NOW + dt.timedelta(minutes=1)


async def test_codes_are_per_channel(db):
    mobil = await issue()
    epost = await issue(Kanal.EPOST, EPOST)
    await verify(epost, kanal=Kanal.EPOST, adresse=EPOST)
    await verify(mobil)


async def test_too_many_codes_in_an_hour_are_refused(db):
    for minute in range(MAKS_KODER):
        await issue(naa=NOW + dt.timedelta(minutes=minute))
    with pytest.raises(KodeFeil) as err:
        await issue(naa=NOW + dt.timedelta(minutes=30))
    assert err.value.kode == Kodefeil.FOR_MANGE_KODER
    assert await Melding.all().count() == MAKS_KODER  # the refused one queued nothing
    await issue(naa=NOW + dt.timedelta(hours=1, minutes=MAKS_KODER))


async def test_old_codes_are_cleaned_up(db):
    await issue()
    await issue(naa=NOW + dt.timedelta(days=2))
    assert await Engangskode.all().count() == 1


async def test_a_wrong_try_counts_when_the_caller_commits_before_raising(db):
    """The pattern for a caller that verifies inside its own transaction."""
    kode = await issue()
    caught: KodeFeil | None = None
    async with in_transaction() as conn:
        try:
            await verifiser_kode(conn, personidentifikator=PID, kanal=Kanal.MOBIL,
                                 kode=wrong(kode), adresse=MOBIL, naa=NOW)
        except KodeFeil as exc:
            caught = exc
    assert caught is not None and caught.kode == Kodefeil.FEIL_KODE
    assert (await Engangskode.get()).feil_forsok == 1


# --- the hash worked out before the writer's transaction (app.innbyggere.store) ---------------


async def test_parallel_guesses_checked_beforehand_cannot_exceed_five(db):
    """The comparison runs before the transaction; each try is still counted in it first."""
    kode = await issue()

    async def guess() -> None:
        await verify(wrong(kode), forhaand=await precheck(wrong(kode)))

    results = await asyncio.gather(*(guess() for _ in range(12)), return_exceptions=True)
    assert all(isinstance(r, KodeFeil) for r in results)
    assert (await Engangskode.get()).feil_forsok == 5
    assert await feil(kode) == Kodefeil.FOR_MANGE_FORSOK


async def test_a_right_guess_checked_against_a_replaced_code_is_not_accepted(db):
    """A new code issued between the check and the transaction: the check named the old code,
    so the try is compared with the new one again."""
    first = await issue()
    forhaand = await precheck(first, NOW + dt.timedelta(seconds=30))
    assert forhaand is not None and forhaand.stemmer
    second = await issue(naa=NOW + dt.timedelta(minutes=1))
    later = NOW + dt.timedelta(minutes=2)
    if first != second:
        with pytest.raises(KodeFeil) as err:
            await verify(first, naa=later, forhaand=forhaand)
        assert err.value.kode == Kodefeil.FEIL_KODE
    await verify(second, naa=later, forhaand=await precheck(second, later))


async def test_guessing_a_used_up_code_costs_no_hashing(db, monkeypatch):
    """Past five tries, once used or expired, a try is refused without running scrypt."""
    hashed: list[str] = []
    real = engangskoder._hash
    monkeypatch.setattr(engangskoder, "_hash", lambda kode, salt: hashed.append(kode)
                        or real(kode, salt))

    async def tries_cost_no_hash(kode: str, naa: dt.datetime, grunn: Kodefeil) -> None:
        before = len(hashed)
        assert await precheck(kode, naa) is None
        assert await feil(kode, naa=naa) == grunn
        assert len(hashed) == before

    kode = await issue()
    for _ in range(5):
        await feil(wrong(kode))
    await tries_cost_no_hash(kode, NOW, Kodefeil.FOR_MANGE_FORSOK)
    later = NOW + dt.timedelta(minutes=1)
    used = await issue(naa=later)
    await verify(used, naa=later)
    await tries_cost_no_hash(used, later, Kodefeil.INGEN_KODE)
    expired = await issue(naa=later)
    await tries_cost_no_hash(expired, later + dt.timedelta(minutes=10), Kodefeil.KODE_UTLOPT)
