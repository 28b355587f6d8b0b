"""The real register's REST endpoints (`/rest/v2/personer`, `/rest/v2/krr/hentEndringer`): the
documents of seed 004 field by field, and answers equal to GraphQL's for the same token and ids."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from app.delegering.models import Delegering, Delegeringsordning
from app.edge.app import create_app
from app.endringer import store as feed_store
from app.personer.models import Postkasseleverandoer, Registerstatus
from app.personer.rest import felter_for
from app.revisjon import store
from app.revisjon.models import Oppslag
from authz.principal import Principal
from tests.conftest import CONSUMER
from tests.factories import DIGIPOST, months_ago, new_id, person, provider
from tests.revisjonsrader import personrader
from tests.test_feed import FIELDS as FEED_FIELDS
from tests.test_feed import registrert, side
from tests.test_lookup import ALL_FIELDS, BOTH, KONTAKT, NO_VARSLING, POST, UNKNOWN, lookup
from tests.test_paa_vegne_av import VENDOR, delegate, ordning

PERSONER = "/rest/v2/personer"
ENDRINGER = "/rest/v2/krr/hentEndringer"
HENTENDRING = "krr:global/hentendring.read"
KJELL = "17912099997"

# Seed 004, verbatim: "Duplisert eller ikke?" and "Validert eller ikke?".
SEED_DUPLISERT = """
{
  "personer": [
    {
      "personidentifikator": "17912099997",
      "reservasjon": "NEI",
      "status": "AKTIV",
      "varslingsstatus": "KAN_VARSLES",
      "kontaktinformasjon": {
        "epostadresse": "kjell@test.no",
        "epostadresse_duplisert": "NEI",
        "mobiltelefonnummer": "+4798765432",
        "mobiltelefonnummer_duplisert": "NEI"
      },
      "digital_post": {
        "postkasseadresse": "kjell#digipost",
        "postkasseleverandoeradresse": "984661185"
      },
      "sertifikat": "DIGIPOSTCERTIFICATE"
    }
  ]
}"""
SEED_VALIDERT = """
{
  "personidentifikator": "17912099997",
  "reservasjon": "NEI",
  "reservasjon_oppdateret": "2019-06-24T13:16:47+02",
  "status": "AKTIV",
  "varslingsstatus": "KAN_VARSLES",
  "kontaktinformasjon": {
    "epostadresse": "kjell@test.no",
    "epostadresse_oppdateret": "2019-06-27T13:11:47+02",
    "epostadresse_sist_verifisert": "2022-10-07T09:45:56+02",
    "epostadresse_sist_validert": "2022-10-07T09:53:55+02",
    "mobiltelefonnummer": "+4798765432",
    "mobiltelefonnummer_oppdateret": "2021-04-19T16:10:17+02",
    "mobiltelefonnummer_sist_verifisert": "2022-10-07T09:45:56+02",
    "mobiltelefonnummer_sist_validert": "2022-10-07T09:49:10+02"
  },
  "digital_post": {
    "postkasseadresse": "kjell#digipost",
    "postkasseleverandoeradresse": "984661185"
  },
  "sertifikat": "DIGIPOSTCERTIFICATE",
  "spraak": "nb",
  "spraak_oppdateret": "2018-08-10T11:12:14+02"
}"""
# When the examples were taken: the channels were confirmed 3 months before, so fresh.
SEED_NOW = dt.datetime(2023, 1, 9, 12, 0, tzinfo=dt.UTC)


def tid(value: str) -> dt.datetime:
    """The register's short offset ("+02") read as a moment."""
    return dt.datetime.fromisoformat(value)


