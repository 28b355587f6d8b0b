"""Lookups by a vendor on behalf of a public body: only through an active delegation, checked at
every request, and every disclosure recorded in the audit log."""

from __future__ import annotations

import datetime as dt
import uuid

from app.delegering.models import Delegering, Delegeringsordning
from app.revisjon import store
from app.revisjon.models import Oppslag, OppslagPerson
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import DIGIPOST, new_id, person, provider
from tests.test_lookup import BOTH, KONTAKT, POST, lookup

VENDOR = "889640782"
OTHER_VENDOR = "921627009"
FIELDS = (
    "personidentifikator status kontaktinformasjon { epostadresse } "
    "digitalPost { postkasseadresse }"
)


async def delegate(fra: str = CONSUMER, til: str = VENDOR, ordning: str = "krr-paa-vegne-av"):
    return await Delegering.create(
        id=uuid.uuid4(), fra=fra, til=til, ordning_id=ordning,
        opprettet=FIXED_NOW - dt.timedelta(days=1), opprettet_av="12345678901",
    )


async def _person_with_mailbox() -> str:
    await provider()
    pid = new_id(100)
    await person(pid, epost="v@example.no", postkasseadresse="v#digipost",
                 postkasseleverandoer_id=DIGIPOST)
    return pid


async def test_without_delegation_nothing_is_disclosed(client, mint):
    pid = await _person_with_mailbox()
    await delegate(fra=VENDOR, til=CONSUMER)  # the wrong direction counts for nothing
    await delegate(til=OTHER_VENDOR)  # nor does one to another vendor
    body = await lookup(client, mint(BOTH, supplier=VENDOR), [pid], FIELDS)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert CONSUMER in error["message"] and VENDOR in error["message"]
    assert await Oppslag.all().count() == 0


async def test_active_delegation_serves_the_vendor_and_the_log_names_both(client, mint):
    pid = await _person_with_mailbox()
    await delegate()
    token = mint(BOTH, supplier=VENDOR, pid="17912099997")
    response = await client.post(
        "/graphql",
        json={"query": f'{{ personer(personidentifikatorer: ["{pid}", "31819198252"]) '
                       f"{{ {FIELDS} varslingsstatus }} }}"},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-123"},
    )
    body = response.json()
    assert "errors" not in body
    found, unknown = body["data"]["personer"]
    assert unknown["status"] == "IKKE_REGISTRERT"
    assert found["kontaktinformasjon"]["epostadresse"] == "v@example.no"
    assert found["digitalPost"]["postkasseadresse"] == "v#digipost"
    assert response.headers["x-request-id"] == "req-123"

    [record] = await Oppslag.all()
    assert (record.consumer, record.supplier) == (CONSUMER, VENDOR)
    assert record.actor == "17912099997"
    assert record.request_id == "req-123"
    assert record.varslingsstatus is True
    assert set(record.scopes.split()) == {KONTAKT, POST}
    assert record.antall == 2
    rows = {r.personidentifikator: r.kategorier
            for r in await OppslagPerson.filter(oppslag_id=record.id)}
    assert rows == {pid: 1 | 2 | 4, "31819198252": 1 | 2}  # unknown: status + varslingsstatus


async def test_revocation_bites_on_the_next_request(client, mint):
    pid = await _person_with_mailbox()
    delegering = await delegate()
    token = mint(BOTH, supplier=VENDOR)
    assert "errors" not in await lookup(client, token, [pid], FIELDS)
    delegering.trukket_tilbake = FIXED_NOW
    delegering.trukket_tilbake_av = "someone"
    await delegering.save()
    body = await lookup(client, token, [pid], FIELDS)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_partial_delegation_refuses_the_rest_field_by_field(client, mint):
    pid = await _person_with_mailbox()
    await Delegeringsordning.create(id="kun-kontakt", tittel="Bare kontaktinformasjon",
                                    eier="991825827", scopes=KONTAKT)
    await delegate(ordning="kun-kontakt")
    body = await lookup(client, mint(BOTH, supplier=VENDOR), [pid], FIELDS + " sertifikat")
    [p] = body["data"]["personer"]
    assert p["kontaktinformasjon"]["epostadresse"] == "v@example.no"
    assert p["digitalPost"] is None and p["sertifikat"] is None
    assert sorted(e["extensions"]["field"] for e in body["errors"]) == ["digitalPost", "sertifikat"]
    for e in body["errors"]:
        assert e["extensions"]["code"] == "FORBIDDEN"
        assert e["extensions"]["scope"] == POST
        assert "delegation" in e["message"]
    [record] = await Oppslag.all()
    assert record.scopes == KONTAKT  # only what was used


async def test_delegated_scope_names_count_in_a_vendor_token(client, mint):
    pid = await _person_with_mailbox()
    await delegate()
    token = mint("krr:global/kontaktinfo.read krr:global/postkasse.read", supplier=VENDOR)
    body = await lookup(client, token, [pid], FIELDS)
    assert "errors" not in body
    assert body["data"]["personer"][0]["digitalPost"]["postkasseadresse"] == "v#digipost"


async def test_own_lookup_is_logged_without_supplier_and_actor_is_the_client(client, mint):
    pid = await _person_with_mailbox()
    await lookup(client, mint(KONTAKT), [pid], "status spraak")
    [record] = await Oppslag.all()
    assert record.supplier is None
    assert record.actor == "krr-dev-client"
    assert record.varslingsstatus is False
    [row] = await OppslagPerson.all()
    assert row.kategorier == 1 | 2


async def test_forbidden_fields_are_not_logged_as_disclosed(client, mint):
    pid = await _person_with_mailbox()
    await lookup(client, mint("openid"), [pid], FIELDS)
    [record] = await Oppslag.all()
    assert record.scopes == ""
    [row] = await OppslagPerson.all()
    assert row.kategorier == 1


async def test_when_the_audit_log_cannot_be_written_nothing_is_disclosed(client, mint, monkeypatch):
    pid = await _person_with_mailbox()

    async def broken(**_: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(store, "skriv_oppslag", broken)
    response = await client.post(
        "/graphql",
        json={"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ {FIELDS} }} }}'},
        headers={"Authorization": f"Bearer {mint(BOTH)}"},
    )
    assert response.status_code == 503  # as over REST: the client is told to come back
    assert response.headers["retry-after"]
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "v@example.no" not in str(body)
