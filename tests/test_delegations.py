"""The delegation registry: grant, list, revoke over HTTP; every refusal; storage; pure rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid

import httpx
import pytest

from app import db as database
from app.delegering import store
from app.delegering.models import Delegering, Delegeringsordning
from app.edge.app import create_app
from authz import avslag as reasons
from authz import delegation as rules
from authz.avslag import Avslag
from authz.principal import Principal
from authz.tillatelse import organisasjon
from tests.conftest import CONSUMER, FIXED_NOW

ADMIN = "krr:admin/delegering.write"
SCHEME = "krr-paa-vegne-av"
SCHEME_SCOPES = ["krr:global/kontaktinformasjon.read", "krr:global/digitalpost.read"]
PUBLIC_BODY = CONSUMER  # 974760673, no name in the register
VENDOR = "889640782"
OTHER_VENDOR = "921627009"
DIGDIR = "991825827"
POSTEN = "984661185"  # named in the register
PID = "17912099997"

DELEGERING = """
  id aktiv opprettet opprettetAv trukketTilbake trukketTilbakeAv
  fra { orgnr navn } til { orgnr navn }
  ordning { id tittel eier { orgnr navn } scopes }
"""
GRANT = f"""mutation($til: String!, $ordning: ID!) {{
  delegerTilgang(til: $til, ordning: $ordning) {{ {DELEGERING} }}
}}"""
REVOKE = f"mutation($id: ID!) {{ trekkTilbakeTilgang(id: $id) {{ {DELEGERING} }} }}"
LIST = f"{{ delegeringer {{ gitt {{ {DELEGERING} }} mottatt {{ {DELEGERING} }} }} }}"


async def gql(client, token, query, **variables):
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def grant(client, token, til=VENDOR, ordning=SCHEME):
    body = await gql(client, token, GRANT, til=til, ordning=ordning)
    assert "errors" not in body, body
    return body["data"]["delegerTilgang"]


async def revoke(client, token, delegering_id):
    body = await gql(client, token, REVOKE, id=delegering_id)
    assert "errors" not in body, body
    return body["data"]["trekkTilbakeTilgang"]


async def listing(client, token):
    body = await gql(client, token, LIST)
    assert "errors" not in body, body
    return body["data"]["delegeringer"]


def refusal(body, code, reason):
    assert body["data"] is None
    [err] = body["errors"]
    assert err["extensions"]["code"] == code, err
    assert err["extensions"].get("reason") == reason, err
    return err


def iso(moment):
    return moment.isoformat()


# --- schemes ---------------------------------------------------------------------------------

async def test_schemes_are_open_to_any_authenticated_caller(client, mint):
    query = "{ delegeringsordninger { id tittel eier { orgnr navn } scopes } }"
    body = await gql(client, mint("openid"), query)
    assert "errors" not in body
    assert {
        "id": SCHEME,
        "tittel": "KRR - Delegere på-vegne-av-rettighet",
        "eier": {"orgnr": DIGDIR, "navn": "Digitaliseringsdirektoratet"},
        "scopes": SCHEME_SCOPES,
    } in body["data"]["delegeringsordninger"]


# --- grant -----------------------------------------------------------------------------------

async def test_grant_records_who_when_and_what(client, mint):
    d = await grant(client, mint(ADMIN))
    uuid.UUID(d["id"])
    assert d["fra"] == {"orgnr": PUBLIC_BODY, "navn": None}
    assert d["til"] == {"orgnr": VENDOR, "navn": None}
    assert d["ordning"] == {
        "id": SCHEME,
        "tittel": "KRR - Delegere på-vegne-av-rettighet",
        "eier": {"orgnr": DIGDIR, "navn": "Digitaliseringsdirektoratet"},
        "scopes": SCHEME_SCOPES,
    }
    assert d["opprettet"] == iso(FIXED_NOW)
    assert d["opprettetAv"] == "krr-dev-client"  # no pid: the client acted
    assert d["aktiv"] is True
    assert d["trukketTilbake"] is None
    assert d["trukketTilbakeAv"] is None


async def test_actor_is_the_person_when_the_token_has_a_pid(client, mint):
    d = await grant(client, mint(ADMIN, pid=PID), til=POSTEN)
    assert d["opprettetAv"] == PID
    assert d["til"] == {"orgnr": POSTEN, "navn": "Posten Bring AS (Digipost)"}


async def test_granting_what_is_active_returns_the_active_one(client, mint):
    first = await grant(client, mint(ADMIN, pid=PID))
    again = await grant(client, mint(ADMIN))
    assert again == first  # same id, and the original grantor stays on record
    assert again["opprettetAv"] == PID
    assert await Delegering.all().count() == 1


async def test_concurrent_grants_make_one_delegation(db):
    results = await asyncio.gather(
        *(store.gi(PUBLIC_BODY, VENDOR, SCHEME, f"client-{n}", FIXED_NOW) for n in range(5))
    )
    assert len({r.id for r in results}) == 1
    assert await Delegering.all().count() == 1


async def test_losing_the_insert_race_returns_the_winner(db, monkeypatch):
    """The read-then-insert window: the unique index refuses the second insert."""
    winner = await store.gi(PUBLIC_BODY, VENDOR, SCHEME, "first", FIXED_NOW)
    real_aktiv = store._aktiv
    calls = itertools.count()

    async def stale_first_read(*args):
        return None if next(calls) == 0 else await real_aktiv(*args)

    monkeypatch.setattr(store, "_aktiv", stale_first_read)
    loser = await store.gi(PUBLIC_BODY, VENDOR, SCHEME, "second", FIXED_NOW)
    assert loser.id == winner.id
    assert loser.opprettet_av == "first"
    assert await Delegering.all().count() == 1


# --- list ------------------------------------------------------------------------------------

async def test_listed_as_given_by_the_giver_and_received_by_the_receiver(client, mint):
    d = await grant(client, mint(ADMIN))
    giver = await listing(client, mint(ADMIN))
    assert giver == {"gitt": [d], "mottatt": []}
    receiver = await listing(client, mint(ADMIN, consumer=VENDOR))
    assert receiver == {"gitt": [], "mottatt": [d | {"opprettetAv": PUBLIC_BODY}]}
    bystander = await listing(client, mint(ADMIN, consumer=OTHER_VENDOR))
    assert bystander == {"gitt": [], "mottatt": []}


@pytest.fixture
async def ticking_client(db):
    """Like `client`, but each reading of the clock is a minute later, to see the order."""
    moments = (FIXED_NOW + dt.timedelta(minutes=n) for n in itertools.count())
    app = create_app(db, clock=lambda: next(moments), manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as c:
        yield c


async def test_lists_are_newest_first_and_keep_the_history(ticking_client, mint):
    client, admin = ticking_client, mint(ADMIN, pid=PID)
    old = await grant(client, admin, til=VENDOR)
    await grant(client, admin, til=OTHER_VENDOR)
    revoked = await revoke(client, admin, old["id"])
    assert revoked["aktiv"] is False
    assert revoked["trukketTilbakeAv"] == PID
    renewed = await grant(client, admin, til=VENDOR)
    assert renewed["id"] != old["id"]  # a new grant after a revocation is a new record
    gitt = (await listing(client, admin))["gitt"]
    assert [(d["til"]["orgnr"], d["aktiv"]) for d in gitt] == [
        (VENDOR, True), (OTHER_VENDOR, True), (VENDOR, False)
    ]
    assert gitt[2] == revoked
    mottatt = (await listing(client, mint(ADMIN, consumer=VENDOR)))["mottatt"]
    assert [d["id"] for d in mottatt] == [renewed["id"], old["id"]]


# --- revoke ----------------------------------------------------------------------------------

async def test_giver_revokes_and_the_record_stays(client, mint):
    d = await grant(client, mint(ADMIN))
    r = await revoke(client, mint(ADMIN, pid=PID), d["id"])
    assert r["id"] == d["id"]
    assert r["aktiv"] is False
    assert r["trukketTilbake"] == iso(FIXED_NOW)
    assert r["trukketTilbakeAv"] == PID
    assert r["opprettetAv"] == d["opprettetAv"]
    assert (await listing(client, mint(ADMIN)))["gitt"] == [r]
    # The receiver is shown the giving organisation, never its people (issue 12.3).
    assert (await listing(client, mint(ADMIN, consumer=VENDOR)))["mottatt"] == [
        r | {"opprettetAv": PUBLIC_BODY, "trukketTilbakeAv": PUBLIC_BODY}
    ]


async def test_receiver_gives_the_right_up(client, mint):
    d = await grant(client, mint(ADMIN))
    r = await revoke(client, mint(ADMIN, consumer=VENDOR), d["id"])
    assert r["aktiv"] is False
    assert r["trukketTilbakeAv"] == "krr-dev-client"
    assert r["opprettetAv"] == PUBLIC_BODY  # the giver's side, as the receiver sees it
    assert (await listing(client, mint(ADMIN)))["gitt"] == [
        r | {"opprettetAv": d["opprettetAv"], "trukketTilbakeAv": VENDOR}
    ]


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("scope", "token_kwargs", "til", "ordning", "code", "reason"),
    [
        ("openid", {}, VENDOR, SCHEME, "FORBIDDEN", reasons.MANGLER_SCOPE),
        (ADMIN, {"supplier": OTHER_VENDOR}, VENDOR, SCHEME, "FORBIDDEN", reasons.VIDEREDELEGERING),
        (ADMIN, {}, PUBLIC_BODY, SCHEME, "BAD_USER_INPUT", reasons.DELEGERING_TIL_SEG_SELV),
        (ADMIN, {}, "123456789", SCHEME, "BAD_USER_INPUT", reasons.UGYLDIG_ORGNR),
        (ADMIN, {}, "88964078", SCHEME, "BAD_USER_INPUT", reasons.UGYLDIG_ORGNR),
        (ADMIN, {}, " 889640782", SCHEME, "BAD_USER_INPUT", reasons.UGYLDIG_ORGNR),
        (ADMIN, {}, "８８９６４０７８２", SCHEME, "BAD_USER_INPUT", reasons.UGYLDIG_ORGNR),
        (ADMIN, {}, VENDOR, "no-such-scheme", "BAD_USER_INPUT", reasons.UKJENT_ORDNING),
    ],
    ids=["no-admin-scope", "supplier-token", "to-self", "mod11", "8-digits", "space",
         "fullwidth-digits", "unknown-scheme"],
)
async def test_grant_refusals(client, mint, scope, token_kwargs, til, ordning, code, reason):
    body = await gql(client, mint(scope, **token_kwargs), GRANT, til=til, ordning=ordning)
    err = refusal(body, code, reason)
    assert err["message"]
    assert await Delegering.all().count() == 0


async def test_listing_needs_the_admin_scope(client, mint):
    body = await gql(client, mint("krr:global/kontaktinformasjon.read"), LIST)
    refusal(body, "FORBIDDEN", reasons.MANGLER_SCOPE)


async def test_a_third_organisation_cannot_revoke(client, mint):
    d = await grant(client, mint(ADMIN))
    body = await gql(client, mint(ADMIN, consumer=OTHER_VENDOR), REVOKE, id=d["id"])
    err = refusal(body, "FORBIDDEN", reasons.IKKE_PART)
    assert OTHER_VENDOR in err["message"]
    assert (await store.hent(uuid.UUID(d["id"]))).aktiv


@pytest.mark.parametrize(
    ("scope", "token_kwargs", "reason"),
    [
        ("openid", {}, reasons.MANGLER_SCOPE),
        (ADMIN, {"supplier": VENDOR}, reasons.VIDEREDELEGERING),
    ],
    ids=["no-admin-scope", "supplier-token"],
)
async def test_revoke_refusals_by_token(client, mint, scope, token_kwargs, reason):
    d = await grant(client, mint(ADMIN))
    body = await gql(client, mint(scope, **token_kwargs), REVOKE, id=d["id"])
    refusal(body, "FORBIDDEN", reason)
    assert (await store.hent(uuid.UUID(d["id"]))).aktiv


async def test_revoking_twice_is_refused_and_the_first_revoker_stays(client, mint):
    d = await grant(client, mint(ADMIN))
    await revoke(client, mint(ADMIN, pid=PID), d["id"])
    body = await gql(client, mint(ADMIN, consumer=VENDOR), REVOKE, id=d["id"])
    refusal(body, "BAD_USER_INPUT", reasons.ALLEREDE_TRUKKET_TILBAKE)
    assert (await store.hent(uuid.UUID(d["id"]))).trukket_tilbake_av == PID


async def test_unknown_and_malformed_ids(client, mint):
    body = await gql(client, mint(ADMIN), REVOKE, id=str(uuid.uuid4()))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(client, mint(ADMIN), REVOKE, id="not-a-uuid")
    refusal(body, "BAD_USER_INPUT", "UGYLDIG_ID")


async def test_concurrent_revocations_one_wins(db):
    d = await store.gi(PUBLIC_BODY, VENDOR, SCHEME, "grantor", FIXED_NOW)
    outcomes = await asyncio.gather(
        store.trekk_tilbake(d.id, "giver", PUBLIC_BODY, FIXED_NOW),
        store.trekk_tilbake(d.id, "receiver", VENDOR, FIXED_NOW),
        return_exceptions=True,
    )
    done = [o for o in outcomes if isinstance(o, store.DelegeringRad)]
    refused = [o for o in outcomes if isinstance(o, store.AlleredeTrukketTilbake)]
    assert len(done) == 1 and len(refused) == 1
    assert (await store.hent(d.id)).trukket_tilbake_av == done[0].trukket_tilbake_av


# --- aktive_scopes (the per-request check) ---------------------------------------------------

@pytest.fixture
async def second_scheme(db):
    """A second scheme, removed again: the schemes table outlives each test."""
    await Delegeringsordning.create(
        id="test-bruk", tittel="Bruksrapport", eier=DIGDIR, scopes="krr:admin/bruk.read"
    )
    yield "test-bruk"
    await Delegering.filter(ordning_id="test-bruk").delete()
    await Delegeringsordning.filter(id="test-bruk").delete()


async def test_aktive_scopes_follows_grants_and_revocations(second_scheme):
    assert await store.aktive_scopes(PUBLIC_BODY, VENDOR) == frozenset()
    d = await store.gi(PUBLIC_BODY, VENDOR, SCHEME, "a", FIXED_NOW)
    await store.gi(PUBLIC_BODY, VENDOR, second_scheme, "a", FIXED_NOW)
    assert await store.aktive_scopes(PUBLIC_BODY, VENDOR) == frozenset(
        [*SCHEME_SCOPES, "krr:admin/bruk.read"]
    )
    # Direction and parties matter.
    assert await store.aktive_scopes(VENDOR, PUBLIC_BODY) == frozenset()
    assert await store.aktive_scopes(PUBLIC_BODY, OTHER_VENDOR) == frozenset()
    await store.trekk_tilbake(d.id, "a", PUBLIC_BODY, FIXED_NOW)
    assert await store.aktive_scopes(PUBLIC_BODY, VENDOR) == frozenset({"krr:admin/bruk.read"})


async def test_aktive_scopes_is_one_statement(db, monkeypatch):
    await store.gi(PUBLIC_BODY, VENDOR, SCHEME, "a", FIXED_NOW)
    conn = database.connection()
    original = conn.execute_query
    statements: list[str] = []

    async def execute_query(sql, values=None):
        statements.append(sql)
        return await original(sql, values)

    monkeypatch.setattr(conn, "execute_query", execute_query)
    assert await store.aktive_scopes(PUBLIC_BODY, VENDOR) == frozenset(SCHEME_SCOPES)
    assert len(statements) == 1


# --- the rules, without a database -----------------------------------------------------------

def principal(scopes=(ADMIN,), consumer=PUBLIC_BODY, **kwargs):
    return Principal(consumer=consumer, scopes=frozenset(scopes), issuer="test", **kwargs)


def refused(call, *args, **kwargs):
    with pytest.raises(Avslag) as caught:
        call(*args, **kwargs)
    return caught.value


def delegere(p, til, ordning_finnes):
    """delegerTilgang's whole decision: its declared permission, then the rule."""
    rules.ADMINISTRERE.kontroller(p)
    rules.kan_delegere(p, til, ordning_finnes=ordning_finnes)


