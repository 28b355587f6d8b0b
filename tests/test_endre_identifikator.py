"""endreIdentifikator over HTTP: the entry moves to the new id, the newer value of each part
wins, the old id becomes SLETTET, and a second run changes nothing."""

from __future__ import annotations

import pytest

from app.personer.models import Person, Registerstatus
from tests.factories import DIGIPOST, EBOKS, months_ago, new_id, provider
from tests.test_feed import FOLKEREGISTER, gql, registrert, siste

ENDRE = """mutation($f: String!, $t: String!) {
  endreIdentifikator(fra: $f, til: $t) { fra til endret flyttet beholdt }
}"""

CHANNEL_FIELDS = {
    "epost": ("epostadresse", "epostadresse_oppdatert", "epostadresse_sist_verifisert",
              "epostadresse_sist_validert"),
    "mobil": ("mobiltelefonnummer", "mobiltelefonnummer_oppdatert",
              "mobiltelefonnummer_sist_verifisert", "mobiltelefonnummer_sist_validert"),
}


async def endre(client, token, fra, til):
    return await gql(client, token, ENDRE, {"f": fra, "t": til})


async def rows() -> dict[str, dict]:
    """Every stored row, every column."""
    return {r["personidentifikator"]: r for r in await Person.all().values()}


def values(person: Person, *names: str) -> tuple:
    return tuple(getattr(person, n) for n in names)


async def test_moves_everything_to_a_new_id(client, mint):
    await provider()
    fra, til = new_id(0, d_number=True), new_id(0)
    await registrert(
        fra, reservasjon=True, reservasjonstidspunkt=months_ago(5),
        reservasjon_oppdatert=months_ago(5), spraak="se", spraak_oppdatert=months_ago(4),
        postkasseadresse="ola#digipost", postkasseleverandoer_id=DIGIPOST,
    )
    old = await Person.get(personidentifikator=fra)
    counter = await siste()
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert "errors" not in body, body
    assert body["data"]["endreIdentifikator"] == {
        "fra": fra, "til": til, "endret": True,
        "flyttet": ["EPOST", "MOBIL", "RESERVASJON", "SPRAAK", "POSTKASSE"], "beholdt": [],
    }
    new = await Person.get(personidentifikator=til)
    moved = (*CHANNEL_FIELDS["epost"], *CHANNEL_FIELDS["mobil"], "reservasjon",
             "reservasjonstidspunkt", "reservasjon_oppdatert", "spraak", "spraak_oppdatert",
             "postkasseadresse", "postkasseleverandoer_id")
    assert values(new, *moved) == values(old, *moved)
    assert new.status is Registerstatus.AKTIV
    gone = await Person.get(personidentifikator=fra)
    assert gone.status is Registerstatus.SLETTET
    cleared = (*CHANNEL_FIELDS["epost"], *CHANNEL_FIELDS["mobil"], "spraak", "spraak_oppdatert",
               "postkasseadresse", "postkasseleverandoer_id")
    assert all(getattr(gone, n) is None for n in cleared)
    assert gone.reservasjon is True  # shown for a SLETTET entry, as in lookups
    # Both rows changed in one transaction: the next two numbers.
    assert {gone.endrings_id, new.endrings_id} == {counter + 1, counter + 2}
    assert await siste() == counter + 2


async def test_running_it_twice_changes_nothing_more(client, mint):
    fra, til = new_id(1), new_id(2)
    await registrert(fra)
    first = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert first["data"]["endreIdentifikator"]["endret"] is True
    snapshot = await rows()
    counter = await siste()
    second = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert second["data"]["endreIdentifikator"] == {
        "fra": fra, "til": til, "endret": False, "flyttet": [], "beholdt": [],
    }
    assert await rows() == snapshot
    assert await siste() == counter


async def test_each_part_keeps_its_most_recently_updated_value(client, mint):
    await provider()
    await provider(EBOKS, "e-Boks")
    fra, til = new_id(3), new_id(4)
    await registrert(
        fra,
        epost="ny@example.no", epost_alder=1,  # updated 7 months ago: newer
        mobil="+4790000003", mobil_alder=12,  # older
        reservasjon=True, reservasjonstidspunkt=months_ago(2),
        reservasjon_oppdatert=months_ago(2),  # newer
        spraak="nn", spraak_oppdatert=months_ago(20),  # older
        postkasseadresse="fra#digipost", postkasseleverandoer_id=DIGIPOST,
    )
    await registrert(
        til,
        epost="gammel@example.no", epost_alder=12,
        mobil="+4790000004", mobil_alder=2,
        reservasjon=False, reservasjon_oppdatert=months_ago(10),
        spraak="en", spraak_oppdatert=months_ago(1),
        postkasseadresse="til#eboks", postkasseleverandoer_id=EBOKS,
    )
    old_fra = await Person.get(personidentifikator=fra)
    old_til = await Person.get(personidentifikator=til)
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    result = body["data"]["endreIdentifikator"]
    assert result["flyttet"] == ["EPOST", "RESERVASJON"]
    assert result["beholdt"] == ["MOBIL", "SPRAAK", "POSTKASSE"]
    new = await Person.get(personidentifikator=til)
    assert values(new, *CHANNEL_FIELDS["epost"]) == values(old_fra, *CHANNEL_FIELDS["epost"])
    assert values(new, *CHANNEL_FIELDS["mobil"]) == values(old_til, *CHANNEL_FIELDS["mobil"])
    assert values(new, "reservasjon", "reservasjonstidspunkt", "reservasjon_oppdatert") == (
        True, months_ago(2), months_ago(2))
    assert (new.spraak, new.spraak_oppdatert) == ("en", months_ago(1))
    assert (new.postkasseadresse, new.postkasseleverandoer_id) == ("til#eboks", EBOKS)


