"""REST v1 (`POST /rest/v1/personer`) and the real register's bytes: each consumer in the field
that calls v1 today (eFormidling, azf-krr, the SMS bulletin service; tests/konsumenter.py ports
them from their own source) reads our answers unchanged; dates are written as the register
writes them and members come in its order (docs/rest-v1.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import orjson
import pytest

from app.personer.models import Registerstatus
from app.personer.rest import REKKEFOLGE
from app.personer.utlevering import PersonSvar
from app.revisjon.models import Oppslag
from authz.tokens import TokenVerifier
from tests import konsumenter
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import DIGIPOST, months_ago, new_id, person, provider
from tests.revisjonsrader import personrader
from tests.test_lookup import BOTH, KONTAKT, UNKNOWN
from tests.test_rest import KJELL, PERSONER, SEED_VALIDERT, kjell, rest, seed_client
from tests.test_signed_answers import prod_settings, published, rsa_key, serving, sha256

__all__ = ["seed_client"]  # a fixture of tests.test_rest, used here

V1 = konsumenter.V1
MF = "/rest/v1/mf/personer"
JOSE = "application/jose"

AKTIV, RESERVERT, UTLOPT, SLETTET = (new_id(n) for n in range(700, 704))
UKJENT = UNKNOWN


@pytest.fixture
async def prod(db, tmp_path, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    """The service as prod runs it, signing with the operator's key (KRR_SIGNING_KEY)."""
    settings = prod_settings(db, tmp_path, rsa_key())
    async with serving(settings, TokenVerifier({}, dev_issuer=dev_issuer)) as client:
        yield client


async def blanding() -> list[str]:
    """One of each kind a consumer meets: fresh with a Digipost mailbox, reserved (mailbox
    kept), both channels expired (§ 32), deleted, never registered."""
    await provider()
    postkasse = {"postkasseadresse": "p#digipost", "postkasseleverandoer_id": DIGIPOST}
    await person(AKTIV, mobil="+4791000700", **postkasse)
    await person(RESERVERT, mobil="+4791000701", reservasjon=True,
                 reservasjonstidspunkt=months_ago(3), **postkasse)
    await person(UTLOPT, mobil="+4791000702", epost_alder=20, mobil_alder=20, **postkasse)
    await person(SLETTET, status=Registerstatus.SLETTET, epost=None, mobil=None)
    return [AKTIV, RESERVERT, UTLOPT, SLETTET, UKJENT]


# --- the consumers ---------------------------------------------------------------------------

async def test_eformidlings_v1_client_reads_our_answer(prod, mint):
    """efm-service-registry's KRRClient in prod: one id a call, a signed answer, the payload
    mapped by a Jackson that refuses any member it does not know, the first entry taken."""
    ids = await blanding()
    token = mint(BOTH)
    personer = {i: await konsumenter.efm_person_resource(prod, token, i) for i in ids}
    assert {i: p.status for i, p in personer.items()} == {
        AKTIV: "AKTIV", RESERVERT: "AKTIV", UTLOPT: "AKTIV", SLETTET: "SLETTET",
        UKJENT: "IKKE_REGISTRERT"}
    assert all(p.personidentifikator == i for i, p in personer.items())
    aktiv = personer[AKTIV]
    assert aktiv.digital_post == konsumenter.EfmDigitalPostResource(
        postkasseadresse="p#digipost", postkasseleverandoeradresse=DIGIPOST)
    assert aktiv.kontaktinformasjon is not None
    assert aktiv.kontaktinformasjon.mobiltelefonnummer == "+4791000700"
    assert personer[SLETTET].reservasjon is None  # as the real register: no reservation


async def test_eformidling_routes_each_kind_of_person_as_the_register_means_it(prod, mint):
    """DpiMessageRouter on our answers: a decision goes to the mailbox only of a notifiable,
    unreserved person; on paper to the reserved, the expired, the deleted and the unknown."""
    ids = await blanding()
    token = mint(BOTH)
    vedtak = {i: konsumenter.efm_route(
        await konsumenter.efm_person_resource(prod, token, i), obligated=True) for i in ids}
    assert vedtak == {AKTIV: "DPI", RESERVERT: "PRINT", UTLOPT: "PRINT", SLETTET: "PRINT",
                      UKJENT: "PRINT"}
    info = konsumenter.efm_route(
        await konsumenter.efm_person_resource(prod, token, UKJENT), obligated=False)
    assert info == "DPV"


