"""A resident's own entry over HTTP: `meg`, its deadlines and lookups, and every mutation."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from app.db import connection
from app.edge.app import create_app
from app.meldinger.models import Engangskode, Melding
from app.personer.endringsnummer import siste_endrings_id
from app.personer.models import Person, Registerstatus
from app.revisjon.store import skriv_oppslag
from authz.principal import Principal
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import CERT, DIGIPOST, EBOKS, months_ago, new_id, person, provider
from tests.test_lookup import ALL_FIELDS

READ = "krr:user/kontaktinformasjon.read"
WRITE = "krr:user/kontaktinformasjon.write"
POST = "krr:user/digitalpost.read"
SPRAAK = "krr:user/spraak.write"
ALL = f"{READ} {WRITE} {POST} {SPRAAK}"

PERSON = ALL_FIELDS
MEG = f"person {{ {PERSON} }} maaBekrefte utloperSnart utlopt"
RESULTAT = f"meg {{ {MEG} }} advarsler {{ kode melding }}"
NOW = FIXED_NOW.isoformat()


async def gql(client, token, query, variables=None):
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def resident(mint, pid, scope=ALL):
    return mint(scope, consumer=None, pid=pid)


async def meg(client, token, fields=MEG):
    return await gql(client, token, f"{{ meg {{ {fields} }} }}")


async def mutate(client, token, call, fields=RESULTAT):
    """Run one mutation, e.g. call='reserver' or 'velgSpraak(spraak: "nn")'; its result."""
    name = call.split("(")[0]
    body = await gql(client, token, f"mutation {{ {call} {{ {fields} }} }}")
    return body, (body.get("data") or {}).get(name)


def bad_input(body, *fragments):
    [err] = body["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT", err
    for fragment in fragments:
        assert fragment in err["message"], err["message"]
    return err


async def stored(pid) -> Person | None:
    return await Person.get_or_none(personidentifikator=pid)


async def code_sent_to(address: str) -> str:
    melding = await Melding.filter(mottaker=address).order_by("-id").first()
    assert melding is not None, f"no message to {address}"
    match = re.search(r"\b(\d{6})\b", melding.tekst)
    assert match, melding.tekst
    return match.group(1)


# --- meg -----------------------------------------------------------------------------------


async def test_meg_without_entry_is_not_registered(client, mint):
    pid = new_id(100)
    body = await meg(client, resident(mint, pid), MEG + " oppslag { edges { cursor } }")
    assert "errors" not in body, body
    m = body["data"]["meg"]
    assert m["person"]["personidentifikator"] == pid
    assert m["person"]["status"] == "IKKE_REGISTRERT"
    assert m["person"]["kontaktinformasjon"] is None
    assert (m["maaBekrefte"], m["utloperSnart"], m["utlopt"]) == (False, [], [])
    assert m["oppslag"] == {"edges": []}


async def test_meg_shows_the_whole_entry_never_filtered(client, mint):
    """Expired channels and a reserved person: a lookup with varslingsstatus would withhold
    all of it; the resident sees everything, with the deadlines."""
    await provider()
    pid = new_id(101)
    await person(pid, epost="gammel@example.no", epost_alder=20, mobil="+4791111111",
                 mobil_alder=19, reservasjon=True, reservasjonstidspunkt=months_ago(2),
                 postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    await person(new_id(102), epost="annen@example.no", mobil="+4791111111")
    body = await meg(client, resident(mint, pid, f"{READ} {POST}"))
    assert "errors" not in body, body
    m = body["data"]["meg"]
    p = m["person"]
    assert p["status"] == "AKTIV"
    assert p["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert p["reservasjon"] == "JA"
    assert p["reservasjonstidspunkt"] == months_ago(2).isoformat()
    k = p["kontaktinformasjon"]
    assert k["epostadresse"] == "gammel@example.no"
    assert k["epostadresseSistVerifisert"] == months_ago(20).isoformat()
    assert k["mobiltelefonnummer"] == "+4791111111"
    assert k["mobiltelefonnummerDuplisert"] == "JA"
    assert k["epostadresseDuplisert"] == "NEI"
    assert p["digitalPost"] == {"postkasseadresse": "x#digipost",
                                "postkasseleverandoeradresse": DIGIPOST}
    assert p["sertifikat"] == CERT
    assert p["spraak"] == "nb"
    assert m["utlopt"] == ["EPOST", "MOBIL"]
    assert m["utloperSnart"] == []
    assert m["maaBekrefte"] is True


async def test_meg_mailbox_fields_need_digitalpost_read(client, mint):
    await provider()
    pid = new_id(103)
    await person(pid, postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    body = await meg(client, resident(mint, pid, READ))
    p = body["data"]["meg"]["person"]
    assert p["kontaktinformasjon"]["epostadresse"] == "kari@example.no"
    assert p["digitalPost"] is None and p["sertifikat"] is None
    errors = {tuple(e["path"]): e for e in body["errors"]}
    assert set(errors) == {("meg", "person", "digitalPost"), ("meg", "person", "sertifikat")}
    for e in errors.values():
        assert e["extensions"]["code"] == "FORBIDDEN"
        assert e["extensions"]["scope"] == POST


async def test_meg_refuses_an_organisation_token(client, mint):
    body = await meg(client, mint("krr:global/kontaktinformasjon.read " + READ), "maaBekrefte")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert "resident" in err["message"]
    assert body["data"] is None


async def test_meg_needs_a_read_or_write_scope(client, mint):
    pid = new_id(104)
    body = await meg(client, resident(mint, pid, f"{SPRAAK} {POST}"), "maaBekrefte")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert READ in err["message"]
    write_only = await meg(client, resident(mint, pid, WRITE), "maaBekrefte")
    assert "errors" not in write_only


def _channel_dates(when: dt.datetime, confirmed: dt.datetime | None = None) -> dict:
    return {
        "epostadresse_oppdatert": when, "epostadresse_sist_verifisert": confirmed or when,
        "epostadresse_sist_validert": when,
    }


@pytest.mark.parametrize(
    ("age", "utloper_snart", "utlopt"),
    [
        (relativedelta(months=16, seconds=-1), [], []),
        (relativedelta(months=16), ["EPOST"], []),
        (relativedelta(months=18, seconds=-1), ["EPOST"], []),
        (relativedelta(months=18), [], ["EPOST"]),
    ],
    ids=["16m-newer", "16m", "18m-newer", "18m"],
)
async def test_expiry_boundaries(client, mint, age, utloper_snart, utlopt):
    """Expires at exactly 18 months (§ 32: fresh only when after the cutoff); warned from
    exactly two months before."""
    pid = new_id(105)
    await person(pid, mobil=None, **_channel_dates(FIXED_NOW - age))
    body = await meg(client, resident(mint, pid, READ), "utloperSnart utlopt")
    assert body["data"]["meg"] == {"utloperSnart": utloper_snart, "utlopt": utlopt}


async def test_channels_are_judged_alone(client, mint):
    pid = new_id(106)
    await person(pid, epost_alder=17, mobil_alder=19)
    body = await meg(client, resident(mint, pid, READ), "utloperSnart utlopt")
    assert body["data"]["meg"] == {"utloperSnart": ["EPOST"], "utlopt": ["MOBIL"]}


@pytest.mark.parametrize(
    ("confirmed", "expected"),
    [
        (FIXED_NOW - relativedelta(months=3), False),
        (FIXED_NOW - relativedelta(months=3) - dt.timedelta(seconds=1), True),
        (None, True),
    ],
    ids=["exactly-3-months", "over-3-months", "never"],
)
async def test_maa_bekrefte_boundary(client, mint, confirmed, expected):
    pid = new_id(107)
    await person(
        pid, mobil=None, epostadresse_oppdatert=months_ago(1),
        epostadresse_sist_verifisert=confirmed,
    )
    body = await meg(client, resident(mint, pid, READ), "maaBekrefte")
    assert body["data"]["meg"]["maaBekrefte"] is expected


async def test_entering_an_address_confirms_it(client, mint):
    """A resident who just entered an address is not asked to confirm it at once."""
    pid = new_id(109)
    await person(pid, mobil=None, epost_alder=6)
    token = resident(mint, pid)
    assert (await meg(client, token, "maaBekrefte"))["data"]["meg"]["maaBekrefte"] is True
    call = 'oppdaterKontaktinformasjon(epostadresse: "ny@example.no")'
    body, _ = await mutate(client, token, call)
    assert "errors" not in body, body
    assert (await meg(client, token, "maaBekrefte"))["data"]["meg"]["maaBekrefte"] is False


async def test_maa_bekrefte_takes_the_latest_confirmed_channel(client, mint):
    pid = new_id(108)
    await person(pid, epost_alder=1, mobil_alder=10)
    body = await meg(client, resident(mint, pid, READ), "maaBekrefte")
    assert body["data"]["meg"]["maaBekrefte"] is False


async def test_slettet_entry_has_nothing_to_confirm(client, mint):
    pid = new_id(109)
    await person(pid, epost=None, mobil=None, status=Registerstatus.SLETTET)
    body = await meg(client, resident(mint, pid, READ), "maaBekrefte utlopt person { status }")
    assert body["data"]["meg"] == {
        "maaBekrefte": False, "utlopt": [], "person": {"status": "SLETTET"}
    }


# --- oppslag -------------------------------------------------------------------------------

OPPSLAG = """oppslag(first: $first, after: $after) {
  edges { node { tidspunkt organisasjon { orgnr navn } paaVegneAv { orgnr navn } kategorier }
          cursor }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
}"""
DIGDIR = "991825827"
VENDOR = "889640782"


async def _lookup_of(pids, when, consumer=DIGDIR, supplier=None, bits=3):
    principal = Principal(consumer=consumer, scopes=frozenset(), issuer="test",
                          supplier=supplier)
    await skriv_oppslag(tidspunkt=when, request_id="r", principal=principal, scopes=(),
                        varslingsstatus=False, personer=[(p, bits) for p in pids])


async def _page(client, token, first=None, after=None):
    query = f"query($first: Int, $after: String) {{ meg {{ {OPPSLAG} }} }}"
    body = await gql(client, token, query, {"first": first, "after": after})
    return body


async def test_oppslag_newest_first_in_pages(client, mint):
    pid, other = new_id(110), new_id(111)
    t = [FIXED_NOW - dt.timedelta(days=d) for d in (5, 4, 3, 3, 1)]
    await _lookup_of([pid, other], t[0])
    await _lookup_of([pid], t[1], consumer=CONSUMER, supplier=VENDOR, bits=7)
    await _lookup_of([pid], t[2], bits=1)
    await _lookup_of([pid], t[3])  # same moment: the later record comes first
    await _lookup_of([other], t[4])
    token = resident(mint, pid, READ)

    seen = []
    after = None
    pages = 0
    while True:
        body = await _page(client, token, first=2, after=after)
        assert "errors" not in body, body
        conn = body["data"]["meg"]["oppslag"]
        seen += [e["node"] for e in conn["edges"]]
        pages += 1
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 2
    assert [n["tidspunkt"] for n in seen] == [x.isoformat() for x in (t[3], t[2], t[1], t[0])]
    assert seen[0]["kategorier"] == ["GRUNNDATA", "KONTAKTINFORMASJON"]
    assert seen[1]["kategorier"] == ["GRUNNDATA"]
    assert seen[0]["organisasjon"] == {"orgnr": DIGDIR, "navn": "Digitaliseringsdirektoratet"}
    assert seen[0]["paaVegneAv"] is None
    # A vendor acting for a public body: the vendor looked up, on the body's behalf.
    assert seen[2]["organisasjon"] == {"orgnr": VENDOR, "navn": None}
    assert seen[2]["paaVegneAv"] == {"orgnr": CONSUMER, "navn": None}
    assert seen[2]["kategorier"] == ["GRUNNDATA", "KONTAKTINFORMASJON", "DIGITAL_POST"]


async def test_oppslag_default_page_and_empty_end(client, mint):
    pid = new_id(112)
    for i in range(25):
        await _lookup_of([pid], FIXED_NOW - dt.timedelta(minutes=i))
    token = resident(mint, pid, READ)
    body = await _page(client, token)
    conn = body["data"]["meg"]["oppslag"]
    assert len(conn["edges"]) == 20 and conn["pageInfo"]["hasNextPage"] is True
    rest = (await _page(client, token, first=100, after=conn["pageInfo"]["endCursor"]))
    conn = rest["data"]["meg"]["oppslag"]
    assert len(conn["edges"]) == 5 and conn["pageInfo"]["hasNextPage"] is False
    assert conn["pageInfo"]["hasPreviousPage"] is True
    end = (await _page(client, token, after=conn["pageInfo"]["endCursor"]))["data"]["meg"]
    assert end["oppslag"]["edges"] == []
    assert end["oppslag"]["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                          "startCursor": None, "endCursor": None}


@pytest.mark.parametrize(
    ("first", "after", "fragment"),
    [(0, None, "first must be between 1 and 100"), (101, None, "first must be between"),
     (2, "not-a-cursor", "after is not a cursor"), (2, "bm9waXBl", "after is not a cursor")],
)
async def test_oppslag_bad_paging_is_bad_user_input(client, mint, first, after, fragment):
    body = await _page(client, resident(mint, new_id(113), READ), first=first, after=after)
    bad_input(body, fragment)


# --- oppdaterKontaktinformasjon ------------------------------------------------------------


async def test_registering_creates_the_entry_and_sends_codes(client, mint):
    pid = new_id(120)
    before = await siste_endrings_id(connection())
    body, r = await mutate(
        client, resident(mint, pid),
        'oppdaterKontaktinformasjon(epostadresse: " Kari@Example.NO ", '
        'mobiltelefonnummer: "912 34 567")',
    )
    assert "errors" not in body, body
    assert r["advarsler"] == []
    p = r["meg"]["person"]
    assert p["status"] == "AKTIV"
    k = p["kontaktinformasjon"]
    assert k["epostadresse"] == "Kari@example.no"
    assert k["mobiltelefonnummer"] == "+4791234567"
    assert k["epostadresseOppdatert"] == NOW and k["mobiltelefonnummerOppdatert"] == NOW
    assert k["epostadresseSistValidert"] is None and k["mobiltelefonnummerSistValidert"] is None
    row = await stored(pid)
    assert row is not None and row.endrings_id == before + 1
    assert {m.mottaker for m in await Melding.all()} == {"Kari@example.no", "+4791234567"}
    assert await Engangskode.filter(personidentifikator=pid).count() == 2


async def test_changing_one_channel_leaves_the_other(client, mint):
    pid = new_id(121)
    await person(pid, epost="kari@example.no", mobil="+4791234567")
    _, r = await mutate(client, resident(mint, pid),
                           'oppdaterKontaktinformasjon(mobiltelefonnummer: "+46 70 123 45 67")')
    k = r["meg"]["person"]["kontaktinformasjon"]
    assert k["mobiltelefonnummer"] == "+46701234567"
    assert k["mobiltelefonnummerOppdatert"] == NOW
    assert k["epostadresse"] == "kari@example.no"
    assert k["epostadresseSistValidert"] == months_ago(7).isoformat()
    assert [m.mottaker for m in await Melding.all()] == ["+46701234567"]


async def test_same_address_again_changes_nothing(client, mint):
    pid = new_id(122)
    await person(pid, epost="kari@example.no", endrings_id=7)
    body, _ = await mutate(client, resident(mint, pid),
                           'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")')
    assert "errors" not in body
    row = await stored(pid)
    assert row is not None and row.endrings_id == 7
    assert await Melding.all().count() == 0


async def test_international_domain_accepted_and_normalised(client, mint):
    pid = new_id(123)
    body, r = await mutate(client, resident(mint, pid),
                           'oppdaterKontaktinformasjon(epostadresse: "kari@XN--5CA.no")')
    assert "errors" not in body, body
    assert r["meg"]["person"]["kontaktinformasjon"]["epostadresse"] == "kari@å.no"


async def test_non_ascii_local_part_is_refused_by_name(client, mint):
    """Seed 004's ærlig.ørken@å.no: the domain would do, the local part does not."""
    pid = new_id(124)
    body, r = await mutate(client, resident(mint, pid),
                           'oppdaterKontaktinformasjon(epostadresse: "ærlig.ørken@å.no")')
    err = bad_input(body, "'ærlig.ørken'", "local part", "non-ASCII", "'æ'", "'ø'")
    assert err["path"] == ["oppdaterKontaktinformasjon"]
    assert r is None
    assert await stored(pid) is None
    assert await Melding.all().count() == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ('mobiltelefonnummer: "22 33 44 55"', ["not a mobile number"]),
        ('mobiltelefonnummer: "tolv"', ["not a phone number"]),
        ('mobiltelefonnummer: "123"', ["not a valid phone number"]),
        ('epostadresse: "kari@example"', ["not valid"]),
        ('epostadresse: "kari example.no"', ["not valid"]),
        ('epostadresse: ""', ["epostadresse is empty"]),
        ("", ["Give epostadresse, mobiltelefonnummer or both"]),
        ('epostadresse: "a@b", mobiltelefonnummer: "22334455"', ["'a@b'", "not a mobile"]),
    ],
)
async def test_invalid_contact_information_changes_nothing(client, mint, args, fragments):
    pid = new_id(125)
    await person(pid, epost="kari@example.no", mobil="+4791234567", endrings_id=3)
    call = f"oppdaterKontaktinformasjon({args})" if args else "oppdaterKontaktinformasjon"
    body, _ = await mutate(client, resident(mint, pid), call)
    bad_input(body, *fragments)
    row = await stored(pid)
    assert row is not None
    assert (row.epostadresse, row.mobiltelefonnummer, row.endrings_id) == (
        "kari@example.no", "+4791234567", 3
    )
    assert await Melding.all().count() == 0


