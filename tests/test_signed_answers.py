"""Signed answers (`Accept: application/jose`): the JSON answer as the payload of a compact JWS,
verified here with PyJWT (not joserfc, which signs) against the keys the register publishes at
GET /.well-known/jwks.json; JSON whenever JSON is asked for or preferred, and for every refusal;
the key from KRR_SIGNING_KEY in prod, generated under the var directory in dev and test, and
every key ever used still published after a rotation."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.config import ConfigError, Settings, load_settings
from app.edge.app import create_app
from app.edge.signed import JWKS_PATH, prefers_signed
from app.errors import NOT_ACCEPTABLE
from app.revisjon import store as revisjon_store
from app.revisjon.models import Oppslag
from app.signing import chain, jws, keys
from app.signing import store as signing_store
from app.signing.models import SigningKeyRecord
from app.signing.signer import PublishedKeys
from authz.tokens import TokenVerifier
from tests import certificates
from tests.certificates import rsa_key
from tests.conftest import CONSUMER, FIXED_NOW, lines
from tests.factories import new_id
from tests.servers import krr_serving
from tests.test_cli import krr
from tests.test_feed import registrert
from tests.test_paa_vegne_av import VENDOR, delegate

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
HENTENDRING = "krr:global/hentendring.read"
BOTH = f"{KONTAKT} {POST}"
JOSE = "application/jose"
PERSONER = "/rest/v2/personer"
ENDRINGER = "/rest/v2/krr/hentEndringer"
GRAPHQL = "/graphql"
PIDS = [new_id(900), new_id(901)]
LOOKUP = {
    "query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
             "{ personidentifikator status varslingsstatus "
             "kontaktinformasjon { epostadresse mobiltelefonnummer } } }",
    "variables": {"ids": PIDS},
}
IAT = int(FIXED_NOW.timestamp())  # the moment the request was served at: the pinned clock


def org(orgno: str) -> dict[str, str]:
    return {"authority": "iso6523-actorid-upis", "ID": f"0192:{orgno}"}


# --- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def serving(settings: Settings, verifier: TokenVerifier | None = None
                  ) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        yield client


async def ask(client: httpx.AsyncClient, path: str, body: Any, token: str | None = None,
              accept: str | None = JOSE, **headers: str) -> httpx.Response:
    """POST `body` as `sent(body)`'s bytes (the bytes `body_sha256` is of)."""
    headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if accept is not None:
        headers["Accept"] = accept
    return await client.post(path, content=sent(body), headers=headers)


def sent(body: Any) -> bytes:
    return orjson.dumps(body)


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def question(path: str, body: Any, request_id: str) -> dict[str, Any]:
    """The `request` claim of a signed answer to `body` at `path`."""
    asked = {"id": request_id, "method": "POST", "path": path, "body_sha256": sha256(sent(body))}
    if path == GRAPHQL:
        asked |= {"query_sha256": sha256(body["query"]),
                  "operation_name": body.get("operationName")}
    return asked


async def audit_ids(request_id: str) -> list[int]:
    return sorted(o.id for o in await Oppslag.filter(request_id=request_id))


def unique_id(claims: dict[str, Any]) -> str:
    """The answer's jti, checked to be the register's kind of id."""
    jti: str = claims.pop("jti")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", jti), jti
    return jti