async def test_eformidling_fails_on_a_payload_with_members_beside_personer():
    """Why v1's signed payload is the answer alone: eFormidling's mapper refuses the claims a
    v2 signed answer carries beside `personer`."""
    with pytest.raises(ValueError, match="iat"):
        konsumenter.EfmPersonerResponse.model_validate_json('{"personer": [], "iat": 1}')


@pytest.mark.parametrize("include_inactive", [False, True])
async def test_azf_krr_reads_v1(client, mint, include_inactive):
    """The Azure function hands on every id's entry with includeInactive=true, and the AKTIV
    ones otherwise: v1 must answer every id, unregistered included."""
    ids = await blanding()
    svar = await konsumenter.azf_krr_lookup(client, mint(KONTAKT), ids, include_inactive)
    statuser = {p["personidentifikator"]: p["status"] for p in svar["personer"]}
    if include_inactive:
        assert statuser == {AKTIV: "AKTIV", RESERVERT: "AKTIV", UTLOPT: "AKTIV",
                            SLETTET: "SLETTET", UKJENT: "IKKE_REGISTRERT"}
    else:
        assert set(statuser) == {AKTIV, RESERVERT, UTLOPT}
    with pytest.raises(ValueError, match="array"):
        await konsumenter.azf_krr_lookup(client, mint(KONTAKT), {"ids": ids})


async def test_the_sms_bulletin_service_reads_v1_and_texts_only_whom_it_may(client, mint):
    """get_phone_numbers_from_krr: its generated models read every entry (its integration
    test counts one per id asked), and the bulletin goes to the fresh, unreserved mobile."""
    ids = await blanding()
    svar, numbers = await konsumenter.sms_phone_numbers(client, mint(KONTAKT), ids)
    assert svar.personer is not None
    assert len(svar.personer) == len(ids)
    assert numbers == ["+4791000700"]
    [utlopt] = [p for p in svar.personer if p.personidentifikator == UTLOPT]
    assert utlopt.kontaktinformasjon is None  # § 32: both channels expired, none handed out
    assert utlopt.varslingsstatus is konsumenter.Varslingsstatus.KAN_IKKE_VARSLES


# --- v1 itself -------------------------------------------------------------------------------

async def test_v1_answers_every_id_asked_once_in_order_unregistered_included(client, mint):
    ids = await blanding()
    asked = [UKJENT, AKTIV, SLETTET, AKTIV]
    response = await rest(client, V1, mint(BOTH), {"personidentifikatorer": asked})
    assert response.status_code == 200, response.text
    personer = response.json()["personer"]
    assert [p["personidentifikator"] for p in personer] == [UKJENT, AKTIV, SLETTET]
    for uten in (personer[0], personer[2]):  # no entry: id, status and varslingsstatus only
        assert list(uten) == ["personidentifikator", "status", "varslingsstatus"]
    assert ids  # the rest of the mix is there, unasked


async def test_v1_and_v2_say_the_same_of_each_person(client, mint):
    ids = await blanding()
    token = mint(BOTH)
    v1 = await rest(client, V1, token, {"personidentifikatorer": ids})
    v2 = await rest(client, PERSONER, token,
                    {"personidentifikatorer": ids, "inkluderIkkeRegistrerte": True})
    assert v1.status_code == v2.status_code == 200
    assert v1.content == v2.content


async def test_a_v2_body_sent_to_v1_still_gets_every_id(client, mint):
    """v1 has no inkluderIkkeRegistrerte: like the real register's v1, it ignores the field
    rather than leave out anyone its clients count on."""
    await blanding()
    response = await rest(client, V1, mint(KONTAKT),
                          {"personidentifikatorer": [AKTIV, UKJENT],
                           "inkluderIkkeRegistrerte": False})
    assert [p["status"] for p in response.json()["personer"]] == ["AKTIV", "IKKE_REGISTRERT"]