async def test_an_address_others_have_is_a_warning(client, mint):
    pid = new_id(126)
    await person(new_id(127), epost="delt@example.no", mobil="+4799999999")
    await person(new_id(128), epost="slettet@example.no", mobil="+4798888888",
                 status=Registerstatus.SLETTET)
    body, r = await mutate(
        client, resident(mint, pid),
        'oppdaterKontaktinformasjon(epostadresse: "delt@example.no", '
        'mobiltelefonnummer: "99999999")',
    )
    assert "errors" not in body, body
    assert [a["kode"] for a in r["advarsler"]] == ["DUPLIKAT_EPOST", "DUPLIKAT_MOBIL"]
    for advarsel in r["advarsler"]:
        assert "registrert på andre" in advarsel["melding"]
    k = r["meg"]["person"]["kontaktinformasjon"]
    assert (k["epostadresseDuplisert"], k["mobiltelefonnummerDuplisert"]) == ("JA", "JA")
    # Only other AKTIV persons count.
    body, r = await mutate(
        client, resident(mint, pid),
        'oppdaterKontaktinformasjon(epostadresse: "slettet@example.no", '
        'mobiltelefonnummer: "98888888")',
    )
    assert r["advarsler"] == []


async def test_a_slettet_entry_becomes_aktiv_again(client, mint):
    pid = new_id(129)
    await person(pid, epost=None, mobil=None, status=Registerstatus.SLETTET, reservasjon=True)
    _, r = await mutate(client, resident(mint, pid),
                           'oppdaterKontaktinformasjon(mobiltelefonnummer: "41234567")')
    p = r["meg"]["person"]
    assert p["status"] == "AKTIV"
    assert p["reservasjon"] == "JA"
    assert p["kontaktinformasjon"]["mobiltelefonnummer"] == "+4741234567"


