"""The print provider and its certificate, as eFormidling reads them.

eFormidling's service registry (felleslosninger/efm-service-registry: PrintService,
PrintResponse, KontaktInfoService.setPrintDetails, ServiceRecord.getPemCertificate) and its
integration point (efm-integrasjonspunkt: PrintService, KrrPrintResponse) GET
`/rest/v2/printSertifikat` with `Accept: application/json` and no token, read
`{postkasseleverandoerAdresse, x509Sertifikat}`, address the letter to the organisation number,
and make PEM of the certificate by wrapping it in armour (`"-----BEGIN CERTIFICATE-----\\n" +
value + "\\n-----END CERTIFICATE-----\\n"`): so the value must be bare base64 of DER. The .NET
client of the SOAP days read it with Convert.FromBase64String, the same form.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from app.edge.app import create_app
from app.printsertifikat import regler, store
from app.printsertifikat.models import PrintSertifikatRad
from app.printsertifikat.regler import UgyldigPrintsertifikat
from authz.tokens import TokenVerifier
from tests import certificates
from tests.conftest import FIXED_NOW, ROOT
from tests.test_cli import krr
from tests.test_efm_jwtdecoder import getpayload

PATH = "/rest/v2/printSertifikat"
PRINT_ORGNR = "984661185"
OTHER_ORGNR = "974760673"
GRAPHQL_QUERY = "{ printSertifikat { postkasseleverandoerAdresse x509Sertifikat } }"
DEMO = ROOT / "app" / "testdata" / "seed_data" / "print.pem"


def provider_certificate(**validity: dt.datetime) -> x509.Certificate:
    return certificates.certificate(
        certificates.rsa_key(), certificates.name("Utskrift", orgnr=PRINT_ORGNR), **validity)


async def set_provider(orgnr: str = PRINT_ORGNR, cert: x509.Certificate | None = None,
                       by: str = "krr-cli:operator", when: dt.datetime = FIXED_NOW
                       ) -> x509.Certificate:
    cert = cert or provider_certificate()
    await store.sett(regler.valider(orgnr, certificates.pem(cert), when), by, when)
    return cert


@pytest.fixture(params=["prod", "test"])
async def service(request, db, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(db, env=request.param)
    app = create_app(settings, verifier=TokenVerifier({}, dev_issuer=dev_issuer),
                     clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        yield client


def eformidlings_pem(x509_sertifikat: str) -> str:
    """efm-service-registry's ServiceRecord.getPemCertificate: armour around the bare value."""
    if not x509_sertifikat or "BEGIN CERTIFICATE" in x509_sertifikat:
        return x509_sertifikat
    return f"-----BEGIN CERTIFICATE-----\n{x509_sertifikat}\n-----END CERTIFICATE-----\n"


async def test_eformidlings_print_service_reads_the_print_certificate_without_a_token(service):
    cert = await set_provider()
    response = await service.get(PATH, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"postkasseleverandoerAdresse", "x509Sertifikat"}  # PrintResponse
    assert answer["postkasseleverandoerAdresse"] == PRINT_ORGNR  # the letter's receiver
    read = x509.load_pem_x509_certificate(eformidlings_pem(answer["x509Sertifikat"]).encode())
    assert read == cert
    assert base64.b64decode(answer["x509Sertifikat"], validate=True) == certificates.der(cert)


async def test_graphql_answers_the_same_print_provider_without_a_token(service):
    await set_provider()
    rest = (await service.get(PATH)).json()
    response = await service.post("/graphql", json={"query": GRAPHQL_QUERY})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"printSertifikat": rest}}


async def test_before_the_operator_sets_one_the_print_route_is_a_404_naming_the_command(
    service
):
    response = await service.get(PATH)
    assert response.status_code == 404
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert "krr print-sertifikat sett ORGNR FILE" in error["message"]
    graphql = await service.post("/graphql", json={"query": GRAPHQL_QUERY})
    assert graphql.json() == {"data": {"printSertifikat": None}}


async def test_a_signed_print_answer_verifies_with_eformidlings_decoder(client):
    """Which certificate the register gave, when, provable like a lookup's answer."""
    await set_provider()
    plain = await client.get(PATH)
    signed = await client.get(PATH, headers={"Accept": "application/jose"})
    assert signed.headers["content-type"] == "application/jose"
    payload = json.loads(getpayload(signed.text))
    assert {k: payload[k] for k in plain.json()} == plain.json()
    assert payload["request"]["path"] == PATH and "consumer" not in payload