async def test_one_v1_lookup_writes_one_audit_record_for_every_id(client, mint):
    ids = await blanding()
    response = await rest(client, V1, mint(BOTH), {"personidentifikatorer": ids},
                          **{"X-Request-ID": "v1-1"})
    assert response.status_code == 200
    [oppslag] = await Oppslag.all()
    assert (oppslag.request_id, oppslag.consumer, oppslag.antall) == ("v1-1", CONSUMER, len(ids))
    assert {r.personidentifikator for r in await personrader(oppslag.id)} == set(ids)


@pytest.mark.parametrize(
    ("token_args", "body", "status", "words"),
    [
        ((BOTH,), {"personidentifikatorer": ["12345"]}, 400, "12345"),
        ((BOTH,), {"personidentifikatorer": []}, 400, "at least one"),
        ((BOTH,), {"personidentifikatorer": [new_id(i) for i in range(1001)]}, 400, "1001"),
        ((BOTH,), {"personidentifikator": KJELL}, 400, "personidentifikatorer"),
        (None, {"personidentifikatorer": [KJELL]}, 401, "bearer token"),
        (("krr:global/hentendring.read",), {"personidentifikatorer": [KJELL]}, 403, ""),
    ],
    ids=["bad id", "no ids", "too many", "wrong field", "no token", "no lookup scope"],
)
async def test_v1_refuses_what_v2_refuses_and_discloses_nothing(client, mint, token_args, body,
                                                                status, words):
    token = None if token_args is None else mint(*token_args)
    for path in (V1, PERSONER):
        response = await rest(client, path, token, body)
        assert response.status_code == status, (path, response.text)
        assert words in response.json()["errors"][0]["message"]
    assert await Oppslag.all().count() == 0


async def test_the_population_registers_lookup_says_this_register_holds_no_addresses(client,
                                                                                      mint):
    """/rest/v1/mf/personer was the old register's pass-through to the population register
    (names and postal addresses): not this register's data, answered as such."""
    response = await rest(client, MF, mint(BOTH), {"personidentifikatorer": [KJELL]})
    assert response.status_code == 404
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "population register" in error["message"] and "Folkeregisteret" in error["message"]
    assert await Oppslag.all().count() == 0