# --- codes ---------------------------------------------------------------------------------


async def test_code_round_trip_validates_the_channel(client, mint):
    pid = new_id(130)
    token = resident(mint, pid)
    await mutate(client, token, 'oppdaterKontaktinformasjon(mobiltelefonnummer: "91234567")')
    code = await code_sent_to("+4791234567")
    body, r = await mutate(client, token, f'verifiserKode(kanal: MOBIL, kode: "{code}")')
    assert "errors" not in body, body
    k = r["meg"]["person"]["kontaktinformasjon"]
    assert k["mobiltelefonnummerSistValidert"] == NOW
    # Used once only.
    body, _ = await mutate(client, token, f'verifiserKode(kanal: MOBIL, kode: "{code}")')
    assert bad_input(body)["extensions"]["reason"] == "INGEN_KODE"


async def test_send_kode_sends_a_new_code_that_replaces_the_old(client, mint):
    pid = new_id(131)
    await person(pid, epost="kari@example.no")
    token = resident(mint, pid)
    body, r = await mutate(client, token, "sendKode(kanal: EPOST)")
    assert "errors" not in body, body
    assert r["advarsler"] == []
    first = await code_sent_to("kari@example.no")
    await mutate(client, token, "sendKode(kanal: EPOST)")
    second = await code_sent_to("kari@example.no")
    assert await Melding.filter(mottaker="kari@example.no").count() == 2
    if first != second:
        body, _ = await mutate(client, token, f'verifiserKode(kanal: EPOST, kode: "{first}")')
        assert "errors" in body
    body, r = await mutate(client, token, f'verifiserKode(kanal: EPOST, kode: "{second}")')
    assert r["meg"]["person"]["kontaktinformasjon"]["epostadresseSistValidert"] == NOW


