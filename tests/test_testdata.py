"""Test persons (not in prod): opprettTestpersoner per profile, sokPersoner's filters and pages,
the CSV export, scope refusals, and their absence in prod."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from typing import Any

import httpx
import pytest

from app.api.cursors import Cursors
from app.config import Settings
from app.db import connection
from app.edge.app import CURSOR_KEY, create_app
from app.edge.schema import build_schema
from app.innlogging.hemmelighet import avledet, okthemmelighet
from app.personer import paragraf32
from app.personer.endringsnummer import siste_endrings_id
from app.personer.models import Person, Postkasseleverandoer, Registerstatus
from app.testdata import csv_export, profiles, store
from app.testdata.graphql import SOK as SOK_CONNECTION
from app.testdata.seed import DIGIPOST_ORGNR, EBOKS_ORGNR, _certificate
from authz import identifikatorer as identifiers
from authz.avslag import Avslag
from authz.principal import Innbygger
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW
from tests.factories import DIGIPOST, months_ago, new_id, person, provider
from tests.test_rest import oslo

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
WRITE = "krr:test/testpersoner.write"
SOK = "krr:test/sok.read"
ALT = f"{WRITE} {SOK} {KONTAKT} {POST}"

FIELDS = """
  personidentifikator status reservasjon reservasjonstidspunkt spraak sertifikat
  digitalPost { postkasseadresse postkasseleverandoeradresse }
  kontaktinformasjon {
    epostadresse epostadresseOppdatert epostadresseSistVerifisert epostadresseDuplisert
    mobiltelefonnummer mobiltelefonnummerOppdatert mobiltelefonnummerSistVerifisert
    mobiltelefonnummerDuplisert
  }
