"""settSpraak over HTTP: a public body sets a language only where the register holds none."""

from __future__ import annotations

import asyncio

import pytest

from app.personer.models import Person, Registerstatus
from tests.conftest import FIXED_NOW
from tests.factories import months_ago, new_id
from tests.test_feed import SPRAAK, gql, registrert, siste

SETT = """mutation($p: String!, $s: String!) {
  settSpraak(personidentifikator: $p, spraak: $s) {
    personidentifikator spraak spraakOppdatert status opprettet
  }
}"""


async def sett(client, token, pid, spraak="nn"):
    return await gql(client, token, SETT, {"p": pid, "s": spraak})


async def test_sets_the_language_of_a_registered_person_without_one(client, mint):
    pid = new_id(0)
    await registrert(pid, spraak=None, spraak_oppdatert=None)
    before = await siste()
    body = await sett(client, mint(SPRAAK), pid, "nn")
    assert "errors" not in body, body
    assert body["data"]["settSpraak"] == {
        "personidentifikator": pid, "spraak": "nn", "spraakOppdatert": FIXED_NOW.isoformat(),
        "status": "AKTIV", "opprettet": False,
    }
    stored = await Person.get(personidentifikator=pid)
    assert (stored.spraak, stored.spraak_oppdatert) == ("nn", FIXED_NOW)
    assert stored.epostadresse == "kari@example.no"  # nothing else touched
    assert stored.endrings_id == before + 1 == await siste()


async def test_creates_an_entry_with_only_a_language_for_a_person_not_registered(client, mint):
    pid = new_id(1)
    body = await sett(client, mint(SPRAAK), pid, "se")
    assert body["data"]["settSpraak"]["opprettet"] is True
    stored = await Person.get(personidentifikator=pid)
    assert stored.status is Registerstatus.AKTIV
    assert stored.reservasjon is False
    assert (stored.spraak, stored.spraak_oppdatert) == ("se", FIXED_NOW)
    assert stored.epostadresse is None and stored.mobiltelefonnummer is None
    assert stored.postkasseadresse is None and stored.reservasjon_oppdatert is None
    assert stored.endrings_id == await siste()


async def test_a_language_in_the_register_stands(client, mint):
    pid = new_id(2)
    await registrert(pid, spraak="nb", spraak_oppdatert=months_ago(3))
    before = await Person.get(personidentifikator=pid)
    counter = await siste()
    body = await sett(client, mint(SPRAAK), pid, "en")
    assert body["data"] is None
    [err] = body["errors"]
    assert err["extensions"]["code"] == "CONFLICT"
    assert "own choice stands" in err["message"]
    after = await Person.get(personidentifikator=pid)
    assert (after.spraak, after.spraak_oppdatert, after.endrings_id) == (
        "nb", months_ago(3), before.endrings_id)
    assert await siste() == counter  # the number taken inside the refused write rolled back


async def test_the_same_language_again_is_still_a_conflict(client, mint):
    """Who chose it is not recorded; the register never says which language a person has."""
    pid = new_id(3)
    await sett(client, mint(SPRAAK), pid, "nb")
    body = await sett(client, mint(SPRAAK), pid, "nb")
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_a_deleted_entry_without_a_language_gets_it_and_stays_deleted(client, mint):
    pid = new_id(4)
    await registrert(pid, status=Registerstatus.SLETTET, epost=None, mobil=None, spraak=None,
                     spraak_oppdatert=None)
    body = await sett(client, mint(SPRAAK), pid, "nn")
    assert body["data"]["settSpraak"]["status"] == "SLETTET"
    assert body["data"]["settSpraak"]["opprettet"] is False
    stored = await Person.get(personidentifikator=pid)
    assert (stored.status, stored.spraak) == (Registerstatus.SLETTET, "nn")
    assert stored.endrings_id == await siste()


async def test_a_deleted_entry_with_a_language_is_a_conflict(client, mint):
    pid = new_id(5)
    await registrert(pid, status=Registerstatus.SLETTET)
    body = await sett(client, mint(SPRAAK), pid, "nn")
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


@pytest.mark.parametrize("spraak", ["", "NB", "no", "de", "nob", "sme", " nb"])
async def test_only_nb_nn_en_se(client, mint, spraak):
    pid = new_id(6)
    body = await sett(client, mint(SPRAAK), pid, spraak)
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "nb, nn, en, se" in err["message"]
    assert not await Person.exists(personidentifikator=pid)


@pytest.mark.parametrize("bad", ["12345", "17912099998", "1791209999a", ""])
async def test_an_invalid_id_is_bad_user_input(client, mint, bad):
    body = await sett(client, mint(SPRAAK), bad, "nb")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["ugyldigePersonidentifikatorer"] == [bad]
    assert await Person.all().count() == 0


async def test_needs_its_scope(client, mint):
    body = await sett(client, mint("krr:global/kontaktinformasjon.read"), new_id(7))
    [err] = body["errors"]
    assert err["extensions"] == {"code": "FORBIDDEN", "reason": "MANGLER_SCOPE",
                                  "scope": SPRAAK}
    assert await Person.all().count() == 0


async def test_a_vendor_or_a_resident_cannot(client, mint):
    vendor = mint(SPRAAK, supplier="991825827")
    resident = mint(SPRAAK, consumer=None, pid=new_id(8))
    for token in (vendor, resident):
        body = await sett(client, token, new_id(8))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Person.all().count() == 0


async def test_two_at_once_for_a_new_person_make_one_entry(client, mint):
    pid = new_id(9)
    counter = await siste()
    svar = await asyncio.gather(
        sett(client, mint(SPRAAK), pid, "nb"), sett(client, mint(SPRAAK), pid, "nn")
    )
    ok = [b["data"]["settSpraak"] for b in svar if b.get("data")]
    refused = [b["errors"][0]["extensions"]["code"] for b in svar if b.get("errors")]
    assert len(ok) == 1 and refused == ["CONFLICT"]
    [stored] = await Person.filter(personidentifikator=pid)
    assert stored.spraak == ok[0]["spraak"]
    assert stored.endrings_id == counter + 1 == await siste()


async def test_many_at_once_for_new_and_languageless_persons(client, mint):
    """Concurrent calls for different persons all succeed, each with its own change number."""
    ids = [new_id(20 + i) for i in range(8)]
    for pid in ids[:4]:
        await registrert(pid, spraak=None, spraak_oppdatert=None)
    counter = await siste()
    svar = await asyncio.gather(*(sett(client, mint(SPRAAK), pid, "en") for pid in ids))
    assert all("errors" not in b for b in svar), svar
    numbers = sorted(p.endrings_id for p in await Person.filter(personidentifikator__in=ids))
    assert numbers == list(range(counter + 1, counter + 9))