async def test_five_wrong_tries_void_the_code(client, mint):
    pid = new_id(132)
    token = resident(mint, pid)
    await mutate(client, token, 'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")')
    code = await code_sent_to("kari@example.no")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        body, _ = await mutate(client, token, f'verifiserKode(kanal: EPOST, kode: "{wrong}")')
        err = bad_input(body, f"{left} forsøk igjen")
        assert err["extensions"]["reason"] == "FEIL_KODE"
    body, _ = await mutate(client, token, f'verifiserKode(kanal: EPOST, kode: "{wrong}")')
    assert bad_input(body)["extensions"]["reason"] == "FOR_MANGE_FORSOK"
    body, _ = await mutate(client, token, f'verifiserKode(kanal: EPOST, kode: "{code}")')
    assert bad_input(body)["extensions"]["reason"] == "FOR_MANGE_FORSOK"
    row = await stored(pid)
    assert row is not None and row.epostadresse_sist_validert is None


async def test_a_code_is_valid_ten_minutes(client, mint, db):
    pid = new_id(136)
    token = resident(mint, pid)
    await mutate(client, token, 'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")')
    code = await code_sent_to("kari@example.no")
    later = create_app(db, clock=lambda: FIXED_NOW + dt.timedelta(minutes=10), manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=later),
                                 base_url="http://krr.test") as late_client:
        body, _ = await mutate(late_client, token, f'verifiserKode(kanal: EPOST, kode: "{code}")')
    assert bad_input(body)["extensions"]["reason"] == "KODE_UTLOPT"


