"""The pages' three languages (app.sider.sprak): the catalogues complete and in step with the
code, no bare Norwegian in a template, Accept-Language, the chooser's cookie and its refusal to
lead anywhere but this service, and every state of /admin (and its login) in bokmål, nynorsk
and English."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import AsyncIterator
from configparser import ConfigParser
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import PoFileError, read_po
from jinja2 import Environment, nodes
from starlette.requests import Request

from app.config import Settings
from app.delegering import handlinger
from app.delegering.models import Delegering
from app.edge.app import create_app
from app.faults import Answer
from app.sider import sprak
from app.tilgangsstyrere import store as roller
from app.tilgangsstyring.inngang import feilside_for
from authz.avslag import IKKE_TILGANGSSTYRER
from authz.principal import Principal
from authz.scopes import DELEGERING_WRITE
from tests.admin import choose_person, csrf_of, hidden_fields, log_in, to_provider
from tests.conftest import CONSUMER, FIXED_NOW
from tests.test_delegations import SCHEME

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
PID = "17912099997"  # manages CONSUMER
NOBODY = "24907999374"  # manages nothing
POSTEN = "984661185"
DIGDIR = "991825827"
PAGE = f"/admin/organisasjon/{CONSUMER}"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def catalogue(kode: str):
    with (sprak.KATALOGER / kode / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=kode)


# --- the catalogues -------------------------------------------------------------------------

@pytest.mark.parametrize("kode", ["nn", "en"])
def test_every_string_is_translated_with_the_same_placeholders(kode):
    source = {m.id: m for m in catalogue("nb") if m.id}
    translated = {m.id: m for m in catalogue(kode) if m.id}
    assert source, "the bokmål catalogue is empty"
    assert set(translated) == set(source), "run `make sprak`"
    for msgid, message in translated.items():
        assert message.string, f"{kode}: no translation of {msgid!r}"
        assert not message.fuzzy, f"{kode}: {msgid!r} is fuzzy (check it, drop the flag)"
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(msgid)), (
            f"{kode}: the placeholders of {msgid!r} differ")
        assert TAG.findall(message.string) == TAG.findall(msgid), f"{kode}: tags of {msgid!r}"


def test_bokmaal_is_the_source_and_holds_every_marked_string():
    """The catalogues in step with the code and the templates, extracted as `make sprak` does
    (babel.cfg): a string marked but never extracted would show in bokmål whatever the
    choice."""
    config = ConfigParser()
    config.read(ROOT / "babel.cfg")
    method_map = [(section.split(":", 1)[1].strip(), section.split(":", 1)[0])
                  for section in config.sections()]
    options = {pattern: dict(config[f"{method}: {pattern}"]) for pattern, method in method_map}
    marked = {message for _, _, message, _, _ in extract_from_dir(
        str(APP), method_map=method_map, options_map=options)}
    source = {m.id for m in catalogue("nb") if m.id}
    assert marked == source, (f"not in the catalogues: {sorted(marked - source)}; no longer "
                              f"marked: {sorted(source - marked)} (run `make sprak`)")
    assert all(not m.string for m in catalogue("nb") if m.id)  # the msgid is the text


def _templates() -> list[Path]:
    return sorted(p for p in APP.glob("**/maler/*.html"))


I18N = Environment(extensions=["jinja2.ext.i18n"])
GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
WORD = re.compile(r"[^\W\d_]{2,}")


def _outside_trans(source: str) -> list[str]:
    """Words a reader would see that the template writes itself instead of taking them from
    the catalogue: in text between tags or in an attribute a reader hears or sees
    (aria-label, title, alt, placeholder), outside {% trans %}; and literals printed as they
    are (`{{ "Høyt" }}`) rather than through `_()`."""
    skjelett, trans = [], 0
    for _, kind, value in I18N.lex(source):
        if kind == "name" and value in ("trans", "pluralize"):
            trans += value == "trans"
        elif kind == "name" and value == "endtrans":
            trans -= 1
        elif kind == "data" and not trans:
            skjelett.append(value)
        elif kind in ("variable_begin", "block_begin"):
            skjelett.append("\x00")  # what Jinja puts there: no word of the template's own
    html = "".join(skjelett)
    bare = [w for a in re.findall(r'(?:aria-label|title|alt|placeholder)="([^"]*)"', html)
            for w in WORD.findall(a)]
    text = re.sub(r"<!DOCTYPE[^>]*>|<[^>]*>|&\w+;", " ", html)
    bare += WORD.findall(text)
    for output in I18N.parse(source).find_all(nodes.Output):
        for node in output.nodes:
            bare += _printed_literals(node)
    return bare


def _printed_literals(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and (
            node.node.name in GETTEXT):
        return []
    if isinstance(node, nodes.MarkSafeIfAutoescape):  # what {% trans %} becomes
        return []
    if isinstance(node, nodes.Const):
        return WORD.findall(node.value) if isinstance(node.value, str) else []
    if isinstance(node, nodes.CondExpr):
        return _printed_literals(node.expr1) + (
            _printed_literals(node.expr2) if node.expr2 else [])
    if isinstance(node, nodes.Filter) and node.node is not None:
        return _printed_literals(node.node)
    return []


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(APP)))
def test_no_words_outside_the_catalogue(template):
    assert _outside_trans(template.read_text(encoding="utf-8")) == []


def test_the_check_finds_bare_text():
    """The check above sees a word left outside {% trans %}, in text, in an attribute a
    reader hears, and in a literal printed as it is; not what goes through the catalogue."""
    source = ('<p class="a">Hei {{ navn }}</p>{% trans n=navn %}Logg inn {{ n }}{% endtrans %}'
              '<a href="/x/{{ y }}" title="Lukk vinduet">{{ _("Avbryt") }}</a>'
              '{{ "Betydelig" if x else _("Høyt") }}')
    assert _outside_trans(source) == ["Lukk", "vinduet", "Hei", "Betydelig"]


@pytest.mark.parametrize("damage", ["missing", "broken"])
def test_a_missing_or_broken_catalogue_stops_the_start(db, tmp_path, monkeypatch, damage):
    catalogues = tmp_path / "sprak"
    shutil.copytree(sprak.KATALOGER, catalogues)
    po = catalogues / "nn" / "LC_MESSAGES" / "messages.po"
    if damage == "missing":
        po.unlink()
    else:
        po.write_text(po.read_text(encoding="utf-8") + "\nan edit gone wrong\n",
                      encoding="utf-8")
    monkeypatch.setattr(sprak, "KATALOGER", catalogues)
    sprak.oversettelser.cache_clear()
    try:
        with pytest.raises((OSError, PoFileError)):
            create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    finally:
        sprak.oversettelser.cache_clear()


# --- the language of a request --------------------------------------------------------------

@pytest.mark.parametrize(("header", "expected"), [
    ("nn-NO,nn;q=0.9,en;q=0.8", "nn"),
    ("en-GB,en;q=0.9", "en"),
    ("nb-NO,nb;q=0.9", "nb"),
    ("no", "nb"),
    ("de-DE,de;q=0.9,en;q=0.5", "en"),
    ("en;q=0.5, nn;q=0.8", "nn"),
    ("nn;q=0, en", "en"),
    ("fr, de", None),
    ("", None),
    (None, None),
    ("en;q=abc, nb", "nb"),
    ("*", None),
])
def test_accept_language(header, expected):
    assert sprak.fra_accept_language(header) == expected


@pytest.mark.parametrize("tilbake", [
    "https://evil.example/", "//evil.example/admin", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "http:/admin", "/admin\r\nSet-Cookie: x=1",
    "/admin\t", "", None, "/" + "a" * 3000,
])
def test_the_way_back_is_a_path_on_this_service(tilbake):
    assert sprak.trygg_tilbake(tilbake) == sprak.STARTSIDE


@pytest.mark.parametrize("tilbake", ["/admin", f"{PAGE}?melding=gitt", "/dev/oidc/authorize?a=b"])
def test_a_path_of_this_service_is_the_way_back(tilbake):
    assert sprak.trygg_tilbake(tilbake) == tilbake


# --- the chooser over HTTP ------------------------------------------------------------------

@pytest.fixture
async def web(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await roller.legg_til(CONSUMER, PID, "test", FIXED_NOW)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


def _cookie(r: httpx.Response) -> dict[str, str]:
    [cookie] = [v for v in r.headers.get_list("set-cookie") if v.startswith("krr_sprak=")]
    return {a.strip().split("=")[0].lower(): a.strip().partition("=")[2]
            for a in cookie.split(";")}


async def test_the_chooser_sets_the_cookie_and_goes_back(web):
    r = await web.get("/sprak/nn", params={"tilbake": f"{PAGE}?melding=gitt"})
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?melding=gitt"
    attrs = _cookie(r)
    assert attrs["krr_sprak"] == "nn" and attrs["path"] == "/"
    assert attrs["samesite"].lower() == "lax" and "httponly" in attrs
    assert attrs["max-age"] == str(365 * 24 * 3600)
    assert "secure" not in attrs  # plain http outside prod


@pytest.mark.parametrize("tilbake", ["https://evil.example/admin", "//evil.example/admin",
                                     "/\\evil.example/admin"])
async def test_the_chooser_leads_nowhere_else(web, tilbake):
    r = await web.get("/sprak/en", params={"tilbake": tilbake})
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert _cookie(r)["krr_sprak"] == "en"


async def test_an_unknown_language_changes_nothing(web):
    r = await web.get("/sprak/de", params={"tilbake": "/admin"})
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert "krr_sprak" not in r.headers.get("set-cookie", "")


async def test_in_prod_the_cookie_is_secure(db, tmp_path):
    app = create_app(Settings(env="prod", database_url=db.database_url, var_dir=tmp_path),
                     clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        r = await c.get("/sprak/nn", params={"tilbake": "/admin"})
        assert "secure" in _cookie(r)
        c.cookies.set("krr_sprak", "nn", domain="krr.test")
        page = await c.get("/admin/logg-inn")
        assert page.status_code == 503 and '<html lang="nn">' in page.text
        assert "Innlogging er ikkje sett opp" in page.text


async def test_every_page_offers_the_chooser_leading_back_to_it(web):
    await log_in(web, PID)
    page = await web.get(f"{PAGE}?melding=gitt")
    for kode, navn in (("nb", "Bokmål"), ("nn", "Nynorsk"), ("en", "English")):
        link = (f'<a href="/sprak/{kode}?tilbake=%2Fadmin%2Forganisasjon%2F{CONSUMER}'
                f'%3Fmelding%3Dgitt" lang="{kode}" hreflang="{kode}"')
        assert link in page.text and f">{navn}</a>" in page.text
    r = await web.get(f"/sprak/en?tilbake=%2Fadmin%2Forganisasjon%2F{CONSUMER}"
                      "%3Fmelding%3Dgitt")
    again = await web.get(r.headers["location"])
    assert '<html lang="en">' in again.text and "The access is granted." in again.text


async def test_the_first_visit_follows_accept_language_and_the_choice_wins(web):
    form = await to_provider(web)  # the provider's page uses the layout too
    assert '<html lang="nb">' in form.text
    nn = await web.get("/admin/logget-ut", headers={"Accept-Language": "nn-NO,nn;q=0.9"})
    assert '<html lang="nn">' in nn.text and "Du er logga ut" in nn.text
    assert nn.headers["content-language"] == "nn"
    await web.get("/sprak/en", params={"tilbake": "/admin/logget-ut"})
    en = await web.get("/admin/logget-ut", headers={"Accept-Language": "nn-NO,nn;q=0.9"})
    assert '<html lang="en">' in en.text and "You are logged out" in en.text


async def test_the_choice_is_kept_across_the_login(web):
    await web.get("/sprak/nn", params={"tilbake": "/admin"})
    r = await web.get("/admin")
    r = await web.get(r.headers["location"])  # to the provider, asked in nynorsk
    assert "ui_locales=nn" in r.headers["location"]
    form = await web.get(r.headers["location"])
    assert '<html lang="nn">' in form.text and "Tryggingsnivå" in form.text
    done = await choose_person(web, form, PID)
    assert done.headers["location"] == "/admin"
    page = await web.get(PAGE)
    assert '<html lang="nn">' in page.text and "Tilgangar verksemda har gitt" in page.text


# --- every state of /admin in every language ------------------------------------------------

# A string each state shows, per language (bokmål is the existing tests' own).
STATES = {
    "oversikt": {"nb": "Tilganger virksomheten har gitt", "nn": "Tilgangar verksemda har gitt",
                 "en": "Access the organisation has granted"},
    "melding": {"nb": "Tilgangen er gitt.", "nn": "Tilgangen er gitt. Mottakaren",
                "en": "The access is granted."},
    "trukket": {"nb": "Trukket tilbake 15.06.2026 kl. 14:00",
                "nn": "Trekt tilbake 15.06.2026 kl. 14:00", "en": "Revoked 15.06.2026 at 14:00"},
    "velg": {"nb": "Velg virksomhet", "nn": "Vel verksemd", "en": "Choose organisation"},
    "gi": {"nb": "Mottakerens organisasjonsnummer", "nn": "Organisasjonsnummeret til mottakaren",
           "en": "The receiver's organisation number"},
    "gi-feil": {"nb": "Organisasjonsnummeret må være 9 siffer",
                "nn": "Organisasjonsnummeret må vere 9 siffer",
                "en": "The organisation number must be 9 digits"},
    "gi-ukjent": {"nb": "Fant ingen virksomhet med organisasjonsnummer 911111101",
                  "nn": "Fann inga verksemd med organisasjonsnummer 911111101",
                  "en": "No organisation with organisation number 911111101"},
    "bekreft": {"nb": "Kontroller at dette er riktig", "nn": "Kontroller at dette er rett",
                "en": "Check that this is right"},
    "trekk-tilbake": {"nb": "Historikken beholdes.", "nn": "Historikken blir teken vare på.",
                      "en": "The history is kept."},
    "ikke-tilgang": {"nb": "Du har ikke tilgang til denne virksomheten",
                     "nn": "Du har ikkje tilgang til denne verksemda",
                     "en": "You have no access to this organisation"},
    "ingen": {"nb": "Slik får du rollen", "nn": "Slik får du rolla", "en": "How to get the role"},
    "finnes-ikke": {"nb": "Fant ikke siden", "nn": "Fann ikkje sida", "en": "Page not found"},
    "csrf": {"nb": "Skjemaet ble avvist", "nn": "Skjemaet vart avvist",
             "en": "The form was refused"},
    "logget-ut": {"nb": "Du er logget ut", "nn": "Du er logga ut", "en": "You are logged out"},
    "avbrutt": {"nb": "Du avbrøt innloggingen.", "nn": "Du avbraut innlogginga.",
                "en": "You cancelled the login."},
}
# Words of the layout every page shows, per language.
LAYOUT = {"nb": "Hopp til hovedinnholdet", "nn": "Hopp til hovudinnhaldet",
          "en": "Skip to main content"}


async def _states(c: httpx.AsyncClient) -> dict[str, httpx.Response]:
    """Every state of the pages, as the client's language shows them."""
    pages: dict[str, httpx.Response] = {}
    await roller.legg_til(DIGDIR, PID, "test", FIXED_NOW)
    org = Principal(consumer=CONSUMER, scopes=frozenset({DELEGERING_WRITE}), issuer="t")
    d = await handlinger.gi_tilgang(org, POSTEN, SCHEME, FIXED_NOW)
    gone = await handlinger.gi_tilgang(org, DIGDIR, SCHEME, FIXED_NOW)
    await handlinger.trekk_tilbake_tilgang(org, gone.id, FIXED_NOW)
    pages["oversikt"] = pages["trukket"] = await c.get(PAGE)
    pages["melding"] = await c.get(f"{PAGE}?melding=gitt")
    pages["velg"] = await c.get("/admin")
    pages["gi"] = form = await c.get(f"{PAGE}/gi")
    csrf = csrf_of(form.text)
    pages["gi-feil"] = await c.post(f"{PAGE}/gi", data={"csrf": csrf, "til": "123"})
    pages["gi-ukjent"] = await c.post(f"{PAGE}/gi", data={"csrf": csrf, "ordning": SCHEME,
                                                          "til": "911111101"})
    pages["bekreft"] = await c.post(f"{PAGE}/gi", data={"csrf": csrf, "ordning": SCHEME,
                                                        "til": POSTEN})
    assert hidden_fields(pages["bekreft"].text)["til"] == POSTEN
    pages["trekk-tilbake"] = await c.get(f"{PAGE}/trekk-tilbake/{d.id}")
    pages["ikke-tilgang"] = await c.get("/admin/organisasjon/974761076")
    pages["finnes-ikke"] = await c.get("/admin/finnes-ikke")
    pages["csrf"] = await c.post(f"{PAGE}/gi", data={"csrf": "feil", "til": POSTEN})
    pages["logget-ut"] = await c.get("/admin/logget-ut")
    return pages


