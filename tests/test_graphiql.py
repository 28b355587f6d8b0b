"""GraphiQL (GET /graphql in a browser, dev/test) with nothing from a CDN: the page, its start
script and the vendored GraphiQL are served by the service, under a Content-Security-Policy that
allows only the service itself.

In process: the page's headers, that it names nothing external, that every asset it references
is served, and that the vendored files are the ones SHA256SUMS lists. In a real browser: `krr
serve` opened by Debian's headless Chromium through Playwright, every request not to 127.0.0.1
aborted (and counted: there must be none), GraphiQL rendered, a public query run without a token
and a protected one with a token typed into the headers pane; no CSP violation, no page error.
The screenshot is saved as test-artifacts/graphiql/graphiql.png.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, sync_playwright

from app.edge.app import create_app
from app.graphiql.side import CSP
from tests.conftest import FIXED_NOW
from tests.servers import krr_serving

ROOT = Path(__file__).resolve().parent.parent
KRR = [sys.executable, "-m", "app.cli"]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "graphiql"
GRAPHIQL = ROOT / "app" / "graphiql"
VENDOR = GRAPHIQL / "statisk" / "vendor"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}


class _Refs(HTMLParser):
    """Every src and href of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def _refs(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.refs


# --- in process -------------------------------------------------------------------------------

async def test_the_page_has_a_strict_policy_and_names_nothing_external(client):
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text
    own = [page.text] + [p.read_text() for p in (GRAPHIQL / "statisk").glob("graphiql-start.*")]
    for text in own:
        for external in ("unpkg", "esm.sh", "jsdelivr", "http:", "https:", "//"):
            assert external not in text.replace("// ", ""), external


async def test_every_asset_the_page_names_is_served(client):
    page = await client.get("/graphql", headers=HTML)
    refs = [r for r in _refs(page.text) if not r.startswith("data:")]
    assert len(refs) == 8  # 5 scripts, 3 style sheets
    for ref in refs:
        assert ref.startswith("/graphiql/"), ref
        answer = await client.get(ref)
        assert answer.status_code == 200, ref
        kind = answer.headers["content-type"].split(";")[0]
        assert kind in CONTENT_TYPES[Path(ref).suffix], (ref, kind)
    licence = await client.get("/graphiql/vendor/graphiql@3.9.0/LICENSE")
    assert licence.status_code == 200 and "MIT License" in licence.text


async def test_the_page_is_for_browsers_and_not_in_prod(db, client):
    refused = await client.get("/graphql", headers={"Accept": "application/json"})
    assert refused.status_code == 405
    prod = create_app(dataclasses.replace(db, env="prod"), clock=lambda: FIXED_NOW,
                      manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=prod),
                                 base_url="http://krr") as c:
        assert (await c.get("/graphql", headers=HTML)).status_code == 405
        asset = await c.get("/graphiql/vendor/graphiql@3.9.0/graphiql.min.js")
        assert asset.status_code == 404


def test_the_vendored_files_are_those_listed_each_with_a_licence():
    listed = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert present - {"SHA256SUMS", "README.md"} == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    directories = {p for p in VENDOR.iterdir() if p.is_dir()}
    assert len(directories) == 4
    readme = (VENDOR / "README.md").read_text()
    for directory in directories:
        assert (directory / "LICENSE").read_text().startswith("MIT License"), directory
        assert f"`{directory.name}`" in readme
        # The page loads the versions vendored.
        assert f"/graphiql/vendor/{directory.name}/" in (GRAPHIQL / "graphiql.html").read_text()


# --- in a browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("graphiql")
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return base | {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp / "var"),
                   "KRR_DATABASE_URL": f"sqlite:///{tmp / 'graphiql.sqlite3'}",
                   "PYTHONPATH": str(ROOT)}


def _krr(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*KRR, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"krr {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[str]:
    _krr(env, "migrate")
    with krr_serving(env) as base:
        yield base


def _set_editor(page: Page, selector: str, text: str) -> None:
    """The text of the CodeMirror editor under `selector` (GraphiQL 3 uses CodeMirror 5)."""
    page.locator(f"{selector} .CodeMirror").first.evaluate(
        "(element, text) => element.CodeMirror.setValue(text)", text)


def _run(page: Page) -> str:
    """Press the run button; the result pane's text once it has one."""
    page.evaluate("() => document.querySelector('.graphiql-response .CodeMirror')"
                  ".CodeMirror.setValue('')")
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror")
    page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror')"
        ".CodeMirror.getValue().length > 0")
    return str(result.evaluate("element => element.CodeMirror.getValue()"))


def test_graphiql_renders_and_runs_queries_offline(server: str, env: dict[str, str]):
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (or `make browser`), which "
                    "installs Debian's chromium package before the tests")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    external: list[str] = []
    console: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            external.append(url)
            route.abort("blockedbyclient")

    token = _krr(env, "token", "--consumer", "974760673", "--scope",
                 "krr:global/kontaktinformasjon.read", "--ttl", "600")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.set_default_timeout(15000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{server}/graphql")
            page.locator(".graphiql-container").wait_for(state="visible")
            page.locator(".graphiql-query-editor .CodeMirror").wait_for(state="visible")
            assert "statistikk" in page.locator(".graphiql-query-editor").inner_text()

            # The default query is public: no token needed.
            result = _run(page)
            assert '"statistikk"' in result and '"registrerte": 0' in result, result

            # A protected one: refused without a token, answered with one from the headers pane.
            _set_editor(page, ".graphiql-query-editor", "{ __schema { queryType { name } } }")
            refused = _run(page)
            assert '"reason": "missing"' in refused, refused
            _set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)",
                        f'{{"Authorization": "Bearer {token}"}}')
            answered = _run(page)
            assert '"name": "Query"' in answered, answered

            # With the token, the schema loads (its introspection needs one too), and the
            # explorer plugin lists the query fields.
            page.get_by_role("button", name="Re-fetch GraphQL schema").click()
            page.get_by_role("button", name="Show GraphiQL Explorer").click()
            explorer = page.locator(".graphiql-explorer-root")
            explorer.get_by_text("statistikk", exact=True).wait_for(state="visible")
            assert explorer.get_by_text("personer", exact=True).count() == 1
            page.screenshot(path=ARTIFACTS / "graphiql.png")
        finally:
            browser.close()

    assert external == [], f"requests beyond 127.0.0.1: {external}"
    assert not errors, errors
    violations = [m for m in console if re.search("Content.Security.Policy", m, re.I)]
    assert not violations, violations
    # The refusals without a token (GraphiQL's introspection at load, the protected query) are
    # logged by Chromium; any other error is not expected.
    unexpected = [m for m in console if m.startswith("error") and "status of 401" not in m]
    assert not unexpected, console