async def test_malformed_code_does_not_use_a_try(client, mint):
    pid = new_id(133)
    token = resident(mint, pid)
    await mutate(client, token, 'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")')
    body, _ = await mutate(client, token, 'verifiserKode(kanal: EPOST, kode: "12ab")')
    bad_input(body, "six digits")
    assert (await Engangskode.get(personidentifikator=pid)).feil_forsok == 0


async def test_codes_need_a_registered_channel(client, mint):
    pid = new_id(134)
    token = resident(mint, pid)
    body, _ = await mutate(client, token, "sendKode(kanal: MOBIL)")
    bad_input(body, "no entry")
    await person(pid, mobil=None)
    body, _ = await mutate(client, token, "sendKode(kanal: MOBIL)")
    bad_input(body, "no mobiltelefonnummer registered")
    body, _ = await mutate(client, token, 'verifiserKode(kanal: MOBIL, kode: "123456")')
    bad_input(body, "no mobiltelefonnummer registered")


async def test_too_many_codes_rolls_the_whole_change_back(client, mint):
    """All or nothing: the code is part of the change, so no code means no change."""
    pid = new_id(135)
    await person(pid, epost="kari@example.no", endrings_id=5)
    token = resident(mint, pid)
    for _ in range(10):
        body, _ = await mutate(client, token, "sendKode(kanal: EPOST)")
        assert "errors" not in body
    body, _ = await mutate(client, token, "sendKode(kanal: EPOST)")
    assert bad_input(body)["extensions"]["reason"] == "FOR_MANGE_KODER"
    body, _ = await mutate(client, token,
                           'oppdaterKontaktinformasjon(epostadresse: "ny@example.no")')
    assert bad_input(body)["extensions"]["reason"] == "FOR_MANGE_KODER"
    row = await stored(pid)
    assert row is not None and (row.epostadresse, row.endrings_id) == ("kari@example.no", 5)
    assert await Melding.filter(mottaker="ny@example.no").count() == 0