async def test_a_signed_v1_answer_is_the_answer_alone_with_the_claims_in_its_header(prod, mint):
    """The payload is the JSON answer byte for byte (what eFormidling maps); what a signed
    answer proves (when, which question, which audit record, for whom) is in the protected
    header, checked here by PyJWT against the published key."""
    await blanding()
    token, body = mint(BOTH), {"personidentifikatorer": [AKTIV, UKJENT]}
    plain = await rest(prod, V1, token, body)
    signed = await rest(prod, V1, token, body, Accept=JOSE, **{"X-Request-ID": "v1-signed"})
    assert signed.status_code == 200 and signed.headers["content-type"] == JOSE
    assert signed.headers["vary"] == "Accept, Accept-Encoding"  # over 1 KB: by encoding too
    header = jwt.get_unverified_header(signed.text)
    [jwk] = [k for k in (await published(prod))["keys"] if k["kid"] == header["kid"]]
    payload = jwt.api_jws.decode(signed.text, jwt.PyJWK(jwk, algorithm="RS256").key,
                                 algorithms=["RS256"])
    assert payload == plain.content
    [oppslag] = await Oppslag.filter(request_id="v1-signed")
    assert {k: header[k] for k in ("iat", "audit_ids", "request", "consumer")} == {
        "iat": int(FIXED_NOW.timestamp()), "audit_ids": [oppslag.id],
        "request": {"id": "v1-signed", "method": "POST", "path": V1,
                    "body_sha256": sha256(orjson.dumps(body))},
        "consumer": {"authority": "iso6523-actorid-upis", "ID": f"0192:{CONSUMER}"},
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", header["jti"])


# --- the real register's bytes ----------------------------------------------------------------

def _rekkefolge(raw: bytes, names: list[str]) -> list[str]:
    """`names` in the order their members first appear in the raw bytes."""
    found = {n: raw.find(f'"{n}":'.encode()) for n in names}
    return sorted((n for n in names if found[n] >= 0), key=found.__getitem__)


def test_every_member_of_a_person_has_its_place_in_the_order():
    assert sorted(REKKEFOLGE) == sorted(f.name for f in dataclasses.fields(PersonSvar))


@pytest.mark.parametrize("path", [V1, PERSONER])
async def test_keys_come_in_the_real_registers_order(seed_client, mint, path):
    """Seed 004's full document, in its order, read off our raw bytes; a reserved person's
    reservation dates right after `reservasjon`."""
    await kjell()
    await person(RESERVERT, reservasjon=True, reservasjonstidspunkt=months_ago(3))
    response = await rest(seed_client, path, mint(BOTH),
                          {"personidentifikatorer": [KJELL, RESERVERT],
                           "inkluderIkkeRegistrerte": True})
    raw = response.content
    seed = json.loads(SEED_VALIDERT.replace("_oppdateret", "_oppdatert"))
    kjell_raw, reservert_raw = raw.split(b'},{"personidentifikator"')
    assert list(orjson.loads(raw)["personer"][0]) == list(seed)
    assert _rekkefolge(kjell_raw, list(seed)) == list(seed)
    assert _rekkefolge(kjell_raw, list(seed["kontaktinformasjon"])) == list(
        seed["kontaktinformasjon"])
    assert _rekkefolge(reservert_raw, list(REKKEFOLGE)) == [
        "reservasjon", "reservasjonstidspunkt", "reservasjon_oppdatert", "status",
        "varslingsstatus", "kontaktinformasjon", "spraak", "spraak_oppdatert"]


async def test_dates_are_byte_for_byte_the_registers(seed_client, mint):
    """Seed 004's dates as the register wrote them, `+02` and all."""
    await kjell()
    response = await rest(seed_client, V1, mint(BOTH), {"personidentifikatorer": [KJELL]})
    for dato in re.findall(r"\d{4}-\d\d-\d\dT[^\"]*", SEED_VALIDERT):
        assert f'"{dato}"'.encode() in response.content, dato


def _datoer(document: Any) -> list[str]:
    if isinstance(document, dict):
        return [d for v in document.values() for d in _datoer(v)]
    if isinstance(document, list):
        return [d for v in document for d in _datoer(v)]
    return [document] if isinstance(document, str) and re.match(r"\d{4}-\d\d-\d\dT", document) \
        else []


@pytest.fixture
async def alle_datoer(client, mint) -> list[str]:
    """Every date of a full answer, winter (+01) and summer (+02)."""
    await person(AKTIV, epostadresse_oppdatert=dt.datetime(2026, 1, 15, 8, 30, 5, 987654,
                                                           tzinfo=dt.UTC),
                 reservasjon=True, reservasjonstidspunkt=months_ago(3))
    response = await rest(client, V1, mint(BOTH), {"personidentifikatorer": [AKTIV]})
    datoer = _datoer(response.json())
    assert len(datoer) >= 8 and {d[-3:] for d in datoer} == {"+01", "+02"}
    return datoer


async def test_a_java_pattern_ending_in_X_parses_our_dates(alle_datoer):
    """`yyyy-MM-dd'T'HH:mm:ssX`, as Java consumers of the register parse its dates, reads
    every date we write, and would refuse the `+02:00` written before."""
    for dato in alle_datoer:
        assert konsumenter.JAVA_X.fullmatch(dato), dato
        assert konsumenter.JAVA_ISO_OFFSET_DATE_TIME.fullmatch(dato), dato
    assert not konsumenter.JAVA_X.fullmatch("2023-06-29T10:14:52+02:00")


@pytest.mark.parametrize("reads", [konsumenter.system_text_json_reads,
                                   konsumenter.newtonsoft_reads,
                                   dt.datetime.fromisoformat],
                         ids=["System.Text.Json", "Newtonsoft.Json", "Python 3.11"])
async def test_dotnet_and_python_clients_parse_our_dates(alle_datoer, reads):
    for dato in alle_datoer:
        assert reads(dato), dato