async def test_a_bad_token_is_refused_even_on_the_public_print_route(service):
    """With an Authorization header the token is what counts, as on every public route."""
    await set_provider()
    response = await service.get(PATH, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


async def test_the_print_route_serves_get_only(service):
    response = await service.post(PATH, json={})
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


async def test_a_change_is_handed_out_at_once_and_every_setting_is_kept(db, client):
    first = await set_provider(by="krr-cli:anne")
    later = FIXED_NOW + dt.timedelta(days=1)
    second = await set_provider(OTHER_ORGNR, provider_certificate(), "krr-cli:bo", later)
    answer = (await client.get(PATH)).json()
    assert answer["postkasseleverandoerAdresse"] == OTHER_ORGNR
    assert base64.b64decode(answer["x509Sertifikat"]) == certificates.der(second)
    again = regler.valider(OTHER_ORGNR, certificates.der(second), later)
    assert not await store.sett(again, "krr-cli:bo", later)  # the same again: no new row
    historikk = await store.historikk()
    assert [(s.satt, s.satt_av, s.printsertifikat.postkasseleverandoer_adresse)
            for s in historikk] == [(later, "krr-cli:bo", OTHER_ORGNR),
                                    (FIXED_NOW, "krr-cli:anne", PRINT_ORGNR)]
    assert base64.b64decode(historikk[1].printsertifikat.x509_sertifikat) == (
        certificates.der(first))
    assert await PrintSertifikatRad.all().count() == 2


def _two_certificates() -> bytes:
    return certificates.pem(provider_certificate(), provider_certificate())


@pytest.mark.parametrize(("orgnr", "fil", "why"), [
    ("984661186", lambda: certificates.pem(provider_certificate()), "not a valid organisation"),
    ("98466118", lambda: certificates.pem(provider_certificate()), "not a valid organisation"),
    (PRINT_ORGNR, lambda: certificates.pem(provider_certificate(
        valid_from=FIXED_NOW - dt.timedelta(days=400), valid_until=FIXED_NOW)), "expired"),
    (PRINT_ORGNR, lambda: certificates.pem(provider_certificate(
        valid_from=FIXED_NOW + dt.timedelta(days=1))), "valid only from"),
    (PRINT_ORGNR, lambda: certificates.key_pem(certificates.rsa_key()),
     "PEM of a PRIVATE KEY, not of a CERTIFICATE"),
    (PRINT_ORGNR, lambda: b"", "empty"),
    (PRINT_ORGNR, _two_certificates, "with 2 certificates"),
    (PRINT_ORGNR, lambda: b"\x30\x82\x01\x00garbage", "not a DER X.509 certificate"),
])
def test_a_print_provider_is_refused_unless_a_valid_orgnr_and_one_certificate_valid_now(
    orgnr, fil, why
):
    with pytest.raises(UgyldigPrintsertifikat, match=why):
        regler.valider(orgnr, fil(), FIXED_NOW)


def test_the_certificate_is_taken_as_pem_der_or_base64_and_kept_as_base64_der():
    cert = provider_certificate()
    der = certificates.der(cert)
    forms = [certificates.pem(cert), der, base64.encodebytes(der)]
    stored = {regler.valider(PRINT_ORGNR, form, FIXED_NOW).x509_sertifikat for form in forms}
    assert stored == {base64.b64encode(der).decode()}


def test_krr_print_sertifikat_sets_the_demo_provider_and_refuses_bad_input(cli_env, tmp_path):
    """`make run`'s step, and what the operator is told when it is wrong."""
    bad_orgnr = krr(cli_env, "print-sertifikat", "sett", "984661186", str(DEMO), check=False)
    assert bad_orgnr.returncode == 2
    assert "krr print-sertifikat sett: orgnr '984661186' is not a valid organisation number" in (
        bad_orgnr.stderr)
    expired = tmp_path / "expired.der"
    expired.write_bytes(certificates.der(provider_certificate(
        valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        valid_until=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))))
    refused = krr(cli_env, "print-sertifikat", "sett", PRINT_ORGNR, str(expired), check=False)
    assert refused.returncode == 2 and "the certificate expired 2021-01-01" in refused.stderr
    missing = krr(cli_env, "print-sertifikat", "sett", PRINT_ORGNR, str(tmp_path / "nowhere"),
                  check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert "no print certificate is set" in krr(cli_env, "print-sertifikat", "vis").stdout

    assert "print certificate set: 984661185" in krr(
        cli_env, "print-sertifikat", "sett", PRINT_ORGNR, str(DEMO)).stdout
    assert "unchanged" in krr(cli_env, "print-sertifikat", "sett", PRINT_ORGNR, str(DEMO)).stdout
    shown = krr(cli_env, "print-sertifikat", "vis").stdout
    demo = x509.load_pem_x509_certificate(DEMO.read_bytes())
    assert PRINT_ORGNR in shown and "krr-cli:" in shown and "2036-01-01" in shown
    assert demo.fingerprint(hashes.SHA256()).hex() in shown