async def test_a_mailbox_moves_when_the_new_id_has_none(client, mint):
    await provider()
    fra, til = new_id(5), new_id(6)
    await registrert(fra, postkasseadresse="fra#digipost", postkasseleverandoer_id=DIGIPOST)
    await registrert(til)
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert "POSTKASSE" in body["data"]["endreIdentifikator"]["flyttet"]
    new = await Person.get(personidentifikator=til)
    assert (new.postkasseadresse, new.postkasseleverandoer_id) == ("fra#digipost", DIGIPOST)


async def test_equal_dates_keep_the_new_ids_value(client, mint):
    fra, til = new_id(7), new_id(8)
    await registrert(fra, epost="a@example.no")
    await registrert(til, epost="b@example.no")
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert "EPOST" in body["data"]["endreIdentifikator"]["beholdt"]
    assert (await Person.get(personidentifikator=til)).epostadresse == "b@example.no"


async def test_a_deleted_new_id_becomes_active_with_the_old_ids_entry(client, mint):
    fra, til = new_id(9), new_id(10)
    await registrert(fra, epost="x@example.no")
    await registrert(til, status=Registerstatus.SLETTET, epost=None, mobil=None, spraak=None,
                     spraak_oppdatert=None)
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert body["data"]["endreIdentifikator"]["endret"] is True
    new = await Person.get(personidentifikator=til)
    assert new.status is Registerstatus.AKTIV
    assert new.epostadresse == "x@example.no"


async def test_an_unknown_old_id_moves_nothing(client, mint):
    fra, til = new_id(11), new_id(12)
    await registrert(til)
    before = await rows()
    counter = await siste()
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    assert body["data"]["endreIdentifikator"]["endret"] is False
    assert not await Person.exists(personidentifikator=fra)
    assert await rows() == before
    assert await siste() == counter


async def test_other_holders_of_a_changed_address_get_new_numbers(client, mint):
    """Their duplicate flag may change, so they come again in the change feed."""
    deler, ukjent, fra, til = new_id(13), new_id(14), new_id(15), new_id(16)
    await registrert(deler, epost="felles@example.no", mobil="+4790000013")
    await registrert(ukjent, epost="annen@example.no", mobil="+4790000014")
    await registrert(fra, epost="felles@example.no", mobil="+4790000015")
    numbers = {p.personidentifikator: p.endrings_id for p in await Person.all()}
    counter = await siste()
    await endre(client, mint(FOLKEREGISTER), fra, til)
    after = {p.personidentifikator: p.endrings_id for p in await Person.all()}
    assert after[ukjent] == numbers[ukjent]
    assert after[deler] > counter
    assert await siste() == counter + 3


@pytest.mark.parametrize(
    ("fra", "til", "bad"),
    [("12345", new_id(17), ["12345"]), (new_id(17), "17912099998", ["17912099998"])],
)
async def test_invalid_ids_are_bad_user_input(client, mint, fra, til, bad):
    await registrert(new_id(17))
    body = await endre(client, mint(FOLKEREGISTER), fra, til)
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["ugyldigePersonidentifikatorer"] == bad
    assert (await Person.get(personidentifikator=new_id(17))).status is Registerstatus.AKTIV


async def test_the_same_id_twice_is_bad_user_input(client, mint):
    pid = new_id(18)
    await registrert(pid)
    body = await endre(client, mint(FOLKEREGISTER), pid, pid)
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await Person.get(personidentifikator=pid)).status is Registerstatus.AKTIV


async def test_needs_the_population_register_scope(client, mint):
    fra, til = new_id(19), new_id(20)
    await registrert(fra)
    for token in (mint("krr:global/spraak.write krr:admin/delegering.write"),
                  mint(FOLKEREGISTER, supplier="991825827")):
        body = await endre(client, token, fra, til)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not await Person.exists(personidentifikator=til)
    body = await endre(client, mint(""), fra, til)
    assert body["errors"][0]["extensions"]["scope"] == FOLKEREGISTER