def trekke_tilbake(p, fra, til):
    """trekkTilbakeTilgang's whole decision: its declared permission, then the rule."""
    rules.ADMINISTRERE.kontroller(p)
    rules.kan_trekke_tilbake(p, fra, til)


def test_rules_allow_an_admin_to_delegate_and_either_party_to_revoke():
    delegere(principal(), VENDOR, ordning_finnes=True)
    trekke_tilbake(principal(), PUBLIC_BODY, VENDOR)
    trekke_tilbake(principal(consumer=VENDOR), PUBLIC_BODY, VENDOR)
    rules.ADMINISTRERE.kontroller(principal())  # listing


@pytest.mark.parametrize(
    ("p", "til", "finnes", "reason", "bad_input"),
    [
        (principal(scopes=()), VENDOR, True, reasons.MANGLER_SCOPE, False),
        (principal(supplier=OTHER_VENDOR), VENDOR, True, reasons.VIDEREDELEGERING, False),
        (principal(), "123456789", True, reasons.UGYLDIG_ORGNR, True),
        (principal(), "8896407820", True, reasons.UGYLDIG_ORGNR, True),
        (principal(), PUBLIC_BODY, True, reasons.DELEGERING_TIL_SEG_SELV, True),
        (principal(), VENDOR, False, reasons.UKJENT_ORDNING, True),
    ],
)
def test_rules_refuse_delegating(p, til, finnes, reason, bad_input):
    avslag = refused(delegere, p, til, ordning_finnes=finnes)
    assert avslag.code == reason
    assert avslag.ugyldig_input is bad_input
    assert str(avslag) == avslag.message


