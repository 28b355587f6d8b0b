"""Feed positions (issue 13, item 4): a local copy kept as Altinn's profile service keeps it, over
REST and GraphQL, and positions this register never handed out refused by name.

A position runs from 0 to sisteEndringsId. One beyond it (the real register numbers its changes
above 200,000,000) or below 0 used to give an empty page, and the reader stopped believing
itself current; now it is BAD_USER_INPUT naming sisteEndringsId, with its value as a number.
"""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app.endringer import store
from app.personer import register
from app.personer.endringsnummer import neste_endrings_id
from app.personer.models import Person, Registerstatus
from app.revisjon.models import Oppslag
from app.testdata.seed import seed_register
from tests.conftest import FIXED_NOW, spy_calls
from tests.test_feed import ALLE, FEED, FIELDS, gql, registeret, siste
from tests.test_lookup import BOTH
from tests.test_rest import ENDRINGER, rest, snake

REAL_REGISTER = 200_000_001  # a position from the real register (numbers above 200,000,000)
INTERFACES = ["rest", "graphql"]


class Avvist(Exception):
    """The register refused a page: the error object, as either interface writes it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


async def page(client, token: str, interface: str, fra: int) -> dict[str, Any]:
    """One page as {personer, fraEndringsId, tilEndringsId, sisteEndringsId}; Avvist when
    refused. REST's persons are its snake_case documents, GraphQL's its camelCase objects."""
    if interface == "rest":
        response = await rest(client, ENDRINGER, token, {"fraEndringsId": fra})
        body = response.json()
        if response.status_code != 200:
            assert response.status_code == 400, response.text
            [error] = body["errors"]
            raise Avvist(error)
        return {"personer": body.pop("list"), **body}
    body = await gql(client, token, FEED % FIELDS, {"fra": fra})
    if body.get("errors"):
        assert body["data"] is None
        [error] = body["errors"]
        assert error["path"] == ["endringer"]
        raise Avvist(error)
    return body["data"]["endringer"]


async def synkroniser(client, token: str, interface: str, fra: int = 0) -> tuple[dict, int]:
    """Altinn's profile service: page with fraEndringsId = tilEndringsId until tilEndringsId ==
    sisteEndringsId, keeping each person's newest state. The copy and the pages read."""
    kopi: dict[str, dict] = {}
    sider = 0
    while True:
        side = await page(client, token, interface, fra)
        sider += 1
        assert side["fraEndringsId"] == fra
        assert fra <= side["tilEndringsId"] <= side["sisteEndringsId"]
        for p in side["personer"]:
            kopi[p["personidentifikator"]] = p
        if side["tilEndringsId"] == side["sisteEndringsId"]:
            return kopi, sider
        fra = side["tilEndringsId"]


@pytest.fixture
async def seeded(client, mint):
    """A seeded register of 2,100 synthetic persons and the examples: three pages of 1000."""
    summary = await seed_register(persons=2100, seed=13, now=FIXED_NOW)
    client.lookup_token = mint(BOTH)
    assert summary.deleted > 0
    return summary


# --- the local copy ------------------------------------------------------------------------

@pytest.mark.parametrize("interface", INTERFACES)
async def test_a_local_copy_paged_as_altinn_does_holds_every_aktiv_and_slettet_person(
    client, mint, seeded, interface
):
    kopi, sider = await synkroniser(client, mint(ALLE), interface)
    assert sider == 3
    # Every entry of the register, AKTIV and SLETTET, with its status as stored ...
    lagret = {p.personidentifikator: p for p in await Person.all()}
    status = {pid: p["status"] for pid, p in kopi.items()}
    assert status == {pid: p.status.value for pid, p in lagret.items()}
    assert set(status.values()) == {"AKTIV", "SLETTET"}
    assert sum(s == "SLETTET" for s in status.values()) == seeded.deleted
    # ... and, field by field, what a lookup of the register gives (REST in its own names).
    innhold = await registeret(client)
    assert kopi == (snake(innhold) if interface == "rest" else innhold)
    for pid, p in lagret.items():
        if p.status is Registerstatus.AKTIV and p.epostadresse is not None:
            assert kopi[pid]["kontaktinformasjon"]["epostadresse"] == p.epostadresse