@pytest.mark.parametrize("kode", ["nb", "nn", "en"])
async def test_every_state_in_every_language(web, kode):
    if kode != "nb":
        await web.get(f"/sprak/{kode}", params={"tilbake": "/admin"})
    await log_in(web, PID)
    pages = await _states(web)
    web.cookies.clear()  # another person, in the same language
    web.cookies.set("krr_sprak", kode, domain="krr.test")
    await log_in(web, NOBODY)
    pages["ingen"] = await web.get("/admin")
    pages["avbrutt"] = await _cancelled(web)
    assert await Delegering.filter(fra=CONSUMER).count() == 2
    for state, text in STATES.items():
        page = pages[state]
        assert f'<html lang="{kode}">' in page.text, state
        assert text[kode] in page.text, (state, kode)
        assert LAYOUT[kode] in page.text, state
        others = [text[o] for o in ("nb", "nn", "en") if text[o] not in text[kode]]
        assert not any(o in page.text for o in others), (state, kode, others)


async def _cancelled(c: httpx.AsyncClient) -> httpx.Response:
    """The provider's form answered with "Avbryt": the service's page saying so."""
    if "krr_okt" in c.cookies:  # logged out, as one who begins a login is
        c.cookies.delete("krr_okt", domain="krr.test", path="/admin")
    form = await to_provider(c)
    r = await c.post("/dev/oidc/authorize", data={**hidden_fields(form.text), "avbryt": "1"})
    return await c.get(r.headers["location"])