def test_rules_refuse_revoking():
    assert refused(trekke_tilbake, principal(scopes=()), PUBLIC_BODY, VENDOR).code == (
        reasons.MANGLER_SCOPE
    )
    assert refused(
        trekke_tilbake, principal(supplier=VENDOR), PUBLIC_BODY, VENDOR
    ).code == reasons.VIDEREDELEGERING
    third = refused(trekke_tilbake, principal(consumer=OTHER_VENDOR), PUBLIC_BODY, VENDOR)
    assert third.code == reasons.IKKE_PART
    assert not third.ugyldig_input
    assert refused(rules.ADMINISTRERE.kontroller, principal(scopes=("openid",))).code == (
        reasons.MANGLER_SCOPE
    )


def test_on_behalf_of_needs_an_active_delegation():
    paa_vegne_av = organisasjon(paa_vegne_av=True)  # e.g. the lookup's declaration
    paa_vegne_av.kontroller(principal(scopes=()), frozenset())  # acting for itself
    paa_vegne_av.kontroller(principal(supplier=VENDOR), frozenset(SCHEME_SCOPES))
    avslag = refused(paa_vegne_av.kontroller, principal(supplier=VENDOR), frozenset())
    assert avslag.code == reasons.MANGLER_DELEGERING
    assert not avslag.ugyldig_input
    assert avslag.message == f"No active delegation from {PUBLIC_BODY} to {VENDOR}"


