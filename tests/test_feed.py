"""The change feed over HTTP: paging, refusals, fields by lookup scope, and an exact copy of a
register that changes while it is read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app.db import connection
from app.personer import register
from app.personer.endringsnummer import neste_endrings_id, siste_endrings_id
from app.personer.models import Person, Registerstatus
from app.revisjon.models import Oppslag
from tests.conftest import FIXED_NOW
from tests.factories import DIGIPOST, new_id, person, provider
from tests.revisjonsrader import personrader
from tests.test_lookup import NO_VARSLING

HENTENDRING = "krr:global/hentendring.read"
KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
SPRAAK = "krr:global/spraak.write"
FOLKEREGISTER = "krr:admin/folkeregister"
ALLE = f"{HENTENDRING} {KONTAKT} {POST}"

FIELDS = NO_VARSLING  # the feed has no varslingsstatus
FEED = """query($fra: Int!, $antall: Int) {
  endringer(fraEndringsId: $fra, antall: $antall) {
    fraEndringsId tilEndringsId sisteEndringsId personer { %s }
  }
}"""


async def gql(client, token: str, query: str, variables: dict[str, Any] | None = None) -> dict:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def registrert(personidentifikator: str, **fields: Any) -> Person:
    """A factory person numbered in the feed, as every real write is."""
    async with in_transaction() as conn:
        nummer = await neste_endrings_id(conn)
        return await person(personidentifikator, endrings_id=nummer, using_db=conn, **fields)


async def siste() -> int:
    return await siste_endrings_id(connection())


async def side(client, token, fra, antall=None, fields=FIELDS):
    variables = {"fra": fra} | ({"antall": antall} if antall is not None else {})
    return await gql(client, token, FEED % fields, variables)


async def les_til_slutt(client, token, kopi: dict[str, dict], fra: int, antall: int,
                        mellom=None) -> int:
    """Page until tilEndringsId == sisteEndringsId, keeping the newest state per person;
    `mellom(n)` runs between pages (the register changing while it is read)."""
    n = 0
    while True:
        body = await side(client, token, fra, antall)
        assert "errors" not in body, body
        e = body["data"]["endringer"]
        assert e["fraEndringsId"] == fra
        assert len(e["personer"]) <= antall
        for p in e["personer"]:
            kopi[p["personidentifikator"]] = p
        assert e["tilEndringsId"] >= fra
        fra = e["tilEndringsId"]
        if fra == e["sisteEndringsId"]:
            return fra
        if mellom is not None:
            await mellom(n)
        n += 1


async def registeret(client) -> dict[str, dict]:
    """A direct read: every stored person through the lookup (1000 a call), with the same
    fields."""
    ids = [p.personidentifikator for p in await Person.all()]
    query = f"query($ids: [String!]!) {{ personer(personidentifikatorer: $ids) {{ {FIELDS} }} }}"
    innhold: dict[str, dict] = {}
    for start in range(0, len(ids), 1000):
        body = await gql(client, client.lookup_token, query, {"ids": ids[start:start + 1000]})
        assert "errors" not in body, body
        innhold |= {p["personidentifikator"]: p for p in body["data"]["personer"]}
    return innhold


@pytest.fixture
def lookup_client(client, mint):
    client.lookup_token = mint(f"{KONTAKT} {POST}")
    return client


async def test_paging_from_zero_gives_an_exact_copy(lookup_client, mint):
    client = lookup_client
    await provider()
    for i in range(7):
        await registrert(new_id(i), epost=f"p{i}@example.no", mobil=f"+479000000{i}")
    await registrert(new_id(7), postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    await registrert(new_id(8), mobil="+4790000001")  # shares a mobile: duplicate flags
    kopi: dict[str, dict] = {}
    til = await les_til_slutt(client, mint(ALLE), kopi, 0, 3)
    assert til == await siste()
    assert kopi == await registeret(client)
    assert kopi[new_id(1)]["kontaktinformasjon"]["mobiltelefonnummerDuplisert"] == "JA"


async def test_pages_are_in_change_order_and_at_most_antall(client, mint):
    start = await siste()
    ids = [new_id(i) for i in range(20, 25)]
    for pid in reversed(ids):
        await registrert(pid)
    body = await side(client, mint(ALLE), start, 2, "personidentifikator")
    e = body["data"]["endringer"]
    assert [p["personidentifikator"] for p in e["personer"]] == [ids[4], ids[3]]
    assert e["tilEndringsId"] == start + 2
    assert e["sisteEndringsId"] == start + 5
    # A changed person leaves its old place and comes again at its new number.
    async with in_transaction() as conn:
        nummer = await neste_endrings_id(conn)
        await Person.filter(personidentifikator=ids[4]).using_db(conn).update(
            spraak="nn", endrings_id=nummer
        )
    body = await side(client, mint(ALLE), start, 1000, "personidentifikator spraak")
    personer = body["data"]["endringer"]["personer"]
    assert [p["personidentifikator"] for p in personer] == [*reversed(ids[:4]), ids[4]]
    assert personer[-1]["spraak"] == "nn"


async def test_a_page_reaching_the_end_ends_at_the_last_number(client, mint):
    await registrert(new_id(30))
    last = await siste()
    body = await side(client, mint(ALLE), last - 1, 10, "personidentifikator")
    e = body["data"]["endringer"]
    assert len(e["personer"]) == 1
    assert e["tilEndringsId"] == e["sisteEndringsId"] == last
    # An empty page: nothing after the last number.
    body = await side(client, mint(ALLE), last, 10, "personidentifikator")
    e = body["data"]["endringer"]
    assert e == {"fraEndringsId": last, "tilEndringsId": last, "sisteEndringsId": last,
                 "personer": []}


async def test_a_number_that_names_no_row_does_not_stall_the_reader(client, mint):
    """A number taken by a change that later moved on (or a row removed by hand) is skipped."""
    await registrert(new_id(31))
    async with in_transaction() as conn:
        await neste_endrings_id(conn)  # taken, but no row carries it
    last = await siste()
    body = await side(client, mint(ALLE), last - 2, 10, "personidentifikator")
    assert body["data"]["endringer"]["tilEndringsId"] == last


async def test_antall_defaults_to_a_full_page(client, mint):
    start = await siste()
    for i in range(3):
        await registrert(new_id(40 + i))
    body = await gql(
        client, mint(ALLE),
        "query($fra: Int!) { endringer(fraEndringsId: $fra) { tilEndringsId personer "
        "{ personidentifikator } } }",
        {"fra": start},
    )
    assert len(body["data"]["endringer"]["personer"]) == 3
    body = await side(client, mint(ALLE), start, None, "personidentifikator")
    assert len(body["data"]["endringer"]["personer"]) == 3
    body = await gql(client, mint(ALLE), FEED % "personidentifikator",
                     {"fra": start, "antall": None})  # null: the default
    assert len(body["data"]["endringer"]["personer"]) == 3


async def test_deleted_entries_appear_with_status_only(client, mint):
    start = await siste()
    await registrert(new_id(50), status=Registerstatus.SLETTET)
    body = await side(client, mint(ALLE), start, 10)
    [p] = body["data"]["endringer"]["personer"]
    assert p["status"] == "SLETTET"
    assert p["kontaktinformasjon"] is None and p["spraak"] is None
    assert p["digitalPost"] is None


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fra", "antall", "message"),
    [(-1, 10, "fraEndringsId"), (0, 0, "antall"), (0, 1001, "antall"), (0, -5, "antall")],
)
async def test_bad_paging_is_bad_user_input(client, mint, fra, antall, message):
    body = await side(client, mint(ALLE), fra, antall, "personidentifikator")
    assert body["data"] is None
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in err["message"]


@pytest.mark.parametrize(
    "fields",
    ["personidentifikator varslingsstatus", "... on Person { varslingsstatus }",
     "v: varslingsstatus"],
)
async def test_varslingsstatus_cannot_be_selected(client, mint, fields):
    await registrert(new_id(51))
    body = await side(client, mint(ALLE), 0, 10, fields)
    assert body["data"] is None
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "varslingsstatus" in err["message"]
    assert await Oppslag.all().count() == 0


async def test_the_feed_needs_its_scope(client, mint):
    body = await side(client, mint(f"{KONTAKT} {POST}"), 0, 10, "personidentifikator")
    [err] = body["errors"]
    assert err["extensions"] == {"code": "FORBIDDEN", "reason": "MANGLER_SCOPE",
                                  "scope": HENTENDRING}


async def test_a_residents_token_is_refused(client, mint):
    token = mint(HENTENDRING, consumer=None, pid=new_id(52))
    body = await side(client, token, 0, 10, "personidentifikator")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"


async def test_lookup_scopes_decide_the_fields(client, mint):
    await provider()
    start = await siste()
    await registrert(new_id(53), postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    await registrert(new_id(54))
    body = await side(client, mint(HENTENDRING), start, 10)
    personer = body["data"]["endringer"]["personer"]
    assert [p["status"] for p in personer] == ["AKTIV", "AKTIV"]
    assert all(p["reservasjon"] == "NEI" for p in personer)
    assert all(p["kontaktinformasjon"] is None and p["sertifikat"] is None for p in personer)
    errors = {e["extensions"]["field"]: e for e in body["errors"]}
    assert set(errors) == {"kontaktinformasjon", "spraak", "spraakOppdatert", "digitalPost",
                           "sertifikat"}
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errors.values())
    assert errors["digitalPost"]["extensions"]["scope"] == POST
    assert errors["digitalPost"]["path"] == ["endringer", "personer", 0, "digitalPost"]
    # With the contact scope only: contact information yes, mailbox no.
    body = await side(client, mint(f"{HENTENDRING} {KONTAKT}"), start, 10)
    [a, _] = body["data"]["endringer"]["personer"]
    assert a["kontaktinformasjon"]["epostadresse"] == "kari@example.no"
    assert a["digitalPost"] is None
    assert {e["extensions"]["field"] for e in body["errors"]} == {"digitalPost", "sertifikat"}


async def test_a_page_is_audited_like_a_lookup(client, mint):
    start = await siste()
    await registrert(new_id(55))
    await registrert(new_id(56), status=Registerstatus.SLETTET)
    await side(client, mint(f"{HENTENDRING} {KONTAKT}"), start, 10)
    [oppslag] = await Oppslag.all()
    assert oppslag.antall == 2
    assert oppslag.scopes == KONTAKT
    assert oppslag.varslingsstatus is False
    assert oppslag.tidspunkt == FIXED_NOW
    rows = {r.personidentifikator: r.kategorier for r in await personrader()}
    assert rows == {new_id(55): 1 | 2, new_id(56): 1}
    # Nothing disclosed, nothing recorded.
    await side(client, mint(ALLE), await siste(), 10)
    await gql(client, mint(ALLE), "query { endringer(fraEndringsId: 0) { sisteEndringsId } }")
    assert await Oppslag.all().count() == 1


# --- a register that changes while it is read ------------------------------------------------

async def test_copy_is_exact_when_the_register_changes_between_pages(lookup_client, mint):
    client = lookup_client
    await provider()
    for i in range(10):
        await registrert(new_id(60 + i), epost=f"q{i}@example.no", mobil=f"+4791100{i:03}",
                         spraak=None, spraak_oppdatert=None)
    await registrert(new_id(70), mobil="+4791100001")  # shares new_id(61)'s mobile

    kjort: list[int] = []

    async def mellom(n: int) -> None:
        kjort.append(n)
        match n % 5:
            case 0:  # a public body sets a language (already read or not yet read)
                pid = new_id(60 + n % 10) if n % 2 else new_id(69 - n % 10)
                await gql(client, mint(SPRAAK), 'mutation($p: String!) { settSpraak('
                          'personidentifikator: $p, spraak: "nn") { spraak } }', {"p": pid})
            case 1:  # a new person with only a language
                await gql(client, mint(SPRAAK), 'mutation($p: String!) { settSpraak('
                          'personidentifikator: $p, spraak: "en") { spraak } }',
                          {"p": new_id(80 + n)})
            case 2:  # a new id for someone, whose mobile another person shares
                await gql(client, mint(FOLKEREGISTER),
                          'mutation($f: String!, $t: String!) { endreIdentifikator(fra: $f, '
                          'til: $t) { endret } }', {"f": new_id(70), "t": new_id(90 + n)})
            case 3:  # a direct update, as the resident mutations do
                async with in_transaction() as conn:
                    nummer = await neste_endrings_id(conn)
                    await Person.filter(personidentifikator=new_id(60)).using_db(conn).update(
                        epostadresse=f"ny{n}@example.no", endrings_id=nummer
                    )
            case _:  # a mailbox for someone already read
                async with in_transaction() as conn:
                    nummer = await neste_endrings_id(conn)
                    await Person.filter(personidentifikator=new_id(61)).using_db(conn).update(
                        postkasseadresse="q1#digipost", postkasseleverandoer_id=DIGIPOST,
                        endrings_id=nummer,
                    )

    kopi: dict[str, dict] = {}
    await les_til_slutt(client, mint(ALLE), kopi, 0, 2, mellom)
    assert len(kjort) >= 5  # every kind of write happened while reading
    assert kopi == await registeret(client)
    assert kopi[new_id(70)]["status"] == "SLETTET"
    assert kopi[new_id(60)]["kontaktinformasjon"]["epostadresse"].startswith("ny")
    # A reader that stopped halfway and goes on later catches up too.
    kopi2: dict[str, dict] = {}
    fra = 0
    body = await side(client, mint(ALLE), fra, 3)
    for p in body["data"]["endringer"]["personer"]:
        kopi2[p["personidentifikator"]] = p
    await mellom(0)
    await mellom(3)
    await les_til_slutt(client, mint(ALLE), kopi2, body["data"]["endringer"]["tilEndringsId"], 4)
    assert kopi2 == await registeret(client)


async def test_a_duplicate_flag_changed_by_another_row_reaches_the_copy(lookup_client, mint):
    """endreIdentifikator where the new id keeps its own newer mobile: the old id's mobile leaves,
    so the person who shared it is no longer a duplicate, and must come again in the feed."""
    client = lookup_client
    deler, fra, til = new_id(500), new_id(501), new_id(502)
    await registrert(deler, mobil="+4794400000")
    await registrert(fra, mobil="+4794400000", mobil_alder=10)
    await registrert(til, mobil="+4794400999", mobil_alder=1)
    kopi: dict[str, dict] = {}
    sist = await les_til_slutt(client, mint(ALLE), kopi, 0, 1000)
    assert kopi[deler]["kontaktinformasjon"]["mobiltelefonnummerDuplisert"] == "JA"
    body = await gql(client, mint(FOLKEREGISTER),
                     'mutation($f: String!, $t: String!) { endreIdentifikator(fra: $f, til: $t)'
                     ' { beholdt } }', {"f": fra, "t": til})
    assert "MOBIL" in body["data"]["endreIdentifikator"]["beholdt"]
    await les_til_slutt(client, mint(ALLE), kopi, sist, 1000)
    assert kopi[deler]["kontaktinformasjon"]["mobiltelefonnummerDuplisert"] == "NEI"
    assert kopi == await registeret(client)


async def test_copy_is_exact_with_writers_running_concurrently(lookup_client, mint):
    """Writers and a reader at once (really in parallel on PostgreSQL); after the writers stop
    and the reader catches up, the copy is the register."""
    client = lookup_client
    for i in range(30):
        await registrert(new_id(100 + i), epost=f"r{i}@example.no", mobil=f"+4792200{i:03}",
                         spraak=None, spraak_oppdatert=None)
    stop = asyncio.Event()

    async def skriver(start: int) -> None:
        for i in range(start, 30, 3):
            async with in_transaction() as conn:
                nummer = await neste_endrings_id(conn)
                await Person.filter(personidentifikator=new_id(100 + i)).using_db(conn).update(
                    mobiltelefonnummer=f"+4793300{i:03}", endrings_id=nummer
                )
            await gql(client, mint(SPRAAK), 'mutation($p: String!) { settSpraak('
                      'personidentifikator: $p, spraak: "se") { spraak } }',
                      {"p": new_id(200 + i)})
            if i % 4 == 0:
                await gql(client, mint(FOLKEREGISTER),
                          'mutation($f: String!, $t: String!) { endreIdentifikator(fra: $f, '
                          'til: $t) { endret } }', {"f": new_id(100 + i), "t": new_id(300 + i)})
            await asyncio.sleep(0)

    kopi: dict[str, dict] = {}
    fra = [0]

    async def leser() -> None:
        while not stop.is_set():
            fra[0] = await les_til_slutt(client, mint(ALLE), kopi, fra[0], 5)
            await asyncio.sleep(0)

    reader = asyncio.ensure_future(leser())
    await asyncio.gather(skriver(0), skriver(1), skriver(2))
    stop.set()
    await reader
    await les_til_slutt(client, mint(ALLE), kopi, fra[0], 5)
    assert kopi == await registeret(client)
    assert kopi[new_id(200)]["spraak"] == "se"
    assert kopi[new_id(100)]["status"] == "SLETTET"


async def test_one_statement_per_page(client, mint, monkeypatch):
    """The page and the counter come from one statement (one snapshot)."""

    for i in range(3):
        await registrert(new_id(400 + i))
    calls: list[str] = []
    real = register.db.connection

    def spy():
        conn = real()

        class Spy:
            def __getattr__(self, name):
                return getattr(conn, name)

            async def execute_query(self, sql, values=None):
                calls.append(sql)
                return await conn.execute_query(sql, values)

        return Spy()

    monkeypatch.setattr(register.db, "connection", spy)
    body = await side(client, mint(ALLE), 0, 2, "personidentifikator")
    assert len(body["data"]["endringer"]["personer"]) == 2
    feed_calls = [c for c in calls if "endringsteller" in c]
    assert len(feed_calls) == 1 and "person" in feed_calls[0]