# --- the key figures' page ------------------------------------------------------------------

@pytest.mark.parametrize(("kode", "heading", "age"), [
    ("nb", "Nøkkeltall for Kontakt- og reservasjonsregisteret", "90+ år"),
    ("nn", "Nøkkeltal for Kontakt- og reservasjonsregisteret", "90+ år"),
    ("en", "Key figures for the Contact and Reservation Register", "90+ years"),
])
async def test_the_key_figures_in_every_language(web, kode, heading, age):
    web.cookies.set("krr_sprak", kode, domain="krr.test")
    r = await web.get("/statistikk", headers={"Accept-Language": "nn"})
    assert r.status_code == 200 and f'<html lang="{kode}">' in r.text
    assert f"<h1>{heading}</h1>" in r.text and f">{age}</th>" in r.text
    assert r.headers["content-language"] == kode
    # Kept by caches, one copy per language.
    assert "public" in r.headers["cache-control"]
    assert set(r.headers["vary"].replace(" ", "").split(",")) >= {"Accept-Language", "Cookie"}
    assert (f'<a href="/sprak/{kode}?tilbake=%2Fstatistikk" lang="{kode}" hreflang="{kode}" '
            'aria-current="true">') in r.text


# --- every refusal as a page, in every language ---------------------------------------------