def test_actor_is_pid_else_client_else_the_organisation():
    assert rules.aktoer(principal(pid=PID, client_id="c")) == PID
    assert rules.aktoer(principal(client_id="c")) == "c"
    assert rules.aktoer(principal()) == PUBLIC_BODY


# --- issue 12.3: a person's id only to the person's own organisation ------------------------

async def test_administrators_national_ids_are_not_shown_to_the_other_organisation(client, mint):
    """The attack: the receiving organisation read the granting person's national id in
    opprettetAv (and the revoking person's in trukketTilbakeAv). Each side sees its own
    people; the other side sees the organisation."""
    giver_pid, receiver_pid = PID, "24907999374"
    d = await grant(client, mint(ADMIN, pid=giver_pid))
    assert d["opprettetAv"] == giver_pid
    received = (await listing(client, mint(ADMIN, consumer=VENDOR, pid=receiver_pid)))["mottatt"]
    assert received[0]["opprettetAv"] == PUBLIC_BODY
    given_up = await revoke(client, mint(ADMIN, consumer=VENDOR, pid=receiver_pid), d["id"])
    assert (given_up["opprettetAv"], given_up["trukketTilbakeAv"]) == (PUBLIC_BODY, receiver_pid)
    [given] = (await listing(client, mint(ADMIN, pid=giver_pid)))["gitt"]
    assert (given["opprettetAv"], given["trukketTilbakeAv"]) == (giver_pid, VENDOR)
    # Nowhere in either side's answers is the other side's person.
    giver_view = str(await listing(client, mint(ADMIN)))
    receiver_view = str(await listing(client, mint(ADMIN, consumer=VENDOR)))
    assert receiver_pid not in giver_view and giver_pid not in receiver_view


def test_the_actor_is_shown_only_to_its_own_organisation():
    assert rules.vist_aktoer(PID, PUBLIC_BODY, PUBLIC_BODY) == PID
    assert rules.vist_aktoer(PID, PUBLIC_BODY, VENDOR) == PUBLIC_BODY
    assert rules.vist_aktoer(PID, None, PUBLIC_BODY) is None  # revoked before it was recorded
    assert rules.vist_aktoer(None, PUBLIC_BODY, PUBLIC_BODY) is None
