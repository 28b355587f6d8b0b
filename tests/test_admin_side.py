"""The access managers' page (/admin) in a real browser: `krr serve` on its own register (a
SQLite file, or a fresh PostgreSQL database on the server of KRR_TEST_DATABASE_URL), set up with
the krr command only, and driven by Debian's headless Chromium through Playwright for Python.

Each distinct page is saved as a screenshot in test-artifacts/admin/ and checked with axe-core
(no violation of impact serious or critical). The context bypasses the pages' Content Security
Policy, only so that axe-core can be injected; the pages themselves run no script.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sqlite3
import sys
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from authz.avslag import MANGLER_DELEGERING
from tests.nettleser import AXE, chromium
from tests.servers import krr_serving
from tests.servers import run_krr as krr

ROOT = Path(__file__).resolve().parent.parent
KRR = [sys.executable, "-m", "app.cli"]
ARTIFACTS = ROOT / "test-artifacts" / "admin"

BODY = "974760673"  # Registerenheten i Brønnøysund: the access manager's organisation
BODY_NAME = "Registerenheten i Brønnøysund"
VENDOR = "922020175"  # e-Boks AS: gets (and loses) the lookup through the page
VENDOR_NAME = "e-Boks AS"
BAD_CHECK_DIGIT = "922020176"  # VENDOR with a wrong check digit
KEYBOARD_VENDOR = "994598759"  # Norsk helsenett SF: granted with the keyboard only
KEYBOARD_VENDOR_NAME = "Norsk helsenett SF"
CSRF_VENDOR = "984661185"  # Posten Bring AS (Digipost): a grant without the CSRF token
OTHER_BODY = "974761076"  # Skatteetaten: another organisation, managed by nobody here
MANAGER = "17912099997"  # access manager of BODY
NOBODY = "31819198252"  # logs in, manages nothing
SCHEME = "krr-paa-vegne-av"
LOOKUP_SCOPES = "krr:global/kontaktinformasjon.read krr:global/digitalpost.read"
ADMIN_SCOPE = "krr:admin/delegering.write"
LOOKUP = ('query($ids: [String!]!) { personer(personidentifikatorer: $ids) '
          '{ personidentifikator status kontaktinformasjon { epostadresse } } }')
DELEGERING = "id aktiv fra { orgnr } til { orgnr } opprettetAv ordning { id }"
GRANT = (f"mutation($til: String!, $ordning: ID!) {{ delegerTilgang(til: $til, "
         f"ordning: $ordning) {{ {DELEGERING} }} }}")
LIST = f"{{ delegeringer {{ gitt {{ {DELEGERING} }} mottatt {{ {DELEGERING} }} }} }}"
AUTHORIZE = re.compile(r".*/dev/oidc/authorize\?.*")


# --- the register ---------------------------------------------------------------------------

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`coroutine` to its end on a thread of its own: Playwright's sync API keeps an event loop
    running on this one, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


class Register:
    """The server's database, for the few things the test reads or ages directly."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgres://", "postgresql://"))

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """`sql` with ? placeholders, on either backend."""
        if self.postgres:
            return run_async(self._pg(sql, *args))
        with sqlite3.connect(self.url.removeprefix("sqlite:///").removeprefix("sqlite://")) as c:
            return c.execute(sql, args).fetchall()

    async def _pg(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        n = iter(range(1, 100))
        sql = re.sub(r"\?", lambda _: f"${next(n)}", sql)
        conn = await asyncpg.connect(self.url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    def idle(self, pid: str, minutes: int) -> int:
        """Makes the person's sessions `minutes` older in use; returns how many there were."""
        if self.postgres:
            return len(self.rows(
                "UPDATE innlogging_okt SET sist_brukt = sist_brukt - make_interval(mins => ?)"
                " WHERE pid = ? RETURNING id", minutes, pid))
        rows = self.rows("SELECT id, sist_brukt FROM innlogging_okt WHERE pid = ?", pid)
        for id_, brukt in rows:  # stored as ISO 8601 text: written back the same way
            sep = "T" if "T" in brukt else " "
            aged = dt.datetime.fromisoformat(brukt) - dt.timedelta(minutes=minutes)
            self.rows("UPDATE innlogging_okt SET sist_brukt = ? WHERE id = ?",
                      aged.isoformat(sep), id_)
        return len(rows)


async def _pg_admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite file; with KRR_TEST_DATABASE_URL, a database of its own on that PostgreSQL
    (named per run, dropped after: the suite's own tests reset that one's schema)."""
    base = os.environ.get("KRR_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('admin') / 'admin.sqlite3'}"
        return
    name = f"krr_admin_side_{uuid.uuid4().hex[:12]}"
    try:
        run_async(_pg_admin(base, f"CREATE DATABASE {name}"))
    except OSError as exc:
        pytest.fail(f"no PostgreSQL at KRR_TEST_DATABASE_URL: {exc}")
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        run_async(_pg_admin(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return base | {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp_path_factory.mktemp("var")),
                   "KRR_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[str]:
    """The register set up with the krr command (persons, names, one access manager), then
    served; yields the base URL."""
    krr(env, "migrate")
    krr(env, "seed", "--persons", "20")
    krr(env, "organisasjoner", "importer", "app/enhetsregisteret/eksempel/enheter.json")
    krr(env, "tilgangsstyrer", "legg-til", BODY, MANAGER)
    with krr_serving(env) as base:
        yield base


@pytest.fixture(scope="module")
def register(database_url: str) -> Register:
    return Register(database_url)


# --- the browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as b:
        yield b


@pytest.fixture
def context(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A fresh browser (no cookies); the CSP is bypassed only to inject axe-core."""
    ctx = browser.new_context(base_url=server, bypass_csp=True, locale="nb-NO",
                              viewport={"width": 1100, "height": 900})
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.set_default_timeout(5000)
    return p


def shot(page: Page, name: str, *, check: bool = True, lang: str = "nb",
         artifacts: Path = ARTIFACTS) -> None:
    """A screenshot as test-artifacts/admin/`name`.png (or under `artifacts`) and, with
    `check`, axe-core's verdict: no violation of impact serious or critical. The page must say
    it is in `lang`."""
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert page.locator("html").get_attribute("lang") == lang
    if not check:
        return
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run()")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    for v in bad:
        print(f"{name}: {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            print(f"    {node['target']}: {node['failureSummary']}")
    assert not bad, f"{name}: axe-core found {[v['id'] for v in bad]} ({page.url})"


def log_in(page: Page, pid: str, name: str | None = None) -> None:
    """On the development provider's form: the person by national id, then Logg inn."""
    page.wait_for_url(AUTHORIZE)
    assert page.locator("h1").inner_text() == "Logg inn med testperson"
    if name:
        shot(page, name)
    page.fill("#pid", pid)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()


def csrf_of(page: Page) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return value


def given_rows(page: Page) -> list[list[str]]:
    """The rows of the table of delegations given, cell by cell."""
    return page.locator("#gitt tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")


# --- the API beside the page ----------------------------------------------------------------

def token(env: dict[str, str], scope: str, consumer: str, supplier: str | None = None) -> str:
    args = ["token", "--scope", scope, "--consumer", consumer, "--ttl", "600"]
    return krr(env, *args, *(["--supplier", supplier] if supplier else []))


def graphql(server: str, bearer: str, query: str, **variables: object) -> dict[str, Any]:
    response = httpx.post(f"{server}/graphql", json={"query": query, "variables": variables},
                          headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def delegations(server: str, bearer: str) -> dict[str, list[dict[str, Any]]]:
    body = graphql(server, bearer, LIST)
    assert "errors" not in body, body
    return body["data"]["delegeringer"]


def a_person(register: Register) -> str:
    [(pid,)] = register.rows(
        "SELECT personidentifikator FROM person WHERE status = 'AKTIV'"
        " ORDER BY personidentifikator LIMIT 1")
    return pid


# --- the tests ------------------------------------------------------------------------------

def test_grant_lookup_and_revoke(page: Page, server: str, env: dict[str, str],
                                 register: Register):
    # 1. Without a session /admin leads to the provider; after the login, the overview.
    page.goto("/admin")
    log_in(page, MANAGER, "01-innlogging")
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    assert BODY_NAME in page.locator("h1").inner_text()
    assert page.get_by_text("Virksomheten har ikke gitt noen tilganger.").is_visible()
    shot(page, "02-oversikt")

    # 2. The grant form: first a receiver with a bad check digit.
    page.get_by_role("link", name="Gi tilgang til nytt API").click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}/gi")
    assert page.locator("h1").inner_text() == "Gi tilgang til nytt API"
    shot(page, "03-gi-skjema")
    page.locator(f"input[name=ordning][value={SCHEME}]").check()
    page.fill("#til", BAD_CHECK_DIGIT)
    with page.expect_response(f"**/admin/organisasjon/{BODY}/gi") as answer:
        page.get_by_role("button", name="Fortsett").click()
    assert answer.value.status == 400
    field = page.locator("#til")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value() == BAD_CHECK_DIGIT
    message = page.locator("#til-feil").inner_text()
    assert "kontrollsiffer" in message
    assert "til-feil" in (field.get_attribute("aria-describedby") or "").split()
    summary = page.locator(".feiloppsummering")
    assert summary.get_attribute("role") == "alert"
    assert summary.get_by_role("link", name=message).get_attribute("href") == "#til"
    assert page.locator(f"input[name=ordning][value={SCHEME}]").is_checked()  # kept
    shot(page, "04-gi-skjema-med-feil")

    # ... then the right one: the receiver is named for the person to confirm.
    page.fill("#til", VENDOR)
    page.get_by_role("button", name="Fortsett").click()
    assert page.locator("h1").inner_text() == "Bekreft tilgangen"
    facts = page.locator("dl.fakta").inner_text()
    assert f"{VENDOR_NAME} (org.nr. {VENDOR})" in facts
    assert f"{BODY_NAME} (org.nr. {BODY})" in facts
    shot(page, "05-bekreft-gi")
    page.get_by_role("button", name="Gi tilgang").click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}?melding=gitt")
    assert "Tilgangen er gitt" in page.get_by_role("status").inner_text()
    [row] = given_rows(page)
    assert VENDOR_NAME in row[1] and VENDOR in row[1]
    assert row[3] == MANAGER  # the person, shown to their own organisation
    assert row[4] == "Aktiv"
    shot(page, "06-oversikt-gitt")
    # The vendor sees it as given by the organisation (the person's id is not theirs to see).
    [received] = [d for d in delegations(server, token(env, ADMIN_SCOPE, VENDOR))["mottatt"]
                  if d["aktiv"]]
    assert (received["fra"]["orgnr"], received["opprettetAv"]) == (BODY, BODY)
    assert received["ordning"]["id"] == SCHEME

    # 3. The vendor's lookup on behalf of the body is served.
    pid = a_person(register)
    vendor = token(env, LOOKUP_SCOPES, BODY, VENDOR)
    served = graphql(server, vendor, LOOKUP, ids=[pid])
    assert "errors" not in served, served
    assert served["data"]["personer"][0]["personidentifikator"] == pid

    # 4. Revoked through the page, after its confirmation step.
    page.get_by_role("link", name=re.compile("^Trekk tilbake")).click()
    assert page.locator("h1").inner_text() == "Trekk tilbake tilgangen"
    assert VENDOR_NAME in page.locator("dl.fakta").inner_text()
    shot(page, "07-trekk-tilbake")
    page.get_by_role("button", name="Trekk tilbake tilgangen").click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}?melding=trukket")
    assert "Tilgangen er trukket tilbake" in page.get_by_role("status").inner_text()
    [row] = given_rows(page)
    assert row[4].startswith("Trukket tilbake") and MANAGER in row[4]
    assert not page.get_by_role("link", name=re.compile("^Trekk tilbake")).count()
    # The vendor's lookup is in the usage chart and its table.
    assert VENDOR_NAME in page.locator("svg.diagram").inner_html()
    assert VENDOR_NAME in page.locator("#bruk thead").inner_text()
    assert page.locator("#bruk tfoot td").inner_text() == "1 / 1"
    shot(page, "08-oversikt-trukket-med-bruk")
    # The vendor's very next lookup is refused: no active delegation.
    refused = graphql(server, vendor, LOOKUP, ids=[pid])
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["reason"] == MANGLER_DELEGERING


def test_a_form_without_the_csrf_token_is_refused(page: Page, server: str, env: dict[str, str]):
    # 5. The confirm form posted without its hidden token: a refusal page, nothing granted.
    page.goto("/admin")
    log_in(page, MANAGER)
    page.goto(f"/admin/organisasjon/{BODY}/gi")
    page.locator(f"input[name=ordning][value={SCHEME}]").check()
    page.fill("#til", CSRF_VENDOR)
    page.get_by_role("button", name="Fortsett").click()
    assert page.locator("h1").inner_text() == "Bekreft tilgangen"
    page.locator("input[name=csrf]").evaluate_all("inputs => inputs.forEach(i => i.remove())")
    with page.expect_response(f"**/admin/organisasjon/{BODY}/gi/bekreft") as answer:
        page.get_by_role("button", name="Gi tilgang").click()
    assert answer.value.status == 403
    assert page.locator("h1").inner_text() == "Skjemaet ble avvist"
    shot(page, "09-skjema-avvist")
    # Nor over HTTP with the browser's cookie (and a wrong token).
    refused = page.request.post(f"{server}/admin/organisasjon/{BODY}/gi/bekreft",
                                form={"ordning": SCHEME, "til": CSRF_VENDOR, "csrf": "x"},
                                max_redirects=0)
    assert refused.status == 403
    assert "Skjemaet ble avvist" in refused.text()
    body = token(env, ADMIN_SCOPE, BODY)
    assert not [d for d in delegations(server, body)["gitt"]
                if d["til"]["orgnr"] == CSRF_VENDOR]
    page.goto(f"/admin/organisasjon/{BODY}")
    assert not [r for r in given_rows(page) if CSRF_VENDOR in r[1]]


def test_another_organisations_delegation_cannot_be_revoked(page: Page, server: str,
                                                            env: dict[str, str]):
    # 6. A delegation between two other organisations, made over GraphQL ...
    other = token(env, ADMIN_SCOPE, OTHER_BODY)
    made = graphql(server, other, GRANT, til=VENDOR, ordning=SCHEME)
    assert "errors" not in made, made
    foreign = made["data"]["delegerTilgang"]["id"]
    # ... is not the access manager's to revoke, by a crafted form with a valid token.
    page.goto("/admin")
    log_in(page, MANAGER)
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    csrf = csrf_of(page)
    for orgnr, status, title in (
        (BODY, 404, "Fant ikke siden"),  # own organisation: not a party
        (OTHER_BODY, 403, "Du har ikke tilgang til denne virksomheten"),  # not managed
    ):
        path = f"{server}/admin/organisasjon/{orgnr}/trekk-tilbake/{foreign}"
        crafted = page.request.post(path, form={"csrf": csrf}, max_redirects=0)
        assert crafted.status == status, crafted.text()
        assert title in crafted.text()
        shown = page.goto(path)
        assert shown is not None and shown.status == status
        assert page.locator("h1").inner_text() == title
    shot(page, "10-ikke-tilgang-til-virksomheten")
    page.goto(f"/admin/organisasjon/{BODY}/trekk-tilbake/{foreign}")
    shot(page, "11-fant-ikke-tilgangen")
    still = {d["id"]: d["aktiv"] for d in delegations(server, other)["gitt"]}
    assert still[foreign] is True
    # Nor through the page of a random or malformed id.
    for id_, status in ((uuid.uuid4(), 404), ("ikke-en-id", 404)):
        shown = page.goto(f"/admin/organisasjon/{BODY}/trekk-tilbake/{id_}")
        assert shown is not None and shown.status == status


def test_logout(page: Page):
    # 7. Logging out ends the session: the logged-out page, and /admin asks for a login again.
    page.goto("/admin")
    log_in(page, MANAGER)
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url(re.compile(r".*/admin/logget-ut(\?.*)?$"))
    assert page.locator("h1").inner_text() == "Du er logget ut"
    assert not page.get_by_role("button", name="Logg ut").count()
    shot(page, "12-logget-ut")
    page.goto("/admin")
    page.wait_for_url(AUTHORIZE)
    page.goto(f"/admin/organisasjon/{BODY}")
    page.wait_for_url(AUTHORIZE)


def test_a_person_who_manages_nothing(page: Page):
    # 8. Logged in, but no organisation: a page saying so and how to get the role ...
    page.goto("/admin")
    log_in(page, NOBODY)
    page.wait_for_url("**/admin")
    assert page.locator("h1").inner_text() == "Du er ikke tilgangsstyrer for noen virksomhet"
    assert page.get_by_role("heading", name="Slik får du rollen").is_visible()
    shot(page, "13-ingen-virksomhet")
    # ... and another organisation's page is refused.
    refused = page.goto(f"/admin/organisasjon/{BODY}")
    assert refused is not None and refused.status == 403
    assert page.locator("h1").inner_text() == "Du har ikke tilgang til denne virksomheten"
    assert BODY_NAME not in page.content()
    shot(page, "14-avvist")
    # A path under /admin that is no page is a page too, not the API's JSON.
    missing = page.goto("/admin/finnes-ikke")
    assert missing is not None and missing.status == 404
    assert page.locator("h1").inner_text() == "Fant ikke siden"


def test_an_idle_session_expires(page: Page, register: Register):
    # 9. 31 minutes without use: the next request goes to the login, and back after it.
    page.goto(f"/admin/organisasjon/{BODY}")
    log_in(page, MANAGER)
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    assert register.idle(MANAGER, 31) >= 1
    page.reload()
    page.wait_for_url(AUTHORIZE)
    shot(page, "15-utlopt-okt", check=False)  # the provider's form, checked above
    log_in(page, MANAGER)
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    assert BODY_NAME in page.locator("h1").inner_text()


FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'),
          type: e.getAttribute('type'), text: (e.innerText || '').trim(),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
}"""


def tab(page: Page) -> dict[str, Any]:
    page.keyboard.press("Tab")
    return page.evaluate(FOCUSED)


def test_the_grant_form_by_keyboard(page: Page):
    # 10. Tab, Space and Enter only; focus moves in reading order and is always visible.
    page.goto("/admin")
    log_in(page, MANAGER)
    page.goto(f"/admin/organisasjon/{BODY}/gi")
    assert page.locator("html").get_attribute("lang") == "nb"
    order = [tab(page)]
    while order[-1]["text"] != "Fortsett":
        assert len(order) < 20, order
        if order[-1]["name"] == "ordning":
            page.keyboard.press("Space")  # the radio group is one stop: choose the scheme
        elif order[-1]["id"] == "til":
            page.keyboard.type(KEYBOARD_VENDOR)
        order.append(tab(page))
    assert all(f["outline"] for f in order), order
    names = [f["text"] or f["id"] or f["name"] for f in order]
    assert names[0] == "Hopp til hovedinnholdet"
    assert names.index("Logg ut") < names.index("ordning-1") < names.index("til") < len(names) - 1
    shot(page, "16-tastatur-gi", check=False)
    with page.expect_response(f"**/admin/organisasjon/{BODY}/gi") as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    assert page.locator("h1").inner_text() == "Bekreft tilgangen"
    assert KEYBOARD_VENDOR_NAME in page.locator("dl.fakta").inner_text()
    while (focused := tab(page))["text"] != "Gi tilgang":
        assert focused["text"] != "Avbryt", "the confirm button comes before Avbryt"
    assert focused["outline"]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/organisasjon/{BODY}?melding=gitt")
    assert [r for r in given_rows(page) if KEYBOARD_VENDOR in r[1] and r[4] == "Aktiv"]


def test_the_pages_in_nynorsk_and_english(page: Page):
    # 11. The language chooser, without script: nynorsk chosen on the login form is kept
    # through the login; English chosen on a form with mistakes leads back to that form.
    page.goto("/admin")
    page.wait_for_url(AUTHORIZE)
    page.get_by_role("link", name="Nynorsk").click()
    page.wait_for_url(AUTHORIZE)
    assert page.get_by_text("Tryggingsnivå").is_visible()
    shot(page, "17-nn-innlogging", lang="nn")
    page.fill("#pid", MANAGER)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}")
    assert page.get_by_role("heading", name="Tilgangar verksemda har gitt").is_visible()
    assert page.locator('.sprakvalg a[aria-current="true"]').inner_text() == "Nynorsk"
    shot(page, "18-nn-oversikt", lang="nn")
    page.get_by_role("link", name="Gi tilgang til nytt API").click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}/gi")
    with page.expect_response(f"**/admin/organisasjon/{BODY}/gi") as answer:
        page.get_by_role("button", name="Hald fram").click()
    assert answer.value.status == 400
    assert page.locator("#til-feil").inner_text() == (
        "Organisasjonsnummeret må vere 9 siffer med gyldig kontrollsiffer")
    assert page.locator("#feil-tittel").inner_text() == "Skjemaet har feil"
    shot(page, "19-nn-gi-skjema-med-feil", lang="nn")
    english = page.get_by_role("link", name="English")
    assert english.get_attribute("lang") == "en"
    english.click()
    page.wait_for_url(f"**/admin/organisasjon/{BODY}/gi")
    assert page.locator("h1").inner_text() == "Grant access to a new API"
    shot(page, "20-en-gi-skjema", lang="en")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/admin/logget-ut(\?.*)?$"))
    assert page.locator("h1").inner_text() == "You are logged out"
    shot(page, "21-en-logget-ut", lang="en")