REFUSALS = [
    Answer(403, "x", {"code": "FORBIDDEN", "reason": IKKE_TILGANGSSTYRER}),
    Answer(403, "x", {"code": "FORBIDDEN"}),
    Answer(403, "x", {"code": "FORBIDDEN", "reason": "MANGLER_SCOPE"}),
    Answer(404, "x", {"code": "NOT_FOUND"}),
    Answer(408, "x", {"code": "REQUEST_TIMEOUT"}),
    Answer(413, "x", {"code": "PAYLOAD_TOO_LARGE"}),
    Answer(429, "x", {"code": "RATE_LIMITED"}, {"Retry-After": "1"}),
    Answer(500, "x", {"code": "INTERNAL_SERVER_ERROR", "request_id": "abc123"}),
    Answer(500, "x", {"code": "INTERNAL_SERVER_ERROR"}),
    Answer(503, "x", {"code": "SERVICE_UNAVAILABLE"}),
    Answer(400, "x", {"code": "BAD_USER_INPUT"}),
]


def _request(kode: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/admin/x", "root_path": "",
                    "scheme": "http", "server": ("krr.test", 80), "query_string": b"",
                    "headers": [(b"cookie", f"krr_sprak={kode}".encode())], "state": {}})


def _main(page: str) -> str:
    return page.split('<main id="hovedinnhold"', 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("answer", REFUSALS, ids=lambda a: f"{a.status}-{a.extensions}")
def test_every_refusal_is_a_page_in_every_language(answer):
    pages = {kode: feilside_for(_request(kode), answer) for kode in sprak.SPRAAK}
    for kode, page in pages.items():
        html = bytes(page.body).decode()
        assert page.status_code == answer.status and f'<html lang="{kode}">' in html
        assert LAYOUT[kode] in html
    texts = {kode: _main(bytes(p.body).decode()) for kode, p in pages.items()}
    assert len(set(texts.values())) == 3, texts  # each language its own words
    if answer.extensions.get("request_id"):
        assert all("abc123" in t for t in texts.values())


# --- where the chooser leads back to from a page that has no address of its own -------------

CHOOSER = re.compile(r'<a href="(/sprak/nn\?tilbake=[^"]*)" lang="nn"')


def _back(page: httpx.Response) -> str:
    [href] = CHOOSER.findall(page.text)
    return html.unescape(href)


async def test_from_a_form_post_the_chooser_leads_to_a_page_that_shows_it_again(web):
    await log_in(web, PID)
    form = await web.get(f"{PAGE}/gi")
    mistakes = await web.post(f"{PAGE}/gi", data={"csrf": csrf_of(form.text), "til": "1"})
    assert mistakes.status_code == 400
    r = await web.get(_back(mistakes))
    assert r.headers["location"] == f"{PAGE}/gi"
    again = await web.get(r.headers["location"])
    assert again.status_code == 200 and "Organisasjonsnummeret til mottakaren" in again.text
    refused = await web.post(f"{PAGE}/gi/bekreft", data={"csrf": "feil", "til": POSTEN})
    assert refused.status_code == 403
    assert (await web.get(_back(refused))).headers["location"] == "/admin"


async def test_from_the_providers_form_with_a_mistake_the_chooser_leads_to_the_form(web):
    form = await to_provider(web)
    wrong = await web.post("/dev/oidc/authorize", data={**hidden_fields(form.text),
                                                        "pid": "123", "logg_inn": "1"})
    assert wrong.status_code == 400
    r = await web.get(_back(wrong))
    assert r.headers["location"].startswith("/dev/oidc/authorize?")
    again = await web.get(r.headers["location"])
    assert again.status_code == 200 and '<html lang="nn">' in again.text
    assert hidden_fields(again.text)["state"] == hidden_fields(form.text)["state"]
    assert "123" not in r.headers["location"]  # what was typed is not put in an address


async def test_from_a_failed_login_the_chooser_leads_to_the_start_not_the_used_callback(web):
    failed = await _cancelled(web)
    assert failed.status_code == 400
    assert (await web.get(_back(failed))).headers["location"] == "/admin"