@pytest.mark.parametrize("interface", INTERFACES)
async def test_a_position_at_the_newest_change_is_an_empty_current_page(
    client, mint, seeded, interface
):
    last = await siste()
    side = await page(client, mint(ALLE), interface, last)
    assert side == {"personer": [], "fraEndringsId": last, "tilEndringsId": last,
                    "sisteEndringsId": last}
    kopi, sider = await synkroniser(client, mint(ALLE), interface, last)
    assert (kopi, sider) == ({}, 1)  # current at once


# --- positions this register never handed out ---------------------------------------------

def assert_names_siste_endrings_id(error: dict[str, Any], last: int) -> None:
    """BAD_USER_INPUT naming sisteEndringsId and its value, saying what to do, and carrying
    the value as a number for a client to act on."""
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "sisteEndringsId": last}
    assert type(error["extensions"]["sisteEndringsId"]) is int
    assert f"sisteEndringsId ({last})" in error["message"]
    assert "start over from fraEndringsId 0" in error["message"]


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("fra", [REAL_REGISTER, -1], ids=["from the real register", "negative"])
async def test_a_sync_started_outside_the_feed_is_refused_naming_siste_endrings_id(
    client, mint, seeded, interface, fra
):
    last = await siste()
    with pytest.raises(Avvist) as refused:
        await synkroniser(client, mint(ALLE), interface, fra)
    assert_names_siste_endrings_id(refused.value.error, last)
    assert str(fra) in refused.value.error["message"]
    assert await Oppslag.all().count() == 0  # nothing disclosed, nothing audited


@pytest.mark.parametrize("interface", INTERFACES)
async def test_one_past_the_newest_change_is_refused_naming_siste_endrings_id(
    client, mint, interface
):
    last = await siste()
    with pytest.raises(Avvist) as refused:
        await page(client, mint(ALLE), interface, last + 1)
    assert_names_siste_endrings_id(refused.value.error, last)
    assert f"fraEndringsId {last + 1} is beyond sisteEndringsId" in refused.value.error["message"]


@pytest.mark.parametrize("fra", [2**63, -(2**63)])
async def test_a_position_no_64_bit_change_number_can_be_is_refused_alike(client, mint, fra):
    """REST takes any JSON integer; past 64 bits it is refused by the same rule, not by SQL."""
    last = await siste()
    with pytest.raises(Avvist) as refused:
        await page(client, mint(ALLE), "rest", fra)
    assert_names_siste_endrings_id(refused.value.error, last)


async def test_the_position_is_judged_against_siste_endrings_id_of_the_pages_own_snapshot(
    client, mint, monkeypatch
):
    """The page and the number it is judged against come from one statement: a writer that
    commits right after it does not change the verdict, and no second read is made."""
    last = await siste()
    real = register.hent_endringer

    async def then_a_writer_commits(fra: int, antall: int) -> register.Endringsside:
        side = await real(fra, antall)
        async with in_transaction() as conn:
            await neste_endrings_id(conn)
        return side

    monkeypatch.setattr(register, "hent_endringer", then_a_writer_commits)
    reads = spy_calls(monkeypatch, [(store, "siste_endrings_id")])
    with pytest.raises(Avvist) as refused:
        await page(client, mint(ALLE), "graphql", last + 1)
    assert_names_siste_endrings_id(refused.value.error, last)
    assert reads == []
    assert await siste() == last + 1  # the writer did commit: now the position exists
    side = await page(client, mint(ALLE), "graphql", last + 1)
    assert side["tilEndringsId"] == side["sisteEndringsId"] == last + 1