async def rest(client: httpx.AsyncClient, path: str, token: str | None, body: Any,
               **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(path, content=content,
                             headers={"Content-Type": "application/json", **headers})


async def rest_personer(client, token, ids, inkluder: bool | None = True) -> list[dict]:
    body: dict[str, Any] = {"personidentifikatorer": ids}
    if inkluder is not None:
        body["inkluderIkkeRegistrerte"] = inkluder
    response = await rest(client, PERSONER, token, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["personer"]


OSLO = ZoneInfo("Europe/Oslo")
# As the real register writes a date (`2023-06-29T10:14:52+02`): Oslo's offset is whole hours.
REST_DATO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]")


def oslo(moment: dt.datetime) -> str:
    """A moment as REST writes it: Oslo local time, whole seconds, the offset in hours."""
    local = moment.astimezone(OSLO)
    hours = int((local.utcoffset() or dt.timedelta()).total_seconds()) // 3600
    return f"{local:%Y-%m-%dT%H:%M:%S}{hours:+03d}"


def _er_dato(navn: str) -> bool:
    return navn == "reservasjonstidspunkt" or navn.endswith(
        ("_oppdatert", "_sist_verifisert", "_sist_validert"))


def snake(value: Any) -> Any:
    """A GraphQL answer as the real register writes it: snake_case names, nulls left out,
    GraphQL's UTC dates in REST's Oslo form."""
    if isinstance(value, dict):
        svar = {}
        for k, v in value.items():
            navn = re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower()
            if v is not None:
                svar[navn] = oslo(dt.datetime.fromisoformat(v)) if _er_dato(navn) else snake(v)
        return svar
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


@pytest.fixture
async def seed_client(db) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its clock at the time of seed 004's examples."""
    app = create_app(db, clock=lambda: SEED_NOW, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as c:
        yield c


async def kjell() -> None:
    """17912099997 as in seed 004's examples."""
    await Postkasseleverandoer.create(orgnr=DIGIPOST, navn="Digipost",
                                      sertifikat="DIGIPOSTCERTIFICATE")
    await person(
        KJELL,
        reservasjon_oppdatert=tid("2019-06-24T13:16:47+02"),
        epost="kjell@test.no",
        epostadresse_oppdatert=tid("2019-06-27T13:11:47+02"),
        epostadresse_sist_verifisert=tid("2022-10-07T09:45:56+02"),
        epostadresse_sist_validert=tid("2022-10-07T09:53:55+02"),
        mobil="+4798765432",
        mobiltelefonnummer_oppdatert=tid("2021-04-19T16:10:17+02"),
        mobiltelefonnummer_sist_verifisert=tid("2022-10-07T09:45:56+02"),
        mobiltelefonnummer_sist_validert=tid("2022-10-07T09:49:10+02"),
        postkasseadresse="kjell#digipost", postkasseleverandoer_id=DIGIPOST,
        spraak="nb", spraak_oppdatert=tid("2018-08-10T11:12:14+02"),
    )


def assert_same_document(actual: dict, expected: dict, path: str = "") -> None:
    """Field by field: the same names, the same values (dates as the same moment)."""
    assert set(actual) == set(expected), f"{path}: {sorted(actual)} != {sorted(expected)}"
    for key, want in expected.items():
        got = actual[key]
        where = f"{path}.{key}"
        if isinstance(want, dict):
            assert_same_document(got, want, where)
        else:  # dates included: the register's own text, `+02` and all
            assert got == want, where


# --- seed 004's documents --------------------------------------------------------------------

async def test_validated_example_field_by_field(seed_client, mint):
    """The full example; the seed spells the dates `_oppdateret`, the documented API (DOMAIN.md
    and Digdir's attribute list) `_oppdatert`, which is what we emit. Duplicate flags are always
    given with an address (the seed's other example shows them)."""
    await kjell()
    [document] = await rest_personer(seed_client, mint(BOTH), [KJELL])
    expected = orjson.loads(SEED_VALIDERT.replace("_oppdateret", "_oppdatert"))
    expected["kontaktinformasjon"] |= {"epostadresse_duplisert": "NEI",
                                       "mobiltelefonnummer_duplisert": "NEI"}
    assert_same_document(document, expected)
    assert "_oppdateret" not in orjson.dumps(document).decode()


async def test_duplicate_example_field_by_field(seed_client, mint):
    """The short example: each of its fields with its value; the rest are the dates it omits."""
    await kjell()
    body = (await rest(seed_client, PERSONER, mint(BOTH),
                       {"personidentifikatorer": [KJELL]})).json()
    expected = orjson.loads(SEED_DUPLISERT)
    [document], [want] = body["personer"], expected["personer"]
    for key, value in want.items():
        if isinstance(value, dict):
            assert {k: document[key][k] for k in value} == value
        else:
            assert document[key] == value
    assert set(body) == set(expected) == {"personer"}


async def test_duplicated_address_says_ja(seed_client, mint):
    await kjell()
    await person(new_id(1), epost="kjell@test.no", mobil=None)
    [document] = await rest_personer(seed_client, mint(KONTAKT), [KJELL])
    assert document["kontaktinformasjon"]["epostadresse_duplisert"] == "JA"
    assert document["kontaktinformasjon"]["mobiltelefonnummer_duplisert"] == "NEI"


async def test_dates_are_oslo_local_time_with_the_offset_in_hours_and_whole_seconds(seed_client,
                                                                                   mint):
    await kjell()
    [document] = await rest_personer(seed_client, mint(BOTH), [KJELL])
    # Stored as 11:16:47 UTC: the real register writes 2019-06-24T13:16:47+02 (summer time).
    assert document["reservasjon_oppdatert"] == "2019-06-24T13:16:47+02"


async def test_every_rest_date_is_written_as_the_real_register_writes_it(client, mint):
    """Winter (+01) and summer (+02) alike, fractions of a second dropped, every date of a full
    answer in the one form, the moment it was."""
    pid = new_id(90)
    winter = dt.datetime(2026, 1, 15, 8, 30, 5, 987654, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 6, 15, 8, 30, 5, 123456, tzinfo=dt.UTC)
    await provider()
    await person(pid, epostadresse_oppdatert=winter, epostadresse_sist_verifisert=summer,
                 postkasseadresse="p#digipost", postkasseleverandoer_id=DIGIPOST)
    [document] = await rest_personer(client, mint(BOTH), [pid])
    k = document["kontaktinformasjon"]
    assert k["epostadresse_oppdatert"] == "2026-01-15T09:30:05+01"
    assert k["epostadresse_sist_verifisert"] == "2026-06-15T10:30:05+02"
    datoer = [v for n, v in [*document.items(), *k.items()] if _er_dato(n)]
    assert len(datoer) >= 6
    for dato in datoer:
        assert REST_DATO.fullmatch(dato), dato
    assert dt.datetime.fromisoformat(k["epostadresse_oppdatert"]) == winter.replace(microsecond=0)
    assert dt.datetime.fromisoformat(k["epostadresse_sist_verifisert"]) == summer.replace(
        microsecond=0)


# --- equal to GraphQL ------------------------------------------------------------------------

async def _register_mix() -> list[str]:
    """Fresh, e-mail expired, both expired, reserved, SLETTET, unknown; all with a mailbox."""
    await provider()
    mailbox = {"postkasseadresse": "m#digipost", "postkasseleverandoer_id": DIGIPOST}
    ids = [new_id(i) for i in range(40, 45)]
    await person(ids[0], epost="f@example.no", mobil="+4790000040", **mailbox)
    await person(ids[1], epost="e@example.no", epost_alder=19, mobil="+4790000041", **mailbox)
    await person(ids[2], epost="b@example.no", epost_alder=20, mobil="+4790000042",
                 mobil_alder=20, **mailbox)
    await person(ids[3], epost="r@example.no", mobil="+4790000043", reservasjon=True,
                 reservasjonstidspunkt=months_ago(2), **mailbox)
    await person(ids[4], status=Registerstatus.SLETTET, epost=None, mobil=None, spraak=None,
                 spraak_oppdatert=None)
    await person(new_id(45), epost="f@example.no", mobil=None)  # e-mail duplicated
    return [*ids, UNKNOWN]


def graphql_fields(principal_scopes: str) -> str:
    """Every field. A mailbox-only token asks REST for no varslingsstatus (the contact scope opens
    it), so it is the one selection without it: asking for it switches § 32 filtering on."""
    return ALL_FIELDS if KONTAKT in principal_scopes.split() else NO_VARSLING


@pytest.mark.parametrize("scopes", [KONTAKT, POST, BOTH])
async def test_rest_answers_equal_graphql_for_every_scope_combination(client, mint, scopes):
    ids = await _register_mix()
    token = mint(scopes)
    via_rest = await rest_personer(client, token, ids)
    body = await lookup(client, token, ids, graphql_fields(scopes))
    assert via_rest == snake(body["data"]["personer"])
    assert len(via_rest) == len(ids)


@pytest.mark.parametrize(
    ("scopes", "ordning"),
    [(BOTH, "krr-paa-vegne-av"), ("krr:global/kontaktinfo.read krr:global/postkasse.read",
                                  "krr-paa-vegne-av"), (BOTH, "rest-kun-kontakt")],
)
async def test_vendor_with_delegation_gets_the_same_as_graphql(client, mint, scopes, ordning):
    ids = await _register_mix()
    if ordning == "rest-kun-kontakt":
        await Delegeringsordning.create(id=ordning, tittel="Bare kontaktinformasjon",
                                        eier="991825827", scopes=KONTAKT)
    try:
        await delegate(ordning=ordning)
        token = mint(scopes, supplier=VENDOR)
        via_rest = await rest_personer(client, token, ids)
        body = await lookup(client, token, ids, ALL_FIELDS)
        assert via_rest == snake(body["data"]["personer"])
        assert via_rest[0]["kontaktinformasjon"]["epostadresse"] == "f@example.no"
        assert ("digital_post" in via_rest[0]) is (ordning != "rest-kun-kontakt")
    finally:  # schemes are reference data, kept between tests: leave none of ours behind
        if ordning == "rest-kun-kontakt":
            await Delegering.filter(ordning_id=ordning).delete()
            await Delegeringsordning.filter(id=ordning).delete()


async def test_paragraph_32_filtering_is_on_with_the_contact_scope(client, mint):
    ids = await _register_mix()
    fresh, email_expired, both_expired, reserved, slettet, unknown = await rest_personer(
        client, mint(BOTH), ids
    )
    assert fresh["varslingsstatus"] == "KAN_VARSLES"
    assert fresh["kontaktinformasjon"]["epostadresse_duplisert"] == "JA"
    assert "epostadresse" not in email_expired["kontaktinformasjon"]
    assert email_expired["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000041"
    assert both_expired["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert "kontaktinformasjon" not in both_expired and "digital_post" not in both_expired
    assert "sertifikat" not in both_expired
    assert reserved["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert reserved["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000043"
    assert "digital_post" not in reserved and "sertifikat" not in reserved
    assert reserved["reservasjon"] == "JA"
    assert reserved["reservasjonstidspunkt"] == oslo(months_ago(2))
    assert slettet == {"personidentifikator": ids[4], "status": "SLETTET",
                       "varslingsstatus": "KAN_IKKE_VARSLES"}
    assert unknown == {"personidentifikator": UNKNOWN, "status": "IKKE_REGISTRERT",
                       "varslingsstatus": "KAN_IKKE_VARSLES"}


@pytest.mark.parametrize("scopes", ["", "openid", HENTENDRING])
async def test_a_token_minted_for_another_api_reads_nothing(client, mint, scopes):
    """Issue 12.18, over REST: no lookup scope, 403 and no person data at all."""
    ids = await _register_mix()
    response = await rest(client, PERSONER, mint(scopes), {"personidentifikatorer": ids})
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
        "FORBIDDEN", "MANGLER_SCOPE")
    assert not any(i in response.text for i in ids)
    assert await Oppslag.all().count() == 0


async def test_with_the_mailbox_scope_alone_no_contact_information(client, mint):
    ids = await _register_mix()
    for p in await rest_personer(client, mint(POST), ids):
        assert set(p) <= {"personidentifikator", "status", "reservasjon",
                          "reservasjonstidspunkt", "reservasjon_oppdatert", "digital_post",
                          "sertifikat"}


@pytest.mark.parametrize("inkluder", [None, False])
async def test_not_registered_are_left_out_unless_asked_for(client, mint, inkluder):
    ids = await _register_mix()
    via_rest = await rest_personer(client, mint(BOTH), ids, inkluder)
    assert [p["personidentifikator"] for p in via_rest] == ids[:5]  # SLETTET stays


def test_fields_follow_the_scope_table():
    def principal(scopes: str, supplier: str | None = None) -> Principal:
        return Principal(CONSUMER, frozenset(scopes.split()), "iss", supplier=supplier)

    grunndata = {"personidentifikator", "status", "reservasjon", "reservasjonstidspunkt",
                 "reservasjonOppdatert"}
    kontakt = {"varslingsstatus", "kontaktinformasjon", "spraak", "spraakOppdatert"}
    post = {"digitalPost", "sertifikat"}
    assert felter_for(principal("")) == grunndata
    assert felter_for(principal(KONTAKT)) == grunndata | kontakt
    assert felter_for(principal(POST)) == grunndata | post
    assert felter_for(principal("krr:global/kontaktinfo.read")) == grunndata
    assert felter_for(principal("krr:global/kontaktinfo.read", VENDOR)) == grunndata | kontakt


# --- delegation, audit, errors ---------------------------------------------------------------

async def test_vendor_without_delegation_gets_403_and_nothing_is_logged(client, mint):
    ids = await _register_mix()
    response = await rest(client, PERSONER, mint(BOTH, supplier=VENDOR),
                          {"personidentifikatorer": ids})
    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert CONSUMER in error["message"] and VENDOR in error["message"]
    assert "example.no" not in response.text
    assert await Oppslag.all().count() == 0


async def test_each_lookup_writes_one_audit_record(client, mint):
    ids = await _register_mix()
    token = mint(BOTH, pid="17912099997")
    response = await rest(client, PERSONER, token, {"personidentifikatorer": [*ids[:2], UNKNOWN]},
                          **{"X-Request-ID": "rest-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "rest-1"
    await rest(client, PERSONER, mint(POST), {"personidentifikatorer": [ids[0]]})
    first, second = await Oppslag.all().order_by("id")
    assert (first.request_id, first.consumer, first.supplier) == ("rest-1", CONSUMER, None)
    assert first.actor == "17912099997"
    assert first.varslingsstatus is True
    assert set(first.scopes.split()) == {KONTAKT, POST}
    assert first.antall == 3
    rows = {r.personidentifikator: r.kategorier
            for r in await personrader(first.id)}
    assert rows == {ids[0]: 1 | 2 | 4, ids[1]: 1 | 2 | 4, UNKNOWN: 1 | 2}
    assert (second.varslingsstatus, second.scopes) == (False, POST)


async def test_when_the_audit_log_cannot_be_written_503_and_nothing_disclosed(
    client, mint, monkeypatch
):

    ids = await _register_mix()

    async def broken(**_: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(store, "skriv_oppslag", broken)
    response = await rest(client, PERSONER, mint(BOTH), {"personidentifikatorer": ids})
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "example.no" not in response.text


@pytest.mark.parametrize("path", [PERSONER, ENDRINGER])
async def test_401_as_graphql(client, path):
    body = {"personidentifikatorer": [KJELL], "fraEndringsId": 0}
    graphql = await client.post("/graphql", json={"query": "{ __typename }"},
                                headers={"Authorization": "Bearer nonsense"})
    for headers, reason in (({}, "missing"), ({"Authorization": "Bearer nonsense"}, None)):
        response = await rest(client, path, None, body, **headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == (  # RFC 6750 3.1
            "Bearer" if reason == "missing" else graphql.headers["www-authenticate"])
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        if reason:
            assert error["extensions"]["reason"] == reason
        else:
            assert response.headers["www-authenticate"] == graphql.headers["www-authenticate"]
            assert response.json() == graphql.json()


@pytest.mark.parametrize(
    ("ids", "offending"),
    [(["12345"], ["12345"]), ([KJELL, "17912099998", "123"], ["17912099998", "123"])],
)
async def test_400_names_the_offending_ids(client, mint, ids, offending):
    response = await rest(client, PERSONER, mint(BOTH), {"personidentifikatorer": ids})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["ugyldigePersonidentifikatorer"] == offending
    for i in offending:
        assert i in error["message"]
    assert await Oppslag.all().count() == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "JSON object"),
        ([KJELL], "JSON object"),
        ({}, "personidentifikatorer"),
        ({"personidentifikatorer": KJELL}, "personidentifikatorer"),
        ({"personidentifikatorer": [17912099997]}, "personidentifikatorer"),
        ({"personidentifikatorer": []}, "at least one"),
        ({"personidentifikatorer": [new_id(i) for i in range(1001)]}, "1001"),
        ({"personidentifikatorer": [KJELL], "inkluderIkkeRegistrerte": "ja"},
         "inkluderIkkeRegistrerte"),
    ],
)
async def test_400_for_a_malformed_request(client, mint, body, words):
    response = await rest(client, PERSONER, mint(BOTH), body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]


@pytest.mark.parametrize("path", [PERSONER, ENDRINGER])
async def test_403_for_a_residents_token(client, mint, path):
    token = mint(f"krr:user/kontaktinformasjon.read {HENTENDRING}", consumer=None, pid=KJELL)
    response = await rest(client, path, token,
                          {"personidentifikatorer": [KJELL], "fraEndringsId": 0})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "resident" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("path", [PERSONER, ENDRINGER])
async def test_get_is_not_allowed(client, mint, path):
    response = await client.get(path, headers={"Authorization": f"Bearer {mint(BOTH)}"})
    assert response.status_code == 405


# --- hentEndringer ---------------------------------------------------------------------------

async def rest_endringer(client, token, fra) -> dict:
    response = await rest(client, ENDRINGER, token, {"fraEndringsId": fra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("scopes", [HENTENDRING, f"{HENTENDRING} {KONTAKT}",
                                    f"{HENTENDRING} {KONTAKT} {POST}"])
async def test_feed_pages_equal_graphql(client, mint, monkeypatch, scopes):
    monkeypatch.setattr(feed_store, "MAX_ANTALL", 3)
    await provider()
    for i in range(7):
        await registrert(new_id(50 + i), epost=f"p{i}@example.no", mobil=f"+479000005{i}")
    await registrert(new_id(57), postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    await registrert(new_id(58), mobil="+4790000051", status=Registerstatus.SLETTET)
    token = mint(scopes)
    fra, sider = 0, 0
    while True:
        via_rest = await rest_endringer(client, token, fra)
        body = await side(client, token, fra, 3, FEED_FIELDS)
        e = body["data"]["endringer"]
        assert via_rest == {
            "list": snake(e["personer"]),
            "fraEndringsId": e["fraEndringsId"],
            "tilEndringsId": e["tilEndringsId"],
            "sisteEndringsId": e["sisteEndringsId"],
        }
        assert len(via_rest["list"]) <= 3
        assert all("varslingsstatus" not in p for p in via_rest["list"])
        sider += 1
        if via_rest["tilEndringsId"] == via_rest["sisteEndringsId"]:
            break
        fra = via_rest["tilEndringsId"]
    assert sider == 3


async def test_feed_is_audited_and_gives_no_varslingsstatus(client, mint):
    await registrert(new_id(60))
    token = mint(f"{HENTENDRING} {KONTAKT}")
    page = await rest_endringer(client, token, 0)
    [p] = page["list"]
    assert p["kontaktinformasjon"]["epostadresse"] == "kari@example.no"
    assert "varslingsstatus" not in p and "digital_post" not in p
    [record] = await Oppslag.all()
    assert record.varslingsstatus is False and record.scopes == KONTAKT


async def test_feed_without_its_scope_is_403(client, mint):
    response = await rest(client, ENDRINGER, mint(BOTH), {"fraEndringsId": 0})
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "FORBIDDEN", "reason": "MANGLER_SCOPE",
                                  "scope": HENTENDRING}
    graphql = await side(client, mint(BOTH), 0, None, "personidentifikator")
    assert graphql["errors"][0]["message"] == error["message"]


async def test_feed_vendor_needs_a_delegation_of_the_feed(client, mint):
    """Issue 12.1: a delegation for lookups does not open the change feed; one that includes
    krr:global/hentendring.read does."""
    await registrert(new_id(61))
    token = mint(f"{HENTENDRING} {KONTAKT}", supplier=VENDOR)
    assert (await rest(client, ENDRINGER, token, {"fraEndringsId": 0})).status_code == 403
    await delegate()  # krr-paa-vegne-av: the lookup scopes only
    refused = await rest(client, ENDRINGER, token, {"fraEndringsId": 0})
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["reason"] == "MANGLER_DELEGERING"
    assert "kari@example.no" not in refused.text
    async with ordning("test-endringer", HENTENDRING, KONTAKT) as endringer:
        await delegate(ordning=endringer)
        page = await rest_endringer(client, token, 0)
    assert page["list"][0]["kontaktinformasjon"]["epostadresse"] == "kari@example.no"


@pytest.mark.parametrize("fra", [-1, "0", True, 1.5, None, 2**63])
async def test_feed_400_for_a_bad_fra_endrings_id(client, mint, fra):
    body = {} if fra is None else {"fraEndringsId": fra}
    response = await rest(client, ENDRINGER, mint(HENTENDRING), body)
    assert response.status_code == 400
    assert "fraEndringsId" in response.json()["errors"][0]["message"]