"""
OPPRETT = (
    "mutation($n: Int!, $p: Testprofil!) { opprettTestpersoner(antall: $n, profil: $p) { %s } }"
)
SOK_QUERY = """
query($f: PersonFilter, $first: Int, $after: String) {
  sokPersoner(filter: $f, first: $first, after: $after) {
    totalCount
    edges { cursor node { %s } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def gql(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> dict:
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


async def opprett(client, token, antall, profil, fields=FIELDS) -> dict:
    return await gql(client, token, OPPRETT % fields, n=antall, p=profil)


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def varslingsstatus(client, mint, ids: list[str]) -> dict[str, str]:
    """What the lookup (`personer`) says, to check search and profiles against the one rule."""
    body = await gql(
        client, mint(KONTAKT),
        "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
        "{ personidentifikator varslingsstatus } }", ids=ids,
    )
    return {p["personidentifikator"]: p["varslingsstatus"] for p in body["data"]["personer"]}


# --- opprettTestpersoner -------------------------------------------------------------------

def _fersk(oppdatert: str | None, verifisert: str | None) -> bool:
    dates = [dt.datetime.fromisoformat(d) for d in (oppdatert, verifisert) if d]
    return bool(dates) and max(dates) > paragraf32.frist(FIXED_NOW)


EXPECTED: dict[str, dict[str, Any]] = {
    # profile: epost, mobil, postkasse, reservert, fresh channels, status, varslingsstatus
    "FULL": dict(epost=True, mobil=True, postkasse=True, reservert=False, fersk=True,
                 status="AKTIV", varsling="KAN_VARSLES"),
    "MOBIL_OG_EPOST": dict(epost=True, mobil=True, postkasse=False, reservert=False, fersk=True,
                           status="AKTIV", varsling="KAN_VARSLES"),
    "BARE_MOBIL": dict(epost=False, mobil=True, postkasse=False, reservert=False, fersk=True,
                       status="AKTIV", varsling="KAN_VARSLES"),
    "BARE_EPOST": dict(epost=True, mobil=False, postkasse=False, reservert=False, fersk=True,
                       status="AKTIV", varsling="KAN_VARSLES"),
    "RESERVERT": dict(epost=True, mobil=True, postkasse=False, reservert=True, fersk=True,
                      status="AKTIV", varsling="KAN_IKKE_VARSLES"),
    "UTLOPT": dict(epost=True, mobil=True, postkasse=False, reservert=False, fersk=False,
                   status="AKTIV", varsling="KAN_IKKE_VARSLES"),
    "SLETTET": dict(epost=False, mobil=False, postkasse=False, reservert=False, fersk=None,
                    status="SLETTET", varsling="KAN_IKKE_VARSLES"),
}


@pytest.mark.parametrize("profil", [p.value for p in profiles.Testprofil])
async def test_each_profile_makes_what_it_says(client, mint, profil):
    assert set(EXPECTED) == {p.value for p in profiles.Testprofil}
    want = EXPECTED[profil]
    await person(new_id(0))  # an existing entry: never returned, never renumbered
    before = await siste_endrings_id(connection())
    body = await opprett(client, mint(ALT), 12, profil)
    assert "errors" not in body, body
    personer = body["data"]["opprettTestpersoner"]
    ids = [p["personidentifikator"] for p in personer]
    assert len(set(ids)) == 12 and ids == sorted(ids) and new_id(0) not in ids
    for pid in ids:
        assert identifiers.problem(pid) is None
        assert int(pid[2:4]) > identifiers.SYNTHETIC_MONTH_OFFSET  # synthetic: month + 80
    for p in personer:
        assert p["status"] == want["status"]
        assert (p["reservasjonstidspunkt"] is not None) == want["reservert"]
        k = p["kontaktinformasjon"]
        if want["status"] == "SLETTET":  # id, status and varslingsstatus only
            assert k is None and p["digitalPost"] is None and p["spraak"] is None
            assert p["reservasjon"] is None
            continue
        assert p["reservasjon"] == ("JA" if want["reservert"] else "NEI")
        assert (k["epostadresse"] is not None) == want["epost"]
        assert (k["mobiltelefonnummer"] is not None) == want["mobil"]
        assert k["epostadresseDuplisert"] in (None, "NEI")
        assert k["mobiltelefonnummerDuplisert"] in (None, "NEI")
        if want["epost"]:
            assert k["epostadresse"].split("@")[1] in ("example.no", "example.com", "test.no")
            assert _fersk(k["epostadresseOppdatert"], k["epostadresseSistVerifisert"]) == (
                want["fersk"])
        if want["mobil"]:
            assert k["mobiltelefonnummer"].startswith(("+479", "+474"))
            assert _fersk(k["mobiltelefonnummerOppdatert"],
                          k["mobiltelefonnummerSistVerifisert"]) == want["fersk"]
        if want["postkasse"]:
            assert p["digitalPost"]["postkasseleverandoeradresse"] == DIGIPOST_ORGNR
            assert p["sertifikat"] == _certificate("digipost.pem")
            assert p["spraak"] in ("nb", "nn", "en", "se")
        else:
            assert p["digitalPost"] is None and p["sertifikat"] is None
    assert set((await varslingsstatus(client, mint, ids)).values()) == {want["varsling"]}
    # One contiguous block of change numbers, one per person, after what was there.
    rows = await Person.filter(personidentifikator__in=ids).values_list("endrings_id", flat=True)
    assert sorted(rows) == list(range(before + 1, before + 13))
    assert await siste_endrings_id(connection()) == before + 12
    assert await Person.all().count() == 13


async def test_full_creates_the_providers_with_the_seeds_certificates(client, mint, db):
    await opprett(client, mint(ALT), 1, "FULL")
    first = await opprett(client, mint(ALT), 1, "FULL")  # the rows exist now: no conflict
    assert "errors" not in first

    rows = {p.orgnr: p.sertifikat for p in await Postkasseleverandoer.all()}
    assert rows == {DIGIPOST_ORGNR: _certificate("digipost.pem"),
                    EBOKS_ORGNR: _certificate("eboks.pem")}


async def test_ids_and_addresses_the_register_holds_are_drawn_again(client, mint, monkeypatch):
    taken_id, taken_mobile = new_id(1), "+4791111111"
    await person(taken_id, mobil=taken_mobile)
    draws = {"id": [taken_id, taken_id], "mobile": [taken_mobile]}
    real_id, real_mobile = profiles.Testpersoner.person_id, profiles.Testpersoner.mobile

    def person_id(self):
        return draws["id"].pop() if draws["id"] else real_id(self)

    def mobile(self):
        return draws["mobile"].pop() if draws["mobile"] else real_mobile(self)

    monkeypatch.setattr(profiles.Testpersoner, "person_id", person_id)
    monkeypatch.setattr(profiles.Testpersoner, "mobile", mobile)
    body = await opprett(client, mint(ALT), 3, "BARE_MOBIL")
    assert not draws["id"] and not draws["mobile"]  # the collisions were drawn ...
    personer = body["data"]["opprettTestpersoner"]
    ids = {p["personidentifikator"] for p in personer}
    mobiles = {p["kontaktinformasjon"]["mobiltelefonnummer"] for p in personer}
    assert taken_id not in ids and taken_mobile not in mobiles  # ... and replaced
    assert len(ids) == 3 and len(mobiles) == 3


@pytest.mark.parametrize("antall", [0, -1, 1001])
async def test_antall_outside_1_to_1000_is_bad_input(client, mint, antall):
    body = await opprett(client, mint(ALT), antall, "FULL", "personidentifikator")
    assert codes(body) == ["BAD_USER_INPUT"]
    assert await Person.all().count() == 0


async def test_a_thousand_at_once(client, mint):
    body = await opprett(client, mint(WRITE), 1000, "MOBIL_OG_EPOST", "personidentifikator")
    ids = {p["personidentifikator"] for p in body["data"]["opprettTestpersoner"]}
    assert len(ids) == 1000 and await Person.all().count() == 1000


async def test_creating_needs_the_write_scope_and_an_organisation_itself(client, mint):
    body = await opprett(client, mint(f"{SOK} {KONTAKT}"), 1, "FULL", "personidentifikator")
    assert codes(body) == ["FORBIDDEN"] and body["data"] is None
    assert body["errors"][0]["extensions"]["scope"] == WRITE
    vendor = mint(WRITE, supplier="987654325")
    assert codes(await opprett(client, vendor, 1, "FULL", "status")) == ["FORBIDDEN"]
    assert await Person.all().count() == 0


async def test_fields_the_lookup_scopes_do_not_open_are_withheld(client, mint):
    body = await opprett(client, mint(WRITE), 2, "FULL")
    personer = body["data"]["opprettTestpersoner"]
    assert all(p["kontaktinformasjon"] is None and p["digitalPost"] is None for p in personer)
    assert len(personer) == 2 and all(p["status"] == "AKTIV" for p in personer)
    withheld = {e["extensions"]["field"]: e["extensions"]["scope"] for e in body["errors"]}
    assert withheld == {"kontaktinformasjon": KONTAKT, "spraak": KONTAKT,
                        "digitalPost": POST, "sertifikat": POST}
    assert {tuple(e["path"][:2]) for e in body["errors"]} == {("opprettTestpersoner", 0)}


# --- sokPersoner ---------------------------------------------------------------------------

@pytest.fixture
async def register() -> dict[str, str]:
    """A small known register: name -> id."""
    await provider()
    ids = {name: new_id(100 + i) for i, name in enumerate(
        ["full", "epost", "utlopt_mobil", "reservert", "slettet", "blandet", "tom", "grense",
         "rett_etter", "dnummer"])}
    await person(ids["full"], epost="full@example.no", mobil="+4790000001",
                 postkasseadresse="full#digipost", postkasseleverandoer_id=DIGIPOST)
    await person(ids["epost"], epost="epost@example.no", mobil=None, spraak="nn")
    await person(ids["utlopt_mobil"], epost=None, mobil="+4790000003", mobil_alder=20)
    # Reserved with a mailbox: the mailbox is never shown, so no filter finds it either.
    await person(ids["reservert"], epost="res@example.no", mobil="+4790000004",
                 reservasjon=True, reservasjonstidspunkt=months_ago(2), spraak="en",
                 postkasseadresse="res#digipost", postkasseleverandoer_id=DIGIPOST)
    await person(ids["slettet"], epost=None, mobil=None, status=Registerstatus.SLETTET,
                 spraak=None)
    await person(ids["blandet"], epost="blandet@example.no", epost_alder=19,
                 mobil="+4790000006")
    await person(ids["tom"], epost=None, mobil=None, spraak=None)
    # § 32 at the boundary: exactly at the cutoff is expired, one second after is fresh.
    frist = paragraf32.frist(FIXED_NOW)

    await person(ids["grense"], epost=None, mobil="+4790000008",
                 mobiltelefonnummer_oppdatert=frist, mobiltelefonnummer_sist_verifisert=None)
    await person(ids["rett_etter"], epost=None, mobil="+4790000009",
                 mobiltelefonnummer_oppdatert=frist - dt.timedelta(days=9),
                 mobiltelefonnummer_sist_verifisert=frist + dt.timedelta(seconds=1))
    # Empty text is no address (er_fersk), whatever its dates.
    await person(ids["dnummer"], epost="", mobil=None, spraak="se")
    return ids


FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({}, {"full", "epost", "utlopt_mobil", "reservert", "slettet", "blandet", "tom", "grense",
          "rett_etter", "dnummer"}),
    ({"status": "SLETTET"}, {"slettet"}),
    ({"status": "AKTIV"}, {"full", "epost", "utlopt_mobil", "reservert", "blandet", "tom",
                           "grense", "rett_etter", "dnummer"}),
    ({"varslingsstatus": "KAN_VARSLES"}, {"full", "epost", "blandet", "rett_etter"}),
    ({"varslingsstatus": "KAN_IKKE_VARSLES"}, {"utlopt_mobil", "reservert", "slettet", "tom",
                                               "grense", "dnummer"}),
    ({"spraak": "nn"}, {"epost"}),
    ({"spraak": "se"}, {"dnummer"}),
    ({"reservasjon": "JA"}, {"reservert"}),
    # A SLETTET entry shows no reservation, so a reservation filter never finds one.
    ({"reservasjon": "NEI", "status": "SLETTET"}, set()),
    ({"reservasjon": "NEI"}, {"full", "epost", "utlopt_mobil", "blandet", "tom", "grense",
                              "rett_etter", "dnummer"}),
    ({"harMobil": True}, {"full", "utlopt_mobil", "reservert", "blandet", "grense",
                          "rett_etter"}),
    ({"harMobil": False}, {"epost", "slettet", "tom", "dnummer"}),
    ({"harEpost": True}, {"full", "epost", "reservert", "blandet"}),
    ({"harEpost": False, "harMobil": False}, {"slettet", "tom", "dnummer"}),
    ({"harDigitalPostkasse": True}, {"full"}),
    ({"harDigitalPostkasse": False, "reservasjon": "NEI", "harEpost": True},
     {"epost", "blandet"}),
    ({"varslingsstatus": "KAN_VARSLES", "harEpost": False}, {"rett_etter"}),
    ({"harDigitalPostkasse": False, "reservasjon": "JA"}, {"reservert"}),
]


async def sok(client, token, filter=None, first=None, after=None, fields="personidentifikator"):
    variables: dict[str, Any] = {"f": filter}
    if first is not None:
        variables["first"] = first
    if after is not None:
        variables["after"] = after
    return await gql(client, token, SOK_QUERY % fields, **variables)


@pytest.mark.parametrize(("filter", "expected"), FILTERS)
async def test_each_filter(client, mint, register, filter, expected):
    body = await sok(client, mint(ALT), filter, first=100)
    assert "errors" not in body, body
    result = body["data"]["sokPersoner"]
    found = [e["node"]["personidentifikator"] for e in result["edges"]]
    assert found == sorted(register[n] for n in expected)
    assert result["totalCount"] == len(expected)
    assert result["pageInfo"]["hasNextPage"] is False


async def test_varslingsstatus_filter_agrees_with_the_lookup(client, mint, register):
    """The SQL form of § 32 and paragraf32.vurder give the same answer for every entry."""
    judged = await varslingsstatus(client, mint, sorted(register.values()))
    for status in ("KAN_VARSLES", "KAN_IKKE_VARSLES"):
        body = await sok(client, mint(ALT), {"varslingsstatus": status}, first=100)
        found = {e["node"]["personidentifikator"] for e in body["data"]["sokPersoner"]["edges"]}
        assert found == {pid for pid, s in judged.items() if s == status}


async def test_paging_through_all_results_with_the_cursor(client, db, mint, register):
    token, seen, after, pages = mint(ALT), [], None, 0
    while True:
        body = await sok(client, token, {"status": "AKTIV"}, first=2, after=after)
        result = body["data"]["sokPersoner"]
        assert result["totalCount"] == 9
        seen += [e["node"]["personidentifikator"] for e in result["edges"]]
        assert result["pageInfo"]["endCursor"] == result["edges"][-1]["cursor"]
        assert result["pageInfo"]["startCursor"] == result["edges"][0]["cursor"]
        # Relay: entries before this page exactly when it starts after one.
        assert result["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert pages == 5
    assert seen == sorted(pid for n, pid in register.items() if n != "slettet")
    # Past the end: an empty page.
    after = result["pageInfo"]["endCursor"]
    body = await sok(client, token, {"status": "AKTIV"}, first=2, after=after)
    empty = body["data"]["sokPersoner"]
    assert empty["edges"] == [] and empty["pageInfo"] == {
        "hasNextPage": False, "hasPreviousPage": True, "startCursor": None, "endCursor": None}
    # Whether the filter matches anything up to the cursor, not merely whether there is one.
    for after, before in ((register["slettet"], True), ("00000000000", False)):
        body = await sok(client, token, {"status": "SLETTET"}, first=2,
                         after=service_cursors(db).seal(SOK_CONNECTION, after))
        assert body["data"]["sokPersoner"]["pageInfo"]["hasPreviousPage"] is before, body


def service_cursors(settings: Settings) -> Cursors:
    """The cursors the service seals with these settings (to point one at any id)."""
    return Cursors(avledet(okthemmelighet(settings), CURSOR_KEY))


async def test_search_gives_persons_as_personer_does(client, mint, register):
    fields = ("personidentifikator varslingsstatus kontaktinformasjon { epostadresse "
              "mobiltelefonnummer } digitalPost { postkasseadresse }")
    body = await sok(client, mint(ALT), {"harMobil": True}, first=100, fields=fields)
    looked_up = await gql(
        client, mint(ALT),
        f"query($ids: [String!]!) {{ personer(personidentifikatorer: $ids) {{ {fields} }} }}",
        ids=[e["node"]["personidentifikator"] for e in body["data"]["sokPersoner"]["edges"]],
    )
    assert [e["node"] for e in body["data"]["sokPersoner"]["edges"]] == (
        looked_up["data"]["personer"])


@pytest.mark.parametrize(
    ("variables", "message"),
    [({"first": 0}, "first"), ({"first": 1001}, "first"), ({"after": "bm9wZQ=="}, "cursor"),
     ({"after": "%%%"}, "cursor"), ({"filter": {"spraak": "de"}}, "spraak")],
)
async def test_bad_search_input(client, mint, register, variables, message):
    body = await sok(client, mint(ALT), variables.get("filter"), variables.get("first"),
                     variables.get("after"))
    assert codes(body) == ["BAD_USER_INPUT"]
    assert message in body["errors"][0]["message"]


async def test_search_scope_refusals(client, mint, register):
    body = await sok(client, mint(f"{WRITE} {KONTAKT}"))
    assert codes(body) == ["FORBIDDEN"] and body["errors"][0]["extensions"]["scope"] == SOK
    # A filter reads its category: it needs the scope that shows it.
    for filter, scope in (({"harMobil": True}, KONTAKT), ({"varslingsstatus": "KAN_VARSLES"},
                          KONTAKT), ({"spraak": "nb"}, KONTAKT),
                          ({"harDigitalPostkasse": False}, POST)):
        body = await sok(client, mint(SOK), filter)
        assert codes(body) == ["FORBIDDEN"], filter
        assert body["errors"][0]["extensions"]["scope"] == scope
    # Grunndata filters need no more than the search scope; closed fields are withheld.
    body = await sok(client, mint(SOK), {"reservasjon": "JA"},
                     fields="personidentifikator kontaktinformasjon { epostadresse }")
    result = body["data"]["sokPersoner"]
    assert result["edges"][0]["node"] == {"personidentifikator": register["reservert"],
                                          "kontaktinformasjon": None}
    [withheld] = body["errors"]
    assert withheld["extensions"]["field"] == "kontaktinformasjon"
    assert withheld["path"] == ["sokPersoner", "edges", 0, "node", "kontaktinformasjon"]


async def test_only_organisations_may_search():
    resident = Innbygger(pid=new_id(5), scopes=frozenset({SOK}), issuer="x", acr="high")
    with pytest.raises(Avslag):
        store.SOKE.kontroller(resident)


async def test_a_search_page_is_recorded_in_the_audit_log(client, mint, register):
    conn = connection()
    await sok(client, mint(ALT), {"harEpost": True}, first=3)
    _, rows = await conn.execute_query("SELECT antall FROM oppslag")
    assert [r[0] for r in rows] == [3]


# --- the CSV export ------------------------------------------------------------------------

def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def export(client, token: str | None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get(csv_export.PATH, params=params, headers=headers)


async def test_csv_holds_the_search_result_with_the_registers_column_names(client, mint,
                                                                           register):
    response = await export(client, mint(f"{SOK} {KONTAKT} {POST}"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header = response.text.splitlines()[0].split(",")
    assert header == [name for name, _, _ in csv_export.KOLONNER]
    assert header[:6] == ["personidentifikator", "status", "reservasjon",
                          "reservasjonstidspunkt", "reservasjon_oppdatert", "varslingsstatus"]
    rows = parse_csv(response.text)
    assert [r["personidentifikator"] for r in rows] == sorted(register.values())
    full = next(r for r in rows if r["personidentifikator"] == register["full"])
    assert full["status"] == "AKTIV" and full["reservasjon"] == "NEI"
    assert full["varslingsstatus"] == "KAN_VARSLES"
    assert full["epostadresse"] == "full@example.no"
    assert full["epostadresse_sist_verifisert"] == oslo(months_ago(1))  # as REST writes it
    assert full["mobiltelefonnummer"] == "'+4790000001"  # a text cell, never a formula
    assert full["mobiltelefonnummer_duplisert"] == "NEI"
    assert full["postkasseadresse"] == "full#digipost"
    assert full["postkasseleverandoeradresse"] == DIGIPOST
    assert full["spraak"] == "nb"
    slettet = next(r for r in rows if r["personidentifikator"] == register["slettet"])
    assert slettet["status"] == "SLETTET" and slettet["epostadresse"] == ""
    # Not § 32-filtered: an expired channel is there, beside the verdict.
    utlopt = next(r for r in rows if r["personidentifikator"] == register["utlopt_mobil"])
    assert utlopt["mobiltelefonnummer"] == "'+4790000003"
    assert utlopt["varslingsstatus"] == "KAN_IKKE_VARSLES"


async def test_csv_leaves_out_the_columns_the_scopes_do_not_open(client, mint, register):
    response = await export(client, mint(SOK), reservasjon="NEI", status="AKTIV")
    rows = parse_csv(response.text)
    assert list(rows[0]) == ["personidentifikator", "status", "reservasjon",
                             "reservasjonstidspunkt", "reservasjon_oppdatert"]
    assert len(rows) == 8
    only_contact = parse_csv((await export(client, mint(f"{SOK} {KONTAKT}"))).text)
    assert "epostadresse" in only_contact[0] and "postkasseadresse" not in only_contact[0]


@pytest.mark.parametrize(("filter", "expected"), FILTERS)
async def test_csv_filters_are_the_searchs(client, mint, register, filter, expected):
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filter.items()}
    response = await export(client, mint(ALT), **params)
    assert response.status_code == 200, response.text
    assert {r["personidentifikator"] for r in parse_csv(response.text)} == {
        register[n] for n in expected}


async def test_csv_streams_in_keyset_pages(client, mint, register, monkeypatch):
    monkeypatch.setattr(csv_export, "SIDE", 3)
    pages: list[int] = []
    real_side = store.side

    async def side(*args: Any, **kwargs: Any):
        records, more = await real_side(*args, **kwargs)
        pages.append(len(records))
        return records, more

    monkeypatch.setattr(store, "side", side)
    chunks = []
    async with client.stream("GET", csv_export.PATH,
                             headers={"Authorization": f"Bearer {mint(ALT)}"}) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_text():
            chunks.append(chunk)
    assert pages == [3, 3, 3, 1]
    rows = parse_csv("".join(chunks))
    assert [r["personidentifikator"] for r in rows] == sorted(register.values())
    _, audited = await connection().execute_query("SELECT antall FROM oppslag ORDER BY id")
    assert [r[0] for r in audited] == [3, 3, 3, 1]  # each page recorded before it was sent


async def test_csv_auth_errors(client, mint, register):
    missing = await export(client, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    garbage = await export(client, "abc.def.ghi")
    assert garbage.status_code == 401
    for token, scope in ((mint(f"{KONTAKT} {WRITE}"), SOK), (mint(SOK), KONTAKT)):
        params = {} if scope == SOK else {"harEpost": "true"}
        refused = await export(client, token, **params)
        assert refused.status_code == 403
        error = refused.json()["errors"][0]
        assert error["extensions"] == {"code": "FORBIDDEN", "reason": "MANGLER_SCOPE",
                                       "scope": scope}
        assert "personidentifikator" not in refused.text


async def test_csv_refuses_a_residents_token(db, register):
    class Resident:
        async def verify(self, token: str) -> Innbygger:
            return Innbygger(pid=new_id(5), scopes=frozenset({SOK}), issuer="x", acr="high")

    app = create_app(db, verifier=Resident(), clock=lambda: FIXED_NOW,  # type: ignore[arg-type]
                     manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        response = await c.get(csv_export.PATH, headers={"Authorization": "Bearer x"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"status": "IKKE_REGISTRERT"}, "status"), ({"harMobil": "ja"}, "harMobil"),
     ({"spraak": "de"}, "spraak"), ({"reservasjon": "true"}, "reservasjon"),
     ({"varslingsstatus": "x"}, "varslingsstatus"), ({"harEpsot": "true"}, "harEpsot"),
     ({"harEpost": ["true", "false"]}, "harEpost")],
)
async def test_csv_bad_filter_is_400_naming_the_parameter(client, mint, params, parameter):
    response = await export(client, mint(ALT), **params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "parameter": parameter}
    assert parameter in error["message"]


# --- prod ----------------------------------------------------------------------------------

def test_prod_schema_has_no_test_features():
    full, prod = build_schema().as_str(), build_schema(prod=True).as_str()
    for name in ("opprettTestpersoner", "sokPersoner", "Testprofil", "PersonFilter",
                 "PersonConnection"):
        assert name in full and name not in prod


async def test_prod_has_no_export_and_refuses_the_fields(db, dev_issuer, mint, register):
    prod = dataclasses.replace(db, env="prod")
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)  # trust the dev key to reach GraphQL
    app = create_app(prod, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        headers = {"Authorization": f"Bearer {mint(ALT)}"}
        assert (await c.get(csv_export.PATH, headers=headers)).status_code == 404
        for query in ("{ sokPersoner { totalCount } }",
                      "mutation { opprettTestpersoner(antall: 1, profil: FULL) { status } }"):
            body = (await c.post("/graphql", json={"query": query}, headers=headers)).json()
            assert body.get("data") is None
            assert "Cannot query field" in body["errors"][0]["message"]
    assert await Person.all().count() == len(register)


# --- issue 12.5: CSV injection ---------------------------------------------------------------

@pytest.mark.parametrize("formel", ["=HYPERLINK(\"http://x\")", "+4791234567", "-2+3",
                                    "@SUM(A1)", "\tcmd", "\rcmd"])
def test_csv_injection_a_cell_that_would_be_a_formula_is_written_as_text(formel):
    """The attack: a value beginning with =, +, - or @ (or a tab or carriage return) opened as
    a formula in a spreadsheet, and every mobile number begins with +."""
    [row] = list(csv.reader(io.StringIO(csv_export._csv([[csv_export._celle(formel)]]))))
    assert row == ["'" + formel]


async def test_csv_injection_an_address_beginning_with_equals_is_text_in_the_export(
    client, mint, register
):
    pid = new_id(900)
    await person(pid, epost="=cmd|' /C calc'!A0@example.no", mobil="+4790009000")
    response = await export(client, mint(ALT))
    row = next(r for r in parse_csv(response.text) if r["personidentifikator"] == pid)
    assert row["epostadresse"] == "'=cmd|' /C calc'!A0@example.no"
    assert row["mobiltelefonnummer"] == "'+4790009000"
    assert all(not cell.startswith(csv_export.FORMELTEGN) for r in parse_csv(response.text)
               for cell in r.values())
