"""The access managers' page in process: grant and revoke through the same operations as
GraphQL (the vendor served, then refused), the forms' checks, CSRF, crafted forms, the person
who manages nothing, refusals as pages, and the security headers."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from app import db as database
from app.config import Limits, Rate, Settings
from app.delegering import handlinger
from app.delegering.models import Delegering
from app.edge.app import create_app
from app.edge.ratelimit import build_limiter
from app.enhetsregisteret.importer import importer
from app.text import BIDI_CONTROLS, FSI, PDI
from app.tilgangsstyrere import store as roller
from authz.principal import Principal
from authz.scopes import DELEGERING_WRITE
from tests.admin import csrf_of, hidden_fields, log_in
from tests.conftest import CONSUMER, FIXED_NOW
from tests.test_delegations import SCHEME

PID = "17912099997"  # manages CONSUMER
NOBODY = "24907999374"  # manages nothing
POSTEN = "984661185"  # named in the register
DIGDIR = "991825827"
UNKNOWN = "911111101"  # a valid number (mod 11) no register names
LOOKUP = '{ personer(personidentifikatorer: ["31819198252"]) { status } }'
PAGE = f"/admin/organisasjon/{CONSUMER}"


@pytest.fixture
async def web(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


async def _grant_via_page(c: httpx.AsyncClient, til: str = POSTEN) -> httpx.Response:
    form = await c.get(f"{PAGE}/gi")
    checked = await c.post(f"{PAGE}/gi", data={"csrf": csrf_of(form.text), "ordning": SCHEME,
                                               "til": til})
    assert checked.status_code == 200, checked.text
    return await c.post(f"{PAGE}/gi/bekreft", data=hidden_fields(checked.text))


async def _lookup(c: httpx.AsyncClient, mint, supplier: str) -> dict:
    token = mint("krr:global/kontaktinformasjon.read", consumer=CONSUMER, supplier=supplier)
    r = await c.post("/graphql", json={"query": LOOKUP},
                     headers={"Authorization": f"Bearer {token}"})
    return r.json()


async def test_one_organisation_goes_straight_to_its_overview(web):
    await log_in(web, PID)
    r = await web.get("/admin")
    assert r.status_code == 303 and r.headers["location"] == PAGE
    page = await web.get(PAGE)
    assert page.status_code == 200 and '<html lang="nb">' in page.text
    assert "Gi tilgang til nytt API" in page.text


async def test_several_organisations_get_a_chooser(web):
    await roller.legg_til(DIGDIR, PID, "test", FIXED_NOW)
    await log_in(web, PID)
    r = await web.get("/admin")
    assert r.status_code == 200 and "Velg virksomhet" in r.text
    assert f'href="/admin/organisasjon/{DIGDIR}"' in r.text and f'"{PAGE}"' in r.text


async def test_a_person_who_manages_nothing_is_told_how_to_get_the_role(web):
    await log_in(web, NOBODY)
    r = await web.get("/admin")
    assert r.status_code == 200 and "ikke tilgangsstyrer" in r.text
    other = await web.get(PAGE)
    assert other.status_code == 403 and "Du har ikke tilgang til denne virksomheten" in other.text
    assert 'lang="nb"' in other.text and "Traceback" not in other.text


async def test_grant_then_the_vendor_is_served_revoke_then_refused(web, mint):
    await log_in(web, PID)
    refused = await _lookup(web, mint, POSTEN)
    assert refused["errors"][0]["extensions"]["reason"] == "MANGLER_DELEGERING"

    done = await _grant_via_page(web)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?melding=gitt"
    [d] = await Delegering.filter(fra=CONSUMER, til=POSTEN)
    assert d.opprettet_av == PID and d.trukket_tilbake is None  # the person is the actor
    overview = await web.get(done.headers["location"])
    assert "Tilgangen er gitt" in overview.text and "Aktiv" in overview.text
    served = await _lookup(web, mint, POSTEN)
    assert "errors" not in served and served["data"]["personer"]

    confirm = await web.get(f"{PAGE}/trekk-tilbake/{d.id}")
    assert confirm.status_code == 200 and "Trekk tilbake tilgangen" in confirm.text
    r = await web.post(f"{PAGE}/trekk-tilbake/{d.id}", data=hidden_fields(confirm.text))
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?melding=trukket"
    await d.refresh_from_db()
    assert d.trukket_tilbake is not None and d.trukket_tilbake_av == PID
    after = await _lookup(web, mint, POSTEN)
    assert after["errors"][0]["extensions"]["reason"] == "MANGLER_DELEGERING"
    again = await web.post(f"{PAGE}/trekk-tilbake/{d.id}", data=hidden_fields(confirm.text))
    assert again.headers["location"] == f"{PAGE}?melding=allerede"


async def test_the_grant_checks_show_each_mistake_by_its_field(web):
    await log_in(web, PID)
    form = await web.get(f"{PAGE}/gi")
    csrf = csrf_of(form.text)
    r = await web.post(f"{PAGE}/gi", data={"csrf": csrf, "til": "123456789"})
    assert r.status_code == 400
    assert 'aria-invalid="true"' in r.text and 'id="til-feil"' in r.text
    assert 'id="ordning-feil"' in r.text and "Skjemaet har feil" in r.text
    unknown = await web.post(f"{PAGE}/gi", data={"csrf": csrf, "til": UNKNOWN,
                                                "ordning": SCHEME})
    assert unknown.status_code == 400 and "Fant ingen virksomhet" in unknown.text
    itself = await web.post(f"{PAGE}/gi", data={"csrf": csrf, "til": CONSUMER,
                                               "ordning": SCHEME})
    assert itself.status_code == 400 and "seg selv" in itself.text
    named = await web.post(f"{PAGE}/gi", data={"csrf": csrf, "til": "984 661 185",
                                              "ordning": SCHEME})
    assert named.status_code == 200 and "Posten" in named.text
    assert await Delegering.all().count() == 0  # nothing granted before the confirmation


@pytest.mark.parametrize("csrf", [None, "", "forged"])
async def test_a_form_without_the_session_token_is_refused(web, csrf):
    await log_in(web, PID)
    data = {"ordning": SCHEME, "til": POSTEN} | ({} if csrf is None else {"csrf": csrf})
    r = await web.post(f"{PAGE}/gi/bekreft", data=data)
    assert r.status_code == 403 and "Skjemaet ble avvist" in r.text
    assert await Delegering.all().count() == 0


async def test_a_form_from_another_site_is_refused(web):
    await log_in(web, PID)
    form = await web.get(f"{PAGE}/gi")
    r = await web.post(f"{PAGE}/gi/bekreft", headers={"Origin": "https://evil.example"},
                       data={"csrf": csrf_of(form.text), "ordning": SCHEME, "til": POSTEN})
    assert r.status_code == 403 and await Delegering.all().count() == 0


async def test_a_crafted_form_cannot_revoke_another_organisations_delegation(web):
    digdir = Principal(consumer=DIGDIR, scopes=frozenset({DELEGERING_WRITE}), issuer="t")
    theirs = await handlinger.gi_tilgang(digdir, POSTEN, SCHEME, FIXED_NOW)
    await log_in(web, PID)
    page = await web.get(PAGE)
    csrf = csrf_of(page.text)
    for path in (f"{PAGE}/trekk-tilbake/{theirs.id}",
                 f"/admin/organisasjon/{DIGDIR}/trekk-tilbake/{theirs.id}"):
        r = await web.post(path, data={"csrf": csrf})
        assert r.status_code in (403, 404) and "<h1>" in r.text, path
        assert (await web.get(path)).status_code in (403, 404)
    assert (await Delegering.get(id=theirs.id)).trukket_tilbake is None
    nonsense = await web.post(f"{PAGE}/trekk-tilbake/not-a-uuid", data={"csrf": csrf})
    assert nonsense.status_code == 404 and "Traceback" not in nonsense.text
    missing = await web.post(f"{PAGE}/trekk-tilbake/{uuid.uuid4()}", data={"csrf": csrf})
    assert missing.status_code == 404


async def test_a_removed_role_stops_working_at_once(web):
    await log_in(web, PID)
    assert (await web.get(PAGE)).status_code == 200
    await roller.fjern(CONSUMER, PID, "test", FIXED_NOW)
    assert (await web.get(PAGE)).status_code == 403


async def test_a_form_post_without_a_session_goes_to_the_login(web):
    r = await web.post(f"{PAGE}/gi/bekreft", data={"ordning": SCHEME, "til": POSTEN})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/logg-inn")


async def test_refusals_of_the_edge_are_pages(web):
    await log_in(web, PID)
    wrong_type = await web.post(f"{PAGE}/gi", content=b"{}",
                                headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"].startswith(
        "text/html")
    too_big = await web.post(f"{PAGE}/gi", content=b"x" * (2 * 1024 * 1024),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413 and "for stort" in too_big.text
    bad_bytes = await web.post(f"{PAGE}/gi", content=b"csrf=\xff\xfe",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad_bytes.status_code in (400, 403) and "text/html" in bad_bytes.headers[
        "content-type"]


async def test_every_page_has_the_strict_headers(web):
    await log_in(web, PID)
    for path in ("/admin/logget-ut", PAGE, f"{PAGE}/gi"):
        r = await web.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'none'" in csp, path
        assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-cache, no-store, max-age=0, must-revalidate"
        assert r.headers["pragma"] == "no-cache" and r.headers["expires"] == "0"
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_graphql_sees_the_page_s_grant_with_the_person_as_actor(web, mint):
    await log_in(web, PID)
    await _grant_via_page(web)
    token = mint(DELEGERING_WRITE, consumer=CONSUMER)
    r = await web.post("/graphql", json={"query": "{ delegeringer { gitt { opprettetAv til "
                                                  "{ orgnr } } } }"},
                       headers={"Authorization": f"Bearer {token}"})
    body = r.json()
    assert "errors" not in body, body
    assert body["data"]["delegeringer"]["gitt"][0]["opprettetAv"] == PID


async def test_the_pages_are_charged_to_the_person_s_rate_budget(db):
    """The pages pass the same edge as the API: a person who sends too much meets a 429 page
    with Retry-After."""
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    limiter = build_limiter(Limits(requests=Rate(0.01, 3), persons=Rate(1, 1)), None)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False, limiter=limiter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        await log_in(c, PID)
        answers = [await c.get(PAGE) for _ in range(5)]
    limited = answers[-1]
    assert limited.status_code == 429 and "For mange forespørsler" in limited.text
    assert int(limited.headers["retry-after"]) >= 1


# --- issue 23.13: bidirectional formatting characters in organisation names -------------------

IMPORTERT = "810000007"  # valid numbers (mod 11) no other test names
LAGRET_FOER = "810000015"


@pytest.fixture
async def navnene_tilbake(db: Settings) -> AsyncIterator[None]:
    """The names of CONSUMER and the two new numbers as they were, after the test."""
    conn, orgnrs = database.connection(), [CONSUMER, IMPORTERT, LAGRET_FOER]
    sql = database.Sql()
    _, foer = await conn.execute_query(
        f"SELECT orgnr, navn FROM organisasjon WHERE {sql.inn('orgnr', orgnrs)}", sql.verdier)
    yield
    sql = database.Sql()
    await conn.execute_query(f"DELETE FROM organisasjon WHERE {sql.inn('orgnr', orgnrs)}",
                             sql.verdier)
    for rad in foer:
        await _lagre_som_foer(rad["orgnr"], rad["navn"])


async def _lagre_som_foer(orgnr: str, navn: str) -> None:
    """A name as an import before this one could have stored it, controls and all."""
    sql = database.Sql()
    await database.connection().execute_query(
        f"INSERT INTO organisasjon (orgnr, navn) VALUES ({sql(orgnr)}, {sql(navn)}) "
        f"ON CONFLICT (orgnr) DO UPDATE SET navn = excluded.navn", sql.verdier)


async def test_bidi_controls_in_an_imported_name_are_stripped_and_isolated_on_the_confirm_page(
    web, mint, navnene_tilbake
):
    """The attack: a unit named with U+202E (and isolates, marks) in the bulk file was stored
    and shown as it came, on the page that asks the access manager to confirm whom they give
    access: "Fjell<U+202E>knab SA" reads as another organisation, and an override left open
    turns the organisation number beside it around too."""
    fil = json.dumps([{"organisasjonsnummer": IMPORTERT,
                       "navn": "\u200fFjell\u202eknab\u202c \u2066Holding\u2069 AS\u061c"}])
    resultat = await importer(io.BytesIO(fil.encode()), lambda _: None)
    assert resultat.lagret == 1
    sql = database.Sql()
    _, [rad] = await database.connection().execute_query(
        f"SELECT navn FROM organisasjon WHERE orgnr = {sql(IMPORTERT)}", sql.verdier)
    assert rad["navn"] == "Fjellknab Holding AS"
    await _lagre_som_foer(LAGRET_FOER, "Gammel\u202e SA\u2067")  # stored before this fix

    await log_in(web, PID)
    for til, vist in ((IMPORTERT, "Fjellknab Holding AS"), (LAGRET_FOER, "Gammel SA")):
        form = await web.get(f"{PAGE}/gi")
        bekreft = await web.post(f"{PAGE}/gi", data={"csrf": csrf_of(form.text),
                                                     "ordning": SCHEME, "til": til})
        assert bekreft.status_code == 200, bekreft.text
        assert f"<dt>Gis til</dt><dd><bdi>{vist}</bdi> (org.nr. {til})</dd>" in bekreft.text
        assert not set(BIDI_CONTROLS) & set(bekreft.text)
    gitt = await web.post(f"{PAGE}/gi/bekreft", data=hidden_fields(bekreft.text))
    oversikt = await web.get(gitt.headers["location"])
    assert "<td><bdi>Gammel SA</bdi><br>" in oversikt.text  # the receiver, in the table
    assert not set(BIDI_CONTROLS) & set(oversikt.text.replace(f"{FSI}", "").replace(PDI, ""))

    token = mint(DELEGERING_WRITE, consumer=CONSUMER)
    r = await web.post("/graphql", json={"query": "{ delegeringer { gitt { til { navn } } } }"},
                       headers={"Authorization": f"Bearer {token}"})
    assert r.json()["data"]["delegeringer"]["gitt"] == [{"til": {"navn": "Gammel SA"}}]


async def test_a_stored_name_with_bidi_controls_is_isolated_in_the_page_title_and_heading(
    web, navnene_tilbake
):
    """The organisation's own name, stored with an override before the importer stripped
    them: the heading holds it in <bdi>, the title (plain text) between U+2068 and U+2069."""
    await _lagre_som_foer(CONSUMER, "\u202eNAV\u202d kontor")
    await log_in(web, PID)
    side_ = await web.get(PAGE)
    assert side_.status_code == 200
    assert f"<title>Tilganger for {FSI}NAV kontor{PDI} – " in side_.text
    assert "<h1><bdi>NAV kontor</bdi> <span" in side_.text
    assert "\u202e" not in side_.text and "\u202d" not in side_.text
