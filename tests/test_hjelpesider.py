"""The help, contact and accessibility statement pages (app.hjelp) and the footer every page
has that leads to them: public, in three languages, the operator's contact from the
configuration, the duplicate warnings' help at /hjelp#duplikat naming no one."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Kontakt, Settings
from app.edge.app import create_app
from app.tilgangsstyrere import store as roller
from tests.admin import log_in, to_provider
from tests.conftest import CONSUMER, FIXED_NOW

PID = "17912099997"
SIDER = ("/hjelp", "/kontakt", "/tilgjengelighet")
OVERSKRIFT = {
    "/hjelp": {"nb": "Hjelp", "nn": "Hjelp", "en": "Help"},
    "/kontakt": {"nb": "Kontakt oss", "nn": "Kontakt oss", "en": "Contact us"},
    "/tilgjengelighet": {"nb": "Tilgjengelighetserklæring", "nn": "Tilgjengelegheitserklæring",
                         "en": "Accessibility statement"},
}
# A sentence only that page has, in each language.
KJENT = {
    "/hjelp": {"nb": "Vi forteller aldri hvem andre som har registrert",
               "nn": "Vi fortel aldri kven andre som har registrert",
               "en": "We never tell you who else has registered"},
    "/kontakt": {"nb": "Vi spør aldri om passord eller koder.",
                 "nn": "Vi spør aldri om passord eller kodar.",
                 "en": "We never ask for passwords or codes."},
    "/tilgjengelighet": {"nb": "Tilsyn og klage", "nn": "Tilsyn og klage",
                         "en": "Supervision and complaints"},
}
BUNN = {"nb": ("Hjelp", "Kontakt oss", "Tilgjengelighetserklæring"),
        "nn": ("Hjelp", "Kontakt oss", "Tilgjengelegheitserklæring"),
        "en": ("Help", "Contact us", "Accessibility statement")}
FOOTER = re.compile(r"<footer\b.*?</footer>", re.S)
# The seed's text on duplicate contact information (seed 004), word for word.
SEED = ("Kontaktinformasjonen som blir registrert, er den informasjonen det offentlige vil bruke "
        "dersom du skal bli varslet om noe. Dersom det er bevisst at kontaktinformasjonen blir "
        "registrert på mer enn én person, må du være klar over at varsel fra det offentlige "
        "ikke alltid vil nå den det er tiltenkt.")


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


@pytest.fixture
async def web(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(db):
        yield c


def footer_links(page: str) -> list[tuple[str, str]]:
    """(href, text) of the footer's links; the footer must be one <footer> landmark."""
    [footer] = FOOTER.findall(page)
    assert '<nav class="bunnlenker" aria-label=' in footer
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', footer)


def has_footer(page: str, kode: str = "nb") -> None:
    assert footer_links(page) == list(zip(SIDER, BUNN[kode], strict=True))


@pytest.mark.parametrize("kode", ["nb", "nn", "en"])
@pytest.mark.parametrize("path", SIDER)
async def test_each_page_in_each_language_without_login(web, path, kode):
    web.cookies.set("krr_sprak", kode, domain="krr.test")
    r = await web.get(path)
    assert r.status_code == 200
    assert f'<html lang="{kode}">' in r.text and r.headers["content-language"] == kode
    assert f"<h1>{OVERSKRIFT[path][kode]}</h1>" in r.text
    assert KJENT[path][kode] in r.text
    others = [KJENT[path][o] for o in ("nb", "nn", "en") if KJENT[path][o] != KJENT[path][kode]]
    assert not any(o in r.text for o in others)
    has_footer(r.text, kode)
    assert f'<a href="{path}" aria-current="page">' in r.text  # the footer says where one is
    assert f"/sprak/nn?tilbake=%2F{path[1:]}" in r.text  # the chooser leads back here
    assert "krr_okt" not in r.headers.get("set-cookie", "")


