"""GraphiQL's page and its static files: nothing is loaded from anywhere but the service.

The page is static HTML (graphiql.html) whose scripts and styles are files under statisk/, served
under PREFIX; the Content-Security-Policy allows the service's own origin only. GraphiQL 3 and its
explorer plugin need no inline style or script (the browser test checks for CSP violations), so
there is no 'unsafe-inline' at all; their fonts and icons are data: URLs in the style sheets.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

PACKAGE = "app.graphiql"
PREFIX = "/graphiql"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Framing and sniffing refused by the edge, on every answer (app.edge.headers); the page holds
# nobody's data, so a browser may keep it, asking each time whether it changed.
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _html() -> str:
    return files(PACKAGE).joinpath("graphiql.html").read_text(encoding="utf-8")


def side() -> HTMLResponse:
    """GraphiQL's page, with its security headers."""
    return HTMLResponse(_html(), headers=HEADERS)


def statiske() -> StaticFiles:
    """The page's scripts, style sheets and the vendored GraphiQL (to mount at PREFIX)."""
    return StaticFiles(packages=[(PACKAGE, "statisk")])
