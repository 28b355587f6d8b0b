"""A page as an HTTP answer, always with the same security headers.

The pages load nothing but the service's own style sheet and run no script at all, and the
Content-Security-Policy says exactly that; forms may post only to the service itself (and, where
a page logs out through the identity provider, to that provider: a redirect after a form post is
held to form-action too). That no page is kept by a cache, framed or sniffed, the edge says on
every answer (app.edge.headers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import HTMLResponse

from app.sider.maler import maler_for

STILARK = "/statisk/krr.css"


def csp(skjema_til: Iterable[str] = ()) -> str:
    """The policy; `skjema_til`: origins besides the service that forms may lead to."""
    form_action = " ".join(["'self'", *skjema_til])
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; "
        f"connect-src 'none'; font-src 'none'; base-uri 'none'; form-action {form_action}; "
        "frame-ancestors 'none'"
    )


def sikkerhetshoder(skjema_til: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp(skjema_til),
        "Referrer-Policy": "no-referrer",
    }


def side(
    pakke: str,
    mal: str,
    kontekst: Mapping[str, Any],
    *,
    status: int = 200,
    skjema_til: Iterable[str] = (),
    hoder: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Template `mal` of feature `pakke` rendered with `kontekst`, with the security headers."""
    html = maler_for(pakke).get_template(mal).render({"stilark": STILARK, **kontekst})
    return HTMLResponse(html, status_code=status,
                        headers={**sikkerhetshoder(skjema_til), **(hoder or {})})


def feilside(tittel: str, tekst: str, *, status: int, lenke: tuple[str, str] | None = None,
             innlogget: bool = False) -> HTMLResponse:
    """A refusal or failure as a person understands it: what happened and what to do; never a
    stack trace. `lenke`: (href, text) of the way on."""
    return side("app.sider", "feil.html",
                {"tittel": tittel, "tekst": tekst, "lenke": lenke, "innlogget": innlogget,
                 "csrf": None},
                status=status)