# --- confirming, reservation, language, mailbox, deletion ----------------------------------


async def test_bekreft_restarts_the_clock_of_present_channels(client, mint):
    pid = new_id(140)
    await person(pid, mobil=None, epost_alder=19)
    body, r = await mutate(client, resident(mint, pid), "bekreftKontaktinformasjon")
    assert "errors" not in body, body
    m = r["meg"]
    assert m["person"]["kontaktinformasjon"]["epostadresseSistVerifisert"] == NOW
    assert m["person"]["kontaktinformasjon"]["mobiltelefonnummerSistVerifisert"] is None
    assert (m["maaBekrefte"], m["utlopt"], m["utloperSnart"]) == (False, [], [])
    assert m["person"]["varslingsstatus"] == "KAN_VARSLES"


async def test_bekreft_without_contact_information_is_refused(client, mint):
    pid = new_id(141)
    token = resident(mint, pid)
    body, _ = await mutate(client, token, "bekreftKontaktinformasjon")
    bad_input(body, "no entry")
    await person(pid, epost=None, mobil=None)
    body, _ = await mutate(client, token, "bekreftKontaktinformasjon")
    bad_input(body, "no contact information registered")


async def test_reserver_and_opphev(client, mint):
    pid = new_id(142)
    token = resident(mint, pid)
    body, r = await mutate(client, token, "reserver")
    assert "errors" not in body, body
    p = r["meg"]["person"]
    assert (p["status"], p["reservasjon"]) == ("AKTIV", "JA")
    assert p["reservasjonstidspunkt"] == NOW and p["reservasjonOppdatert"] == NOW
    assert [a["kode"] for a in r["advarsler"]] == ["RESERVERT"]
    assert "papir" in r["advarsler"][0]["melding"]
    first_id = (await stored(pid)).endrings_id  # type: ignore[union-attr]

    body, r = await mutate(client, token, "reserver")  # already reserved: no change
    assert (await stored(pid)).endrings_id == first_id  # type: ignore[union-attr]

    body, r = await mutate(client, token, "opphevReservasjon")
    p = r["meg"]["person"]
    assert (p["reservasjon"], p["reservasjonstidspunkt"]) == ("NEI", None)
    assert r["advarsler"] == []
    row = await stored(pid)
    assert row is not None and row.endrings_id > first_id and not row.reservasjon
    body, r = await mutate(client, token, "opphevReservasjon")
    assert "errors" not in body
    assert (await stored(pid)).endrings_id == row.endrings_id  # type: ignore[union-attr]


async def test_velg_spraak(client, mint):
    pid = new_id(143)
    token = resident(mint, pid, SPRAAK)
    body, r = await mutate(client, token, 'velgSpraak(spraak: "NN")',
                           "meg { person { status spraak spraakOppdatert } } advarsler { kode }")
    assert "errors" not in body, body
    p = r["meg"]["person"]
    assert (p["status"], p["spraak"], p["spraakOppdatert"]) == ("AKTIV", "nn", NOW)
    body, _ = await mutate(client, token, 'velgSpraak(spraak: "de")')
    bad_input(body, "nb, nn, en, se", "'de'")
    assert (await stored(pid)).spraak == "nn"  # type: ignore[union-attr]


async def test_spraak_write_alone_sees_only_the_language_in_the_answer(client, mint):
    pid = new_id(149)
    await person(pid, epost="kari@example.no")
    body, r = await mutate(client, resident(mint, pid, SPRAAK), 'velgSpraak(spraak: "en")')
    p = r["meg"]["person"]
    assert p["spraak"] == "en"
    assert p["kontaktinformasjon"] is None and p["varslingsstatus"] is None
    paths = {tuple(e["path"]): e["extensions"] for e in body["errors"]}
    prefix = ("velgSpraak", "meg", "person")
    assert set(paths) == {(*prefix, f) for f in
                          ("kontaktinformasjon", "varslingsstatus", "digitalPost", "sertifikat")}
    assert paths[(*prefix, "kontaktinformasjon")]["scope"] == f"{READ} or {WRITE}"
    assert paths[(*prefix, "digitalPost")]["scope"] == POST