async def published(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(JWKS_PATH)  # no token
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    return response.json()


def verified(token: str, jwks_document: dict[str, Any]) -> dict[str, Any]:
    """The payload, once PyJWT has checked the signature with the published key named by kid
    (which publishes the certificate chain the answer carries)."""
    header = jwt.get_unverified_header(token)
    (jwk,) = [k for k in jwks_document["keys"] if k["kid"] == header["kid"]]
    assert header == {"alg": "RS256", "kid": jwk["kid"], "typ": "JWT", "x5c": jwk["x5c"]}
    key = jwt.PyJWK(jwk, algorithm="RS256").key
    payload: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"])
    return payload


def signed_bytes(token: str) -> bytes:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def varies_by(response: httpx.Response) -> set[str]:
    """The request headers Vary names (a large answer names Accept-Encoding too)."""
    return {name.strip().lower() for name in response.headers.get("vary", "").split(",")} - {""}


def assert_signed(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JOSE
    assert "accept" in varies_by(response)
    token = response.text
    assert token.count(".") == 2 and "{" not in token
    return token


async def plain_and_signed(
    client: httpx.AsyncClient, path: str, body: Any, token: str | None
) -> tuple[httpx.Response, httpx.Response, dict[str, Any]]:
    """The same request as JSON and signed; the signed answer's verified payload."""
    plain = await ask(client, path, body, token, accept=None)
    assert plain.status_code == 200, plain.text
    assert plain.headers["content-type"] == "application/json"
    signed = await ask(client, path, body, token, **{"X-Request-ID": "proof-1"})
    payload = verified(assert_signed(signed), await published(client))
    # The answer's own members, byte for byte, then the claims.
    assert signed_bytes(signed.text).startswith(plain.content[:-1])
    return plain, signed, payload


def claims_of(payload: dict[str, Any], plain: httpx.Response) -> dict[str, Any]:
    members = plain.json()
    assert {k: payload[k] for k in members} == members
    return {k: v for k, v in payload.items() if k not in members}


@pytest.fixture
def verifier(dev_issuer) -> TokenVerifier:
    """The tests' dev issuer trusted whatever the app's var directory (in prod: as if it were a
    real issuer)."""
    return TokenVerifier({}, dev_issuer=dev_issuer)


@pytest.fixture
async def registered(db: Settings) -> None:
    for pid in PIDS:
        await registrert(pid, epost=f"{pid}@example.no")


# --- signed answers, verified by another library --------------------------------------------


@pytest.mark.parametrize("vendor", [False, True], ids=["own token", "vendor's token"])
async def test_a_signed_lookup_verifies_against_the_published_keys(
    client, mint, registered, vendor
):
    if vendor:
        await delegate()
    token = mint(BOTH, supplier=VENDOR) if vendor else mint(BOTH)
    body = {"personidentifikatorer": PIDS}
    plain, signed, payload = await plain_and_signed(client, PERSONER, body, token)
    expected = {"iat": IAT, "audit_ids": await audit_ids("proof-1"),
                "request": question(PERSONER, body, "proof-1"), "consumer": org(CONSUMER)}
    if vendor:
        expected["supplier"] = org(VENDOR)
    claims = claims_of(payload, plain)
    unique_id(claims)
    assert claims == expected and len(expected["audit_ids"]) == 1
    assert signed.headers["x-request-id"] == payload["request"]["id"]
    assert [p["personidentifikator"] for p in payload["personer"]] == PIDS
    assert payload["personer"][0]["kontaktinformasjon"]["epostadresse"] == f"{PIDS[0]}@example.no"


async def test_a_signed_feed_page_verifies_against_the_published_keys(client, mint, registered):
    token = mint(f"{HENTENDRING} {KONTAKT}")
    body = {"fraEndringsId": 0}
    plain, _, payload = await plain_and_signed(client, ENDRINGER, body, token)
    claims = claims_of(payload, plain)
    unique_id(claims)
    assert claims == {
        "iat": IAT, "audit_ids": await audit_ids("proof-1"),
        "request": question(ENDRINGER, body, "proof-1"), "consumer": org(CONSUMER),
    }
    assert len(claims["audit_ids"]) == 1  # the page disclosed its persons: recorded
    assert len(payload["list"]) == 2 and payload["tilEndringsId"] == payload["sisteEndringsId"]


async def test_a_signed_graphql_answer_verifies_errors_included(client, mint, registered):
    """A 200 that carries errors (a withheld field) is an answer like any other: signed."""
    plain, _, payload = await plain_and_signed(client, GRAPHQL, LOOKUP, mint(POST))
    claims = claims_of(payload, plain)
    unique_id(claims)
    assert claims == {
        "iat": IAT, "audit_ids": await audit_ids("proof-1"),
        "request": question(GRAPHQL, LOOKUP, "proof-1"), "consumer": org(CONSUMER),
    }
    assert payload["errors"] == plain.json()["errors"]
    assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert [p["personidentifikator"] for p in payload["data"]["personer"]] == PIDS


async def test_a_request_id_the_register_gave_is_the_one_signed(client, mint, registered):
    response = await ask(client, GRAPHQL, LOOKUP, mint(BOTH))
    payload = verified(assert_signed(response), await published(client))
    assert payload["request"]["id"] == response.headers["x-request-id"]
    assert len(payload["request"]["id"]) == 22  # the register's own id, none having been given


async def test_residents_and_anonymous_callers_get_no_consumer_claim(client, mint, registered):
    """A national id never goes into a claim: only organisations are named."""
    resident = mint("krr:user/kontaktinformasjon.read", consumer=None, pid=PIDS[0])
    meg = {"query": "{ meg { person { personidentifikator status } } }"}
    mine, _, own = await plain_and_signed(client, GRAPHQL, meg, resident)
    claims = claims_of(own, mine)
    unique_id(claims)
    # Nothing disclosed to an organisation, so no audit record: the answer's jti is its id.
    assert claims == {"iat": IAT, "audit_ids": [], "request": question(GRAPHQL, meg, "proof-1")}
    assert own["data"]["meg"]["person"]["personidentifikator"] == PIDS[0]
    statistikk = {"query": "{ statistikk { aktive } }"}
    figures, _, public = await plain_and_signed(client, GRAPHQL, statistikk, None)
    claims = claims_of(public, figures)
    unique_id(claims)
    assert claims == {"iat": IAT, "audit_ids": [],
                      "request": question(GRAPHQL, statistikk, "proof-1")}


async def test_the_key_is_recorded_once_before_its_first_answer_leaves(client, mint, registered):
    token = mint(BOTH)
    assert await SigningKeyRecord.all().count() == 0
    for _ in range(2):
        assert_signed(await ask(client, PERSONER, {"personidentifikatorer": PIDS}, token))
    (record,) = await SigningKeyRecord.all()
    document = await published(client)
    assert [k["kid"] for k in document["keys"]] == [record.kid]
    assert json.loads(record.jwk) == document["keys"][0]
    assert record.first_used == FIXED_NOW


async def test_a_key_that_cannot_be_recorded_refuses_before_anything_is_read(
    client, mint, registered, monkeypatch
):
    """No signature may exist whose key the register does not publish: the key is recorded
    before the lookup, so a database that cannot take it is a 503 with nothing disclosed."""

    async def disk_full(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(signing_store, "record", disk_full)
    response = await ask(client, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert PIDS[0] not in response.text
    assert await Oppslag.all().count() == 0  # nothing looked up, so nothing audited
    monkeypatch.undo()
    assert_signed(await ask(client, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH)))
    assert await Oppslag.all().count() == 1


async def test_the_published_keys_are_public_rsa_keys_named_by_thumbprint(client, mint):
    (key,) = (await published(client))["keys"]  # listed before it has signed anything
    assert set(key) == {"kty", "n", "e", "kid", "use", "alg", "x5c"}  # nothing private
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["kid"] == thumbprint(key)
    assert_certificate_of(key, key["x5c"][0])


def assert_certificate_of(jwk: dict[str, Any], x5c_entry: str) -> x509.Certificate:
    """The certificate (bare base64 of DER, RFC 7515 4.1.6) holds the JWK's public key."""
    leaf = x509.load_der_x509_certificate(base64.b64decode(x5c_entry, validate=True))
    public = leaf.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = jwt.PyJWK(jwk, algorithm="RS256").key.public_numbers()
    assert public.public_numbers() == numbers
    return leaf


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638, worked out here rather than by either library."""
    members = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- what a signed answer says, and whose words it holds --------------------------------------

OTHER_ORG = "991825827"  # a second organisation, with a lookup token of its own
KALLERENS = "KallerensTekst"  # the caller's own text, where the attacks put it


@pytest.fixture
async def prod(db, tmp_path, verifier) -> AsyncIterator[httpx.AsyncClient]:
    """The service as prod runs it, signing with the operator's key (KRR_SIGNING_KEY) and its
    certificate chain (KRR_SIGNING_CERT)."""
    async with serving(prod_settings(db, tmp_path, rsa_key()), verifier) as client:
        yield client


def prod_settings(db: Settings, tmp_path: Path, key: rsa.RSAPrivateKey,
                  key_file: Path | None = None) -> Settings:
    """Prod's settings with `key` (written unless `key_file` holds it) and a chain for it: its
    certificate issued by a CA, then the CA's."""
    key_file = key_file or write_pem(tmp_path / "signing.pem", key)
    chain = tmp_path / "signing-chain.pem"
    chain.write_bytes(certificates.pem(*certificates.chain_for(key)))
    environ = {"KRR_ENV": "prod", "KRR_SIGNING_KEY": str(key_file),
               "KRR_SIGNING_CERT": str(chain)}
    return dataclasses.replace(load_settings(environ), env="prod",
                               database_url=db.database_url, var_dir=tmp_path / "var")


def renamed(selection: str, fragment: str = "") -> dict[str, Any]:
    return {"query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
                     f"{{ personidentifikator {selection} }} }} {fragment}",
            "variables": {"ids": PIDS[:1]}}


@pytest.mark.parametrize(("selection", "fragment", "alias"), [
    ("kontaktinformasjon { epostadresse epostadresseOppdatert: mobiltelefonnummerOppdatert }",
     "", "epostadresseOppdatert"),
    ("kontaktinformasjon { ...K }", "fragment K on Kontaktinformasjon { epostadresse "
     "epostadresseOppdatert: mobiltelefonnummerOppdatert }", "epostadresseOppdatert"),
    ("... on Person { status: reservasjon }", "", "status"),
    ("kontaktinformasjon: digitalPost { postkasseadresse }", "", "kontaktinformasjon"),
    ("__typename: status", "", "__typename"),
])
async def test_an_alias_cannot_make_a_signed_answer_say_another_field(
    prod, mint, selection, fragment, alias
):
    """A 19-month-old e-mail with the mobile's date of last week as its `epostadresseOppdatert`:
    a verifier reading the payload would take it as fresh. Refused before anything is read."""
    await registrert(PIDS[0], epost="gammel@example.no", epost_alder=13,
                     mobiltelefonnummer_oppdatert=FIXED_NOW - dt.timedelta(days=7))
    body = renamed(selection, fragment)
    refused = await ask(prod, GRAPHQL, body, mint(BOTH))
    assert refused.status_code == 406, refused.text
    assert refused.headers["content-type"] == "application/json"
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == NOT_ACCEPTABLE
    assert alias in error["extensions"]["aliases"] and alias in error["message"]
    assert "gammel@example.no" not in refused.text
    assert await Oppslag.all().count() == 0  # nothing looked up, nothing audited
    # The same document as JSON, which claims nothing, is answered; and without the alias,
    # each key is the schema's field, signed.
    assert (await ask(prod, GRAPHQL, body, mint(BOTH), accept=None)).status_code == 200
    honest = renamed("kontaktinformasjon { epostadresse epostadresseOppdatert "
                     "mobiltelefonnummerOppdatert }")
    payload = verified(assert_signed(await ask(prod, GRAPHQL, honest, mint(BOTH))),
                       await published(prod))
    kontakt = payload["data"]["personer"][0]["kontaktinformasjon"]
    assert kontakt["epostadresseOppdatert"] < "2025-01-01" < kontakt["mobiltelefonnummerOppdatert"]


async def test_a_signed_answer_binds_the_question_it_answers(prod, mint, registered):
    """The document (by hash, as persisted operations name it), the operation and the body's
    bytes, variables and REST's fields included: the same document with other ids, or a REST
    body without `inkluderIkkeRegistrerte`, is another question, and the answer says which."""
    token = mint(f"{BOTH} {HENTENDRING}")
    named = {"query": f"query Hent{LOOKUP['query'].removeprefix('query')}",
             "operationName": "Hent", "variables": {"ids": PIDS}}
    other_ids = {**named, "variables": {"ids": PIDS[:1]}}
    graphql_body = {**LOOKUP, "variables": {"ids": PIDS}}
    rest_body = {"personidentifikatorer": PIDS, "inkluderIkkeRegistrerte": True}
    asked = {}
    for path, body in ((GRAPHQL, named), (GRAPHQL, other_ids), (GRAPHQL, graphql_body),
                       (PERSONER, rest_body), (PERSONER, {"personidentifikatorer": PIDS}),
                       (ENDRINGER, {"fraEndringsId": 0})):
        response = await ask(prod, path, body, token, **{"X-Request-ID": "same"})
        payload = verified(assert_signed(response), await published(prod))
        assert payload["request"] == question(path, body, "same")
        asked[sent(body)] = payload["request"]
    first, second, unnamed, *rest = asked.values()
    assert first["operation_name"] == "Hent" and unnamed["operation_name"] is None
    assert first["query_sha256"] == second["query_sha256"] != unnamed["query_sha256"]
    assert first["body_sha256"] != second["body_sha256"]  # other variables
    assert [r["path"] for r in rest] == [PERSONER, PERSONER, ENDRINGER]
    assert rest[0]["body_sha256"] != rest[1]["body_sha256"]
    assert all("query_sha256" not in r for r in rest)


async def test_a_persisted_operation_is_bound_by_its_documents_hash(prod, mint, registered):
    """Sent by hash (APQ) the question is the document that ran: the same query_sha256 as sent
    in full, and the body's hash of what was sent."""
    token = mint(BOTH)
    digest = sha256(LOOKUP["query"])
    by_hash = {"variables": LOOKUP["variables"],
               "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    full = {**LOOKUP, **{"extensions": by_hash["extensions"]}}
    assert_signed(await ask(prod, GRAPHQL, full, token))  # stores it
    payload = verified(assert_signed(await ask(prod, GRAPHQL, by_hash, token)),
                       await published(prod))
    assert payload["request"]["query_sha256"] == digest
    assert payload["request"]["body_sha256"] == sha256(sent(by_hash))


@pytest.mark.parametrize(("body", "code"), [
    # An invalid id, quoted in the refusal (a 200 in GraphQL): what the attack signed.
    ({**LOOKUP, "variables": {"ids": [KALLERENS]}}, "BAD_USER_INPUT"),
    ({**LOOKUP, "variables": {"ids": [PIDS[0], f"0{KALLERENS}"]}}, "BAD_USER_INPUT"),
    # A field or a variable's value the schema does not take: GraphQL quotes each.
    ({"query": f'{{ personer(personidentifikatorer: ["{PIDS[0]}"]) {{ {KALLERENS} }} }}'},
     "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query($n: Int) { endringer(fraEndringsId: 0, antall: $n) { sisteEndringsId } }",
      "variables": {"n": KALLERENS}}, "BAD_USER_INPUT"),
    # An operationName the document does not hold, quoted.
    ({**LOOKUP, "operationName": KALLERENS}, "OPERATION_RESOLUTION_FAILURE"),
    # A position the register does not have, quoted.
    ({"query": "{ endringer(fraEndringsId: 987654321) { sisteEndringsId } }"}, "BAD_USER_INPUT"),
])
async def test_a_signed_answer_never_carries_the_callers_text_as_the_registers(
    prod, mint, registered, body, code
):
    """An answer whose errors quote what was sent is given, as JSON, and not signed (406, the
    errors and why): only the register's own words are signed."""
    refused = await ask(prod, GRAPHQL, body, mint(f"{BOTH} {HENTENDRING}"))
    assert refused.status_code == 406, refused.text
    assert refused.headers["content-type"] == "application/json"
    *errors, why = refused.json()["errors"]
    assert [e.get("extensions", {}).get("code") for e in errors] == [code]
    assert why["extensions"] == {"code": NOT_ACCEPTABLE}
    assert why["message"].startswith("Not signed: this answer carries errors about the request")
    quoted = KALLERENS if KALLERENS in sent(body).decode() else "987654321"
    assert quoted in errors[0]["message"]  # the caller is told what was wrong, unsigned


async def test_an_audit_log_that_cannot_be_written_is_a_503_not_a_signed_answer(
    prod, mint, registered, monkeypatch
):
    async def disk_full(**_: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(revisjon_store, "skriv_oppslag", disk_full)
    for path, body in ((GRAPHQL, LOOKUP), (PERSONER, {"personidentifikatorer": PIDS})):
        failed = await ask(prod, path, body, mint(BOTH))
        assert failed.status_code == 503 and failed.headers["content-type"] == "application/json"
        codes = [e["extensions"]["code"] for e in failed.json()["errors"]]
        assert codes == ["SERVICE_UNAVAILABLE"] and PIDS[0] not in failed.text


async def test_the_callers_own_words_are_signed_only_inside_the_request_claim(
    prod, mint, registered
):
    """What the caller chose and the answer must carry (its X-Request-ID, its operation's name)
    is kept under `request`, apart from the register's words; an invalid id in REST is a 400,
    never signed."""
    body = {"query": f"query {KALLERENS}{LOOKUP['query'].removeprefix('query')}",
            "operationName": KALLERENS, "variables": LOOKUP["variables"]}
    response = await ask(prod, GRAPHQL, body, mint(BOTH), **{"X-Request-ID": f"{KALLERENS}-1"})
    payload = verified(assert_signed(response), await published(prod))
    assert payload["request"]["operation_name"] == KALLERENS
    assert payload["request"]["id"] == f"{KALLERENS}-1"
    registers = {k: v for k, v in payload.items() if k != "request"}
    assert KALLERENS not in orjson.dumps(registers).decode()
    refused = await ask(prod, PERSONER, {"personidentifikatorer": [KALLERENS]}, mint(BOTH))
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"


async def test_signed_answers_with_the_same_request_id_name_distinct_audit_records(
    prod, mint, registered, json_log, caplog
):
    """Three signed lookups by two organisations under one X-Request-ID: each answer names its
    own audit record (`audit_ids`), which is found from the claim and is the answer's (its
    organisation, its moment, its persons), and has a jti no other answer has, which its
    request's log lines carry."""
    caplog.set_level(logging.INFO)
    asked = [(CONSUMER, PERSONER, {"personidentifikatorer": PIDS}),
             (OTHER_ORG, PERSONER, {"personidentifikatorer": PIDS[:1]}),
             (CONSUMER, GRAPHQL, LOOKUP)]
    payloads = []
    for consumer, path, body in asked:
        response = await ask(prod, path, body, mint(BOTH, consumer=consumer),
                             **{"X-Request-ID": "same-id"})
        payloads.append(verified(assert_signed(response), await published(prod)))
    assert {p["request"]["id"] for p in payloads} == {"same-id"}
    assert len({p["jti"] for p in payloads}) == 3
    assert all(len(p["audit_ids"]) == 1 for p in payloads)
    assert len({p["audit_ids"][0] for p in payloads}) == 3
    for payload, (consumer, _, body) in zip(payloads, asked, strict=True):
        record = await Oppslag.get(id=payload["audit_ids"][0])
        assert payload["consumer"] == org(record.consumer) == org(consumer)
        assert int(record.tidspunkt.timestamp()) == payload["iat"]
        assert record.request_id == "same-id"
        assert record.antall == len(body.get("personidentifikatorer") or PIDS)
    access = [line for line in lines(json_log)
              if line["logger"] == "krr.access" and line["method"] == "POST"]
    assert [line["jti"] for line in access] == [p["jti"] for p in payloads]


async def test_a_signed_answer_names_every_audit_record_its_request_wrote(
    client, mint, registered
):
    """Two disclosing fields, two audit records: the answer names both."""
    body = {"query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
                     "{ personidentifikator } endringer(fraEndringsId: 0, antall: 1) "
                     "{ personer { personidentifikator } } }",
            "variables": {"ids": PIDS}}
    response = await ask(client, GRAPHQL, body, mint(f"{BOTH} {HENTENDRING}"),
                         **{"X-Request-ID": "two"})
    payload = verified(assert_signed(response), await published(client))
    assert payload["audit_ids"] == await audit_ids("two") and len(payload["audit_ids"]) == 2


# --- when the answer is JSON -----------------------------------------------------------------


@pytest.mark.parametrize(("accept", "signs"), [
    (None, False),
    ("", False),
    ("*/*", False),
    ("application/*", False),
    ("application/json", False),
    ("application/json, application/jose", False),  # a tie: JSON, as before
    ("application/jose;q=0.5, application/json", False),
    ("application/jose;q=0", False),
    ("application/jose;q=nonsense", False),
    ("text/html", False),
    ("application/jose", True),
    ("APPLICATION/JOSE", True),
    ("application/jose, application/json;q=0.9", True),
    ("application/jose, */*;q=0.1", True),
    ("application/json;q=0.2, application/jose;q=0.3", True),
    ("application/json;q=0, */*", True),
])
def test_signed_only_when_jose_is_preferred_to_json(accept, signs):
    assert prefers_signed(accept) is signs


@pytest.mark.parametrize("accept", [None, "*/*", "application/jose;q=0.5, application/json"])
async def test_json_is_answered_unless_a_signed_answer_is_preferred(
    client, mint, registered, accept
):
    token = mint(f"{BOTH} {HENTENDRING}")
    for path, body in ((PERSONER, {"personidentifikatorer": PIDS}), (GRAPHQL, LOOKUP),
                       (ENDRINGER, {"fraEndringsId": 0})):
        response = await ask(client, path, body, token, accept=accept)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert "accept" in varies_by(response)
        assert response.json()
    assert await SigningKeyRecord.all().count() == 0  # nothing signed


@pytest.mark.parametrize(("path", "body", "status"), [
    (PERSONER, {"personidentifikatorer": ["12345678901"]}, 400),
    (PERSONER, {"personidentifikatorer": PIDS}, 401),
    (ENDRINGER, {"fraEndringsId": -1}, 400),
    (GRAPHQL, {"variables": {}}, 400),
    (GRAPHQL, LOOKUP, 401),
])
async def test_refusals_stay_in_the_one_json_error_shape(client, mint, path, body, status):
    token = mint(f"{BOTH} {HENTENDRING}") if status != 401 else None
    response = await ask(client, path, body, token)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"  # small: not compressed, so not by encoding
    assert response.json()["errors"][0]["extensions"]["code"]


async def test_the_csv_export_is_never_signed(client, mint):
    response = await client.get("/export/personer.csv", headers={
        "Authorization": f"Bearer {mint(f'krr:test/sok.read {BOTH}')}", "Accept": JOSE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "accept" not in varies_by(response)


# --- rotation ---------------------------------------------------------------------------------


async def test_after_a_rotation_both_keys_are_published_and_old_answers_verify(
    db, mint, registered, tmp_path, cli_env, verifier
):
    settings = dataclasses.replace(db, var_dir=tmp_path / "var")
    body = {"personidentifikatorer": PIDS}
    async with serving(settings, verifier) as before:
        first = assert_signed(await ask(before, PERSONER, body, mint(BOTH)))
    rotated = krr(cli_env | {"KRR_VAR_DIR": str(settings.var_dir)}, "rotate-signing-key")
    async with serving(settings, verifier) as after:  # the restart
        second = assert_signed(await ask(after, PERSONER, body, mint(BOTH)))
        document = await published(after)
    kid_a, kid_b = (jwt.get_unverified_header(t)["kid"] for t in (first, second))
    assert kid_a != kid_b and kid_b in rotated.stdout and "certificate" in rotated.stdout
    assert {k["kid"] for k in document["keys"]} == {kid_a, kid_b}
    # Each answer carries its own key's certificate, and the old key is published with its own.
    assert verified(second, document)["personer"] == verified(first, document)["personer"]
    x5c_a, x5c_b = (jwt.get_unverified_header(t)["x5c"] for t in (first, second))
    assert x5c_a != x5c_b
    for jwk in document["keys"]:
        assert_certificate_of(jwk, jwk["x5c"][0])
    async with serving(settings, verifier) as other_instance:  # the same set from every instance
        assert await published(other_instance) == document


async def test_the_published_keys_are_read_again_after_a_minute(db):
    now = [0.0]
    mine, other = (keys.SigningKey.of(k, (chain.base64_der(chain.self_signed(k, FIXED_NOW)),))
                   for k in (keys.generated(), keys.generated()))
    published_keys = PublishedKeys(mine, clock=lambda: now[0])
    await signing_store.record(mine, FIXED_NOW)
    assert [k["kid"] for k in (await published_keys.document())["keys"]] == [mine.kid]
    await signing_store.record(other, FIXED_NOW)  # another instance, rotated
    now[0] += 59
    assert [k["kid"] for k in (await published_keys.document())["keys"]] == [mine.kid]
    now[0] += 1
    assert {k["kid"] for k in (await published_keys.document())["keys"]} == {mine.kid, other.kid}
    await signing_store.record(mine, FIXED_NOW)  # again: nothing changes
    assert await SigningKeyRecord.all().count() == 2


def test_rotating_is_refused_in_prod_and_where_the_operator_gives_the_key(cli_env, tmp_path):
    for env in (cli_env | {"KRR_ENV": "prod"},
                cli_env | {"KRR_SIGNING_KEY": str(write_pem(tmp_path / "k.pem", rsa_key()))}):
        refused = krr(env, "rotate-signing-key", check=False)
        assert refused.returncode == 2
        assert "KRR_SIGNING_KEY" in refused.stderr and "new PEM file" in refused.stderr


# --- the key: KRR_SIGNING_KEY in prod, generated in dev and test --------------------------------


def write_pem(path: Path, key: Any, encryption: Any = None,
              form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> Path:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, form, encryption or serialization.NoEncryption(),
    ))
    return path


async def test_prod_signs_with_the_key_krr_signing_key_names(
    db, mint, registered, tmp_path, verifier
):
    key = rsa_key(3072)
    # "BEGIN RSA PRIVATE KEY" (PKCS#1); the generated keys elsewhere are PKCS#8.
    path = write_pem(tmp_path / "signing.pem", key,
                     form=serialization.PrivateFormat.TraditionalOpenSSL)
    assert path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    async with serving(prod_settings(db, tmp_path, key, path), verifier) as client:
        response = await ask(client, PERSONER, {"personidentifikatorer": PIDS}, mint(BOTH))
        document = await published(client)
    token = assert_signed(response)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assert jwt.decode(token, public_pem, algorithms=["RS256"]) == verified(token, document)
    (jwk,) = document["keys"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"] == thumbprint(jwk)
    # The operator's chain as KRR_SIGNING_CERT gives it, leaf first, bare base64 of DER.
    given = x509.load_pem_x509_certificates((tmp_path / "signing-chain.pem").read_bytes())
    assert jwk["x5c"] == [base64.b64encode(certificates.der(c)).decode() for c in given]
    assert len(jwk["x5c"]) == 2 and assert_certificate_of(jwk, jwk["x5c"][0]) == given[0]
    assert not (tmp_path / "var").exists()  # nothing generated in prod: no key, no certificate


def _chain_of_another_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(certificates.pem(*certificates.chain_for(rsa_key())))


def _ca_first(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(certificates.pem(*reversed(certificates.chain_for(key))))


def _not_its_issuer(path: Path, key: rsa.RSAPrivateKey) -> None:
    leaf, _ = certificates.chain_for(key)
    _, another_ca = certificates.chain_for(key, ca_number=2)
    path.write_bytes(certificates.pem(leaf, another_ca))


BAD_CHAINS: dict[str, tuple[Callable[[Path, rsa.RSAPrivateKey], Any], str]] = {
    "missing": (lambda path, key: None, "does not exist"),
    "not PEM": (lambda path, key: path.write_text("not a certificate"),
                "holds no readable PEM certificate"),
    "the key, not a certificate": (lambda path, key: write_pem(path, key),
                                   "holds no readable PEM certificate"),
    "another key's": (_chain_of_another_key, "not of the signing key"),
    "the CA first": (_ca_first, "as number 2 of 2; put it first"),
    "a CA that did not issue it": (_not_its_issuer, "did not issue"),
}


@pytest.mark.parametrize("bad", list(BAD_CHAINS))
def test_a_signing_cert_that_is_not_the_keys_chain_is_refused_naming_the_variable(
    settings, tmp_path, bad
):
    """A chain whose leaf is another key's would have eFormidling refuse every answer (it checks
    with x5c[0]'s key): the service does not start with it."""
    make, why = BAD_CHAINS[bad]
    key = rsa_key()
    path = tmp_path / "chain.pem"
    make(path, key)
    for env in ("prod", "test"):
        configured = dataclasses.replace(settings, env=env, signing_cert=path,
                                         signing_key=write_pem(tmp_path / "key.pem", key))
        with pytest.raises(ConfigError, match="KRR_SIGNING_CERT") as refused:
            create_app(configured, manage_db=False)
        assert why in str(refused.value) and str(path) in str(refused.value)


def test_prod_refuses_a_signing_key_without_its_certificate_and_a_certificate_without_its_key(
    settings, tmp_path
):
    key = rsa_key()
    key_file = write_pem(tmp_path / "key.pem", key)
    chain_file = tmp_path / "chain.pem"
    chain_file.write_bytes(certificates.pem(*certificates.chain_for(key)))
    for env, key_path, chain_path, why in (
        ("prod", key_file, None, "KRR_SIGNING_KEY is set but KRR_SIGNING_CERT is not"),
        ("prod", None, chain_file, "KRR_SIGNING_CERT is set but KRR_SIGNING_KEY is not"),
        ("test", None, chain_file, "KRR_SIGNING_CERT is set but KRR_SIGNING_KEY is not"),
    ):
        configured = dataclasses.replace(settings, env=env, signing_key=key_path,
                                         signing_cert=chain_path)
        with pytest.raises(ConfigError, match=why):
            create_app(configured, manage_db=False)


def test_outside_prod_the_operators_key_gets_a_self_signed_certificate(settings, tmp_path):
    key = rsa_key()
    dev = dataclasses.replace(settings, env="dev", var_dir=tmp_path / "var",
                              signing_key=write_pem(tmp_path / "key.pem", key))
    signing = keys.signing_key_for(dev)
    assert signing is not None and len(signing.chain) == 1
    leaf = assert_certificate_of(signing.public, signing.chain[0])
    assert leaf.issuer == leaf.subject  # self-signed, with the key
    assert keys.signing_key_for(dev).chain == signing.chain  # kept, not made at every start


async def test_a_key_recorded_without_its_certificate_is_published_with_it_once_known(db):
    """A key recorded before keys had certificates (or whose certificate was renewed) is
    published with the chain of the last process that started with it."""
    key = keys.generated()
    before = keys.SigningKey.of(key, ())
    renewed = keys.SigningKey.of(key, (chain.base64_der(chain.self_signed(key, FIXED_NOW)),))
    await signing_store.record(before, FIXED_NOW)
    assert [k["x5c"] for k in await signing_store.recorded()] == [[]]
    await signing_store.record(renewed, FIXED_NOW + dt.timedelta(days=1))
    (published_key,) = await signing_store.recorded()
    assert published_key == renewed.public and await SigningKeyRecord.all().count() == 1
    (record,) = await SigningKeyRecord.all()
    assert record.first_used == FIXED_NOW  # still when it was first used


def _public_key_pem(path: Path) -> None:
    path.write_bytes(rsa_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


BAD_KEYS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "missing": (lambda path: None, "does not exist"),
    "a directory": (lambda path: path.mkdir(), "cannot be read"),
    "not PEM": (lambda path: path.write_text("not a key"), "is not a PEM private key"),
    "a public key": (_public_key_pem, "is not a PEM private key"),
    "an EC key": (lambda path: write_pem(path, ec.generate_private_key(ec.SECP256R1())),
                  "need an RSA key"),
    "1024 bits": (lambda path: write_pem(path, rsa_key(1024)), "1024-bit RSA key"),
    "encrypted": (lambda path: write_pem(path, rsa_key(), serialization.BestAvailableEncryption(
        b"secret")), "encrypted"),
}


@pytest.mark.parametrize("bad", list(BAD_KEYS))
def test_an_unusable_signing_key_is_refused_naming_the_variable(settings, tmp_path, bad):
    write, why = BAD_KEYS[bad]
    path = tmp_path / "signing.pem"
    write(path)
    for env in ("prod", "test"):
        configured = dataclasses.replace(settings, env=env, signing_key=path)
        with pytest.raises(ConfigError, match="KRR_SIGNING_KEY") as refused:
            create_app(configured, manage_db=False)
        assert why in str(refused.value) and str(path) in str(refused.value)


def test_krr_serve_stops_at_an_unusable_signing_key(cli_env, tmp_path):
    missing = str(tmp_path / "nowhere.pem")
    refused = krr(cli_env | {"KRR_ENV": "prod", "KRR_SIGNING_KEY": missing}, "serve",
                  "--port", "1", check=False)
    assert refused.returncode == 2
    assert f"krr: KRR_SIGNING_KEY names {missing!r}, which does not exist" in refused.stderr


async def test_prod_without_a_signing_key_refuses_jose_and_still_serves_json(
    db, mint, registered, verifier, caplog
):
    prod = dataclasses.replace(db, env="prod")
    caplog.set_level(logging.WARNING)
    app = create_app(prod, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://krr.test"
    ) as client:
        (warning,) = [r for r in caplog.records if "KRR_SIGNING_KEY" in r.getMessage()]
        assert warning.levelno == logging.WARNING
        for path, body in ((PERSONER, {"personidentifikatorer": PIDS}), (GRAPHQL, LOOKUP)):
            refused = await ask(client, path, body, mint(BOTH))
            assert refused.status_code == 406
            assert refused.headers["content-type"] == "application/json"
            assert refused.headers["vary"] == "Accept"
            (error,) = refused.json()["errors"]
            assert error["extensions"] == {"code": NOT_ACCEPTABLE}
            assert "KRR_SIGNING_KEY" in error["message"]
            served = await ask(client, path, body, mint(BOTH), accept="application/json")
            assert served.status_code == 200 and "personer" in served.text
        assert await published(client) == {"keys": []}  # none ever used


def test_processes_generating_the_key_at_once_end_with_one(tmp_path):
    starting = 8
    barrier = threading.Barrier(starting)
    kids: list[tuple[str, tuple[str, ...]]] = []

    def start() -> None:
        barrier.wait()
        key = keys.load_or_create(tmp_path)
        kids.append((key.kid, key.chain))

    threads = [threading.Thread(target=start) for _ in range(starting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kids) == starting and len(set(kids)) == 1
    # The key and its certificate; no temporary file left behind.
    assert sorted(os.listdir(tmp_path)) == sorted([keys.KEY_FILE_NAME, chain.CERT_FILE_NAME])
    path = tmp_path / keys.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keys.load_or_create(tmp_path)  # and the next start reads both
    assert (again.kid, again.chain) == kids[0]


def test_krr_serve_publishes_its_key_at_startup_and_signs_with_it(cli_env):
    """The README's steps against a real server: the key is recorded as the server starts,
    before it has signed anything; then a signed lookup verifies against the published keys."""
    token = krr(cli_env, "token", "--scope", BOTH, "--consumer", CONSUMER).stdout.strip()
    with krr_serving(cli_env) as base:
        database = cli_env["KRR_DATABASE_URL"].removeprefix("sqlite://")
        with closing(sqlite3.connect(database)) as conn:
            rows = conn.execute("SELECT jwk FROM signing_key").fetchall()
        (recorded,) = [json.loads(jwk) for (jwk,) in rows]
        document = httpx.get(f"{base}{JWKS_PATH}", timeout=10).json()
        assert document == {"keys": [recorded]}
        pem = Path(cli_env["KRR_VAR_DIR"]) / keys.KEY_FILE_NAME
        assert recorded["kid"] == keys.SigningKey.of(keys.rsa_key(pem.read_bytes()), ()).kid
        answer = httpx.post(f"{base}{PERSONER}", json={"personidentifikatorer": PIDS}, timeout=10,
                            headers={"Authorization": f"Bearer {token}", "Accept": JOSE})
        assert answer.headers["content-type"] == JOSE, answer.text
        assert verified(answer.text, document)["personer"] == []  # not in this register
        # And as eFormidling verifies (the README's second snippet): with x5c[0]'s key alone.
        header = jwt.get_unverified_header(answer.text)
        leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        assert jwt.decode(answer.text, leaf.public_key(), algorithms=["RS256"])["personer"] == []


# --- the payload, without the HTTP around it --------------------------------------------------


def test_the_payload_is_the_answers_members_then_the_claims():
    claims = {"iat": 1, "jti": "r"}
    assert orjson.loads(jws.payload(b'{"personer":[]}', claims)) == {"personer": [], **claims}
    assert jws.payload(b'{"personer":[]}', claims) == b'{"personer":[],"iat":1,"jti":"r"}'
    assert orjson.loads(jws.payload(b"{ }", claims)) == claims
    with pytest.raises(ValueError, match="JSON object"):
        jws.payload(b"[1]", claims)
