"""Lookups by a vendor on behalf of a public body: only through an active delegation, checked at
every request, and every disclosure recorded in the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from app.delegering.models import Delegering, Delegeringsordning
from app.revisjon import store
from app.revisjon.models import Oppslag
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import DIGIPOST, new_id, person, provider
from tests.revisjonsrader import personrader
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


@asynccontextmanager
async def ordning(ordning_id: str, *scopes: str) -> AsyncIterator[str]:
    """A delegation scheme of `scopes` for one test. Schemes are reference data, kept between
    tests, so this one (and its delegations) is removed after."""
    await Delegeringsordning.create(id=ordning_id, tittel=f"Test: {ordning_id}",
                                    eier="991825827", scopes=" ".join(scopes))
    try:
        yield ordning_id
    finally:
        await Delegering.filter(ordning_id=ordning_id).delete()
        await Delegeringsordning.filter(id=ordning_id).delete()


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
            for r in await personrader(record.id)}
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
    [row] = await personrader()
    assert row.kategorier == 1 | 2


async def test_forbidden_fields_are_not_logged_as_disclosed(client, mint):
    pid = await _person_with_mailbox()
    await lookup(client, mint(POST), [pid], FIELDS)  # contact information is withheld
    [record] = await Oppslag.all()
    assert record.scopes == POST
    [row] = await personrader()
    assert row.kategorier == 1 | 4


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


# --- issue 12.1 and 12.2: a vendor does only what the organisation delegated ------------------

ALL_SCOPES = " ".join(sorted({
    KONTAKT, POST, "krr:global/hentendring.read", "krr:global/spraak.write",
    "krr:admin/folkeregister", "krr:admin/bruk.read", "krr:admin/delegering.write",
    "krr:test/sok.read", "krr:test/testpersoner.write",
}))
PID_A, PID_B = new_id(201), new_id(202)

# Every operation a vendor might call: (name, the scope it needs, how to call it). Each returns
# (served?, the refusal's reason or None).
GRAPHQL_OPERATIONS = {
    "personer": (KONTAKT, f'{{ personer(personidentifikatorer: ["{PID_A}"]) {{ status }} }}'),
    "endringer": ("krr:global/hentendring.read",
                  "{ endringer(fraEndringsId: 0) { sisteEndringsId } }"),
    "sokPersoner": ("krr:test/sok.read", "{ sokPersoner { totalCount } }"),
    "opprettTestpersoner": ("krr:test/testpersoner.write",
                            "mutation { opprettTestpersoner(antall: 1, profil: FULL) "
                            "{ status } }"),
    "settSpraak": ("krr:global/spraak.write",
                   f'mutation {{ settSpraak(personidentifikator: "{PID_B}", spraak: "nn") '
                   "{ opprettet } }"),
    "endreIdentifikator": ("krr:admin/folkeregister",
                           f'mutation {{ endreIdentifikator(fra: "{PID_A}", til: "{PID_B}") '
                           "{ endret } }"),
    "bruk": ("krr:admin/bruk.read", '{ bruk(fra: "2026-06-01", til: "2026-06-30") '
             "{ totalt { oppslag } } }"),
    "delegeringer": ("krr:admin/delegering.write", "{ delegeringer { gitt { id } } }"),
    "delegerTilgang": ("krr:admin/delegering.write",
                       f'mutation {{ delegerTilgang(til: "{OTHER_VENDOR}", '
                       'ordning: "krr-paa-vegne-av") { id } }'),
}


async def _call(client, token: str, query: str) -> tuple[bool, str | None]:
    response = await client.post("/graphql", json={"query": query},
                                 headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    errors = [e for e in body.get("errors") or [] if (e.get("extensions") or {})
              .get("code") == "FORBIDDEN" and not (e.get("extensions") or {}).get("field")]
    if errors:
        assert body.get("data") is None, body
        return False, errors[0]["extensions"].get("reason")
    assert "errors" not in body, body
    return True, None


@pytest.mark.parametrize("operation", GRAPHQL_OPERATIONS)
async def test_a_vendor_with_a_lookup_delegation_is_served_lookups_only(client, mint, operation):
    """The attack: a token with supplier B acting for A, carrying every scope, under the
    delegation A gave B for lookups (krr-paa-vegne-av). Only the lookup is served; the change
    feed (which would hand B the whole register), search, writes, usage and delegation
    administration are refused."""
    await person(PID_A)
    await delegate()
    served, reason = await _call(client, mint(ALL_SCOPES, supplier=VENDOR),
                                 GRAPHQL_OPERATIONS[operation][1])
    if operation == "personer":
        assert served
    elif operation in ("delegeringer", "delegerTilgang"):
        assert (served, reason) == (False, "VIDEREDELEGERING")
    else:
        assert (served, reason) == (False, "MANGLER_DELEGERING")
    assert await Delegering.filter(til=OTHER_VENDOR).count() == 0


@pytest.mark.parametrize("operation", [o for o in GRAPHQL_OPERATIONS
                                       if o not in ("delegeringer", "delegerTilgang")])
async def test_a_vendor_is_served_what_the_organisation_delegated(client, mint, operation):
    """The same operations under a scheme that includes their scope: served. Administering A's
    delegations stays A's own (no scheme opens it to a vendor)."""
    await person(PID_A)
    scope, query = GRAPHQL_OPERATIONS[operation]
    async with ordning(f"test-{operation.lower()}", scope, KONTAKT) as scheme:
        await delegate(ordning=scheme)
        served, reason = await _call(client, mint(ALL_SCOPES, supplier=VENDOR), query)
    assert (served, reason) == (True, None)


async def test_a_vendor_without_delegation_cannot_list_the_organisations_delegations(
    client, mint
):
    """Issue 12.2: (consumer A, supplier C), no delegation, the admin scope: A's history is
    not C's to read. A's own token lists it; the receiving side sees its own received ones."""
    await delegate()  # A to B, in A's history
    admin = "krr:admin/delegering.write"
    listing = "{ delegeringer { gitt { fra { orgnr } } mottatt { fra { orgnr } } } }"
    refused = await lookup_body(client, mint(admin, supplier=OTHER_VENDOR), listing)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["reason"] == "VIDEREDELEGERING"
    own = await lookup_body(client, mint(admin), listing)
    assert own["data"]["delegeringer"] == {"gitt": [{"fra": {"orgnr": CONSUMER}}], "mottatt": []}
    receiver = await lookup_body(client, mint(admin, consumer=VENDOR), listing)
    assert receiver["data"]["delegeringer"] == {
        "gitt": [], "mottatt": [{"fra": {"orgnr": CONSUMER}}]
    }


async def lookup_body(client, token: str, query: str) -> dict:
    response = await client.post("/graphql", json={"query": query},
                                 headers={"Authorization": f"Bearer {token}"})
    return response.json()