async def test_spraak_write_opens_only_the_language(client, mint):
    pid = new_id(144)
    body, _ = await mutate(client, resident(mint, pid, SPRAAK), "reserver")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert WRITE in err["message"]
    assert await stored(pid) is None
    body, r = await mutate(client, resident(mint, pid, WRITE), 'velgSpraak(spraak: "se")')
    assert r["meg"]["person"]["spraak"] == "se"


async def test_velg_og_fjern_digital_postkasse(client, mint):
    await provider()
    await provider(EBOKS, "e-Boks")
    pid = new_id(145)
    token = resident(mint, pid)
    body, r = await mutate(client, token, "velgDigitalPostkasse(leverandoer: DIGIPOST)")
    assert "errors" not in body, body
    p = r["meg"]["person"]
    assert p["digitalPost"] == {"postkasseadresse": f"{pid}#digipost",
                                "postkasseleverandoeradresse": DIGIPOST}
    assert p["sertifikat"] == CERT
    body, r = await mutate(client, token, "velgDigitalPostkasse(leverandoer: EBOKS)")
    assert r["meg"]["person"]["digitalPost"] == {
        "postkasseadresse": f"{pid}#eboks", "postkasseleverandoeradresse": EBOKS
    }
    body, r = await mutate(client, token, "fjernDigitalPostkasse")
    assert "errors" not in body
    assert r["meg"]["person"]["digitalPost"] is None
    row = await stored(pid)
    assert row is not None and row.postkasseadresse is None
    assert row.postkasseleverandoer_id is None  # type: ignore[attr-defined]


async def test_mailbox_while_reserved_warns_letters_stay_on_paper(client, mint):
    await provider()
    pid = new_id(146)
    await person(pid, reservasjon=True, reservasjonstidspunkt=months_ago(1))
    _, r = await mutate(client, resident(mint, pid),
                           "velgDigitalPostkasse(leverandoer: DIGIPOST)")
    assert [a["kode"] for a in r["advarsler"]] == ["RESERVERT"]


async def test_provider_missing_from_the_register_is_refused(client, mint):
    pid = new_id(147)
    body, _ = await mutate(client, resident(mint, pid),
                           "velgDigitalPostkasse(leverandoer: EBOKS)")
    bad_input(body, "e-Boks (922020175) is not a mailbox provider")
    assert await stored(pid) is None


async def test_slett_kontaktinformasjon(client, mint):
    await provider()
    pid = new_id(148)
    await person(pid, postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST,
                 reservasjon=True, reservasjonstidspunkt=months_ago(3), endrings_id=4)
    body, r = await mutate(client, resident(mint, pid), "slettKontaktinformasjon")
    assert "errors" not in body, body
    p = r["meg"]["person"]
    assert p["status"] == "SLETTET"
    assert p["kontaktinformasjon"] is None and p["digitalPost"] is None
    [advarsel] = r["advarsler"]
    assert advarsel["kode"] == "PAPIRPOST"
    assert "papir" in advarsel["melding"]
    row = await stored(pid)
    assert row is not None and row.status is Registerstatus.SLETTET
    assert (row.epostadresse, row.mobiltelefonnummer, row.postkasseadresse) == (None,) * 3
    assert row.epostadresse_oppdatert is None and row.mobiltelefonnummer_sist_verifisert is None
    assert row.reservasjon is True and row.spraak == "nb"
    assert row.endrings_id > 4


# --- refusals, change numbers, concurrency -------------------------------------------------

ALL_MUTATIONS = [
    'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")',
    "sendKode(kanal: EPOST)",
    'verifiserKode(kanal: EPOST, kode: "123456")',
    "bekreftKontaktinformasjon",
    "reserver",
    "opphevReservasjon",
    'velgSpraak(spraak: "nn")',
    "velgDigitalPostkasse(leverandoer: DIGIPOST)",
    "fjernDigitalPostkasse",
    "slettKontaktinformasjon",
]


@pytest.mark.parametrize("call", ALL_MUTATIONS)
async def test_mutations_refuse_organisation_tokens(client, mint, call):
    body, _ = await mutate(client, mint("krr:global/kontaktinformasjon.read " + WRITE), call,
                           "advarsler { kode }")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("call", [c for c in ALL_MUTATIONS if "velgSpraak" not in c])