async def test_the_first_visit_follows_accept_language(web):
    r = await web.get("/tilgjengelighet", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text and "<h1>Accessibility statement</h1>" in r.text


@pytest.mark.parametrize("path", SIDER)
async def test_pages_are_never_kept_nor_compressed_and_run_no_script(web, path):
    r = await web.get(path, headers={"Accept-Encoding": "br, gzip"})
    assert "no-store" in r.headers["cache-control"]
    assert "content-encoding" not in r.headers
    csp = r.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in r.text


async def test_the_duplicate_warnings_help_has_the_seeds_text_and_names_no_one(web):
    r = await web.get("/hjelp")
    assert '<h2 id="duplikat" tabindex="-1">Duplikat kontaktinformasjon</h2>' in r.text
    assert "«Dette mobilnummeret er registrert på andre»" in r.text
    assert "«Denne e-postadressen er registrert på andre»" in r.text
    assert ("Mobilnummeret og/eller e-postadressen du forsøker å registrere, er også "
            "registrert på andre personer i Kontakt- og reservasjonsregisteret.") in r.text
    assert SEED in r.text
    assert '<a href="#duplikat">' in r.text
    assert not re.search(r"\d{11}", r.text)  # no national id, no one's number


async def test_the_statement_has_what_uu_tilsynet_asks_for(web):
    r = await web.get("/tilgjengelighet")
    for part in ("WCAG 2.1 på nivå A og AA", "uu-forskriften", "axe-core", "bare tastatur",
                 "360 piksler", "200 % zoom", "Kjente mangler", "Meld fra om feil og mangler",
                 "Digitaliseringsdirektoratet (Digdir)", 'href="https://www.uutilsynet.no/"',
                 "Erklæringen ble sist gjennomgått 08.12.2026."):
        assert part in r.text, part


@pytest.mark.parametrize("path", SIDER)
async def test_the_contact_is_the_configured_one(db, path):
    kontakt = Kontakt(epost="uu@drift.example.org", url="https://drift.example.org/skjema")
    async for c in _client(dataclasses.replace(db, kontakt=kontakt)):
        r = await c.get(path)
        assert '<a href="mailto:uu@drift.example.org">uu@drift.example.org</a>' in r.text
        assert '<a href="https://drift.example.org/skjema">' in r.text
        assert "example.org/kontakt" not in r.text  # the default is not the configured one


async def test_without_a_contact_the_pages_say_so(db):
    """In prod KRR_KONTAKT_* may be unset: the pages say no contact is given, never an
    example address; the statement still leads to uu-tilsynet."""
    async for c in _client(dataclasses.replace(db, env="prod", kontakt=Kontakt())):
        for path in SIDER:
            r = await c.get(path)
            assert "har ikke oppgitt en" in r.text and "mailto:" not in r.text, path
        r = await c.get("/tilgjengelighet")
        assert 'href="https://www.uutilsynet.no/"' in r.text


async def test_the_footer_is_on_every_kind_of_page(web):
    """/admin's pages, the login, an error page, /statistikk and the new pages."""
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    form = await to_provider(web)
    has_footer(form.text)  # the development provider's login form
    await log_in(web, PID)
    for path in ("/admin", f"/admin/organisasjon/{CONSUMER}",
                 f"/admin/organisasjon/{CONSUMER}/gi", "/admin/finnes-ikke"):
        r = await web.get(path, follow_redirects=True)
        has_footer(r.text)
    web.cookies.set("krr_sprak", "nn", domain="krr.test")
    r = await web.get("/statistikk")
    assert r.status_code == 200
    has_footer(r.text, "nn")
    assert '<footer><nav class="bunnlenker" aria-label="Hjelp og kontakt">' in r.text
    r = await web.get("/admin/logget-ut")
    has_footer(r.text, "nn")


def test_prod_without_a_contact_warns_at_the_start(db, caplog):
    with caplog.at_level(logging.WARNING, logger="krr.edge"):
        create_app(dataclasses.replace(db, env="prod", kontakt=Kontakt()), manage_db=False)
        assert "KRR_KONTAKT_EPOST" in caplog.text
        caplog.clear()
        create_app(dataclasses.replace(db, env="prod", kontakt=Kontakt(url="https://k.no/k")),
                   manage_db=False)
        assert "KRR_KONTAKT" not in caplog.text
