"""The help, contact and accessibility statement pages in a real Chromium (Debian's), as
`krr serve` serves them: axe-core finds no serious or critical violation at a normal width, at
360 px and at 640 px (a 1280 px window at 200 % zoom), in each language; nothing scrolls
sideways; the footer is reached and followed by keyboard with focus always visible.
Screenshots are kept in test-artifacts/hjelp/. The pages read nothing from the database, so
the server runs on an SQLite file of its own on either database run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.nettleser import chromium
from tests.servers import krr_serving
from tests.servers import run_krr as krr
from tests.test_admin_side import FOCUSED, shot
from tests.test_hjelpesider import BUNN, OVERSKRIFT, SIDER

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "hjelp"
BREDDER = {"normal": 1100, "smal": 360, "zoom200": 640}
SIDEVEIS = "() => document.documentElement.scrollWidth > window.innerWidth"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("hjelp")
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env = base | {"KRR_ENV": "dev", "KRR_VAR_DIR": str(var), "PYTHONPATH": str(ROOT),
                  "KRR_DATABASE_URL": f"sqlite:///{var / 'hjelp.sqlite3'}",
                  "KRR_KONTAKT_EPOST": "brukerstotte@drift.example.org"}
    krr(env, "migrate")
    with krr_serving(env) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as b:
        yield b


def _page(browser: Browser, server: str, width: int, kode: str) -> Page:
    ctx = browser.new_context(base_url=server, bypass_csp=True, locale="nb-NO",
                              viewport={"width": width, "height": 800})
    ctx.add_cookies([{"name": "krr_sprak", "value": kode, "url": server}])
    page = ctx.new_page()
    page.set_default_timeout(5000)
    return page


def _shot(page: Page, name: str, kode: str) -> None:
    """tests.test_admin_side's check (axe-core, `lang`), the picture kept under hjelp/."""
    shot(page, name, lang=kode, artifacts=ARTIFACTS)


@pytest.mark.parametrize("kode", ["nb", "nn", "en"])
@pytest.mark.parametrize("bredde", BREDDER)
def test_the_pages_pass_axe_at_every_width(browser: Browser, server: str, bredde: str,
                                           kode: str):
    page = _page(browser, server, BREDDER[bredde], kode)
    try:
        for path in SIDER:
            page.goto(path)
            assert page.locator("h1").inner_text() == OVERSKRIFT[path][kode]
            footer = page.get_by_role("contentinfo")
            nav = footer.get_by_role("navigation")
            assert [a.inner_text() for a in nav.get_by_role("link").all()] == list(BUNN[kode])
            assert footer.is_visible()
            assert not page.evaluate(SIDEVEIS), (path, bredde)
            _shot(page, f"{path[1:]}-{kode}-{bredde}", kode)
    finally:
        page.context.close()


def test_the_footer_by_keyboard(browser: Browser, server: str):
    """From the top of /kontakt, Tab reaches the footer's links in order, each with a visible
    focus outline, and Enter follows one."""
    page = _page(browser, server, BREDDER["smal"], "nb")
    try:
        page.goto("/kontakt")
        order: list[dict[str, object]] = []
        while not order or order[-1]["text"] != "Tilgjengelighetserklæring":
            assert len(order) < 25, order
            page.keyboard.press("Tab")
            order.append(page.evaluate(FOCUSED))
        assert all(f["outline"] for f in order), order
        texts = [f["text"] for f in order]
        assert texts[0] == "Hopp til hovedinnholdet"
        assert "brukerstotte@drift.example.org" in texts
        assert texts[-3:] == list(BUNN["nb"])
        page.keyboard.press("Enter")
        page.wait_for_url("**/tilgjengelighet")
        assert page.locator("h1").inner_text() == "Tilgjengelighetserklæring"
    finally:
        page.context.close()


def test_the_duplicate_section_is_reached_by_its_anchor(browser: Browser, server: str):
    page = _page(browser, server, BREDDER["smal"], "nb")
    try:
        page.goto("/hjelp#duplikat")
        heading = page.locator("#duplikat")
        assert heading.inner_text() == "Duplikat kontaktinformasjon"
        assert heading.is_visible()
        assert page.evaluate("() => window.scrollY") > 0  # the browser went to the section
        _shot(page, "hjelp-duplikat-smal", "nb")
    finally:
        page.context.close()


@pytest.mark.parametrize("bredde", ["normal", "smal"])
def test_the_key_figures_footer_in_a_browser(browser: Browser, server: str, bredde: str):
    """/statistikk is not built on the shared layout; its footer is the same one, and it fits
    a 360 px screen without scrolling sideways as the other pages do."""
    page = _page(browser, server, BREDDER[bredde], "en")
    try:
        page.goto("/statistikk")
        assert not page.evaluate(SIDEVEIS), bredde  # its tables fit 360 px too
        nav = page.get_by_role("contentinfo").get_by_role("navigation", name="Help and contact")
        assert [a.inner_text() for a in nav.get_by_role("link").all()] == list(BUNN["en"])
        _shot(page, f"statistikk-en-{bredde}", "en")
        nav.get_by_role("link", name="Help").click()
        page.wait_for_url("**/hjelp")
        assert page.locator("h1").inner_text() == "Help"
    finally:
        page.context.close()