async def test_mutations_need_the_write_scope(client, mint, call):
    pid = new_id(150)
    await person(pid, endrings_id=9)
    body, _ = await mutate(client, resident(mint, pid, f"{READ} {POST} {SPRAAK}"), call)
    [err] = body["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert err["extensions"]["scope"] == WRITE
    assert (await stored(pid)).endrings_id == 9  # type: ignore[union-attr]


async def test_every_change_takes_a_new_number(client, mint):
    await provider()
    pid = new_id(151)
    token = resident(mint, pid)
    numbers = []
    for call in [
        'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")',
        "bekreftKontaktinformasjon", "reserver", "opphevReservasjon",
        'velgSpraak(spraak: "en")', "velgDigitalPostkasse(leverandoer: DIGIPOST)",
        "fjernDigitalPostkasse", "slettKontaktinformasjon",
    ]:
        body, _ = await mutate(client, token, call, "advarsler { kode }")
        assert "errors" not in body, (call, body)
        numbers.append((await stored(pid)).endrings_id)  # type: ignore[union-attr]
    assert numbers == sorted(set(numbers)), numbers
    assert numbers[-1] == await siste_endrings_id(connection())


async def test_concurrent_changes_of_one_entry_are_both_kept(client, mint):
    pid = new_id(152)
    await person(pid, epost="gammel@example.no", reservasjon=False, spraak="nb")
    token = resident(mint, pid)
    results = await asyncio.gather(
        mutate(client, token, 'oppdaterKontaktinformasjon(epostadresse: "ny@example.no")',
               "advarsler { kode }"),
        mutate(client, token, "reserver", "advarsler { kode }"),
        mutate(client, token, 'velgSpraak(spraak: "se")', "advarsler { kode }"),
        mutate(client, token, "bekreftKontaktinformasjon", "advarsler { kode }"),
    )
    for body, _ in results:
        assert "errors" not in body, body
    row = await stored(pid)
    assert row is not None
    assert row.epostadresse == "ny@example.no"
    assert row.epostadresse_oppdatert is not None
    assert row.reservasjon is True
    assert row.spraak == "se"
    assert row.epostadresse_sist_verifisert == FIXED_NOW
    assert row.endrings_id == await siste_endrings_id(connection())


async def test_concurrent_first_registrations_create_one_entry(client, mint):
    pid = new_id(153)
    token = resident(mint, pid)
    results = await asyncio.gather(
        mutate(client, token, 'oppdaterKontaktinformasjon(epostadresse: "kari@example.no")',
               "advarsler { kode }"),
        mutate(client, token, 'oppdaterKontaktinformasjon(mobiltelefonnummer: "91234567")',
               "advarsler { kode }"),
        mutate(client, token, "reserver", "advarsler { kode }"),
    )
    for body, _ in results:
        assert "errors" not in body, body
    row = await stored(pid)
    assert row is not None
    assert (row.epostadresse, row.mobiltelefonnummer, row.reservasjon) == (
        "kari@example.no", "+4791234567", True
    )


async def test_concurrent_delete_and_register_never_mix(client, mint):
    """Each change decides from the row it locked: deleting and registering at once end as one
    or the other, never SLETTET with a number or AKTIV without it."""
    pid = new_id(154)
    await person(pid, epost=None, mobil="+4791234567")
    token = resident(mint, pid)
    for round_ in range(6):
        number = f"9{round_ + 1}234567"
        results = await asyncio.gather(
            mutate(client, token, "slettKontaktinformasjon", "advarsler { kode }"),
            mutate(client, token,
                   f'oppdaterKontaktinformasjon(mobiltelefonnummer: "{number}")',
                   "advarsler { kode }"),
        )
        for body, _ in results:
            assert "errors" not in body, body
        row = await stored(pid)
        assert row is not None
        if row.status is Registerstatus.SLETTET:
            assert row.mobiltelefonnummer is None and row.mobiltelefonnummer_oppdatert is None
        else:
            assert row.mobiltelefonnummer == f"+47{number}"
            assert row.mobiltelefonnummer_oppdatert == FIXED_NOW
        assert row.endrings_id == await siste_endrings_id(connection())


async def test_changing_an_address_renumbers_the_other_holders_for_the_feed(client, mint):
    """A feed copy stays exact: the other holder's duplicate flag changes, so it reappears."""
    me, other, bystander = new_id(700), new_id(701), new_id(702)
    await person(me, epost="me@example.no", mobil="+4791000700")
    await person(other, epost="other@example.no", mobil="+4791000701")
    await person(bystander, epost="by@example.no", mobil="+4791000702")
    before = {p.personidentifikator: p.endrings_id for p in await Person.all()}
    body, _ = await mutate(client, resident(mint, me),
                           'oppdaterKontaktinformasjon(mobiltelefonnummer: "+4791000701")')
    assert "errors" not in body, body
    after = {p.personidentifikator: p.endrings_id for p in await Person.all()}
    assert after[me] > before[me]
    assert after[other] > before[other]  # now DUPLISERT: must reach feed readers
    assert after[bystander] == before[bystander]
    # Moving away again clears the other's flag: it is renumbered once more.
    body, _ = await mutate(client, resident(mint, me),
                           'oppdaterKontaktinformasjon(mobiltelefonnummer: "+4791000799")')
    assert "errors" not in body, body
    again = {p.personidentifikator: p.endrings_id for p in await Person.all()}
    assert again[other] > after[other]
    assert again[bystander] == before[bystander]
