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

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.sider.maler import maler_for
from app.sider.sprak import sprak_for, velger

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
    request: Request,
    pakke: str,
    mal: str,
    kontekst: Mapping[str, Any],
    *,
    status: int = 200,
    skjema_til: Iterable[str] = (),
    hoder: Mapping[str, str] | None = None,
    tilbake: str | None = None,
) -> HTMLResponse:
    """Template `mal` of feature `pakke` rendered with `kontekst` in the request's language
    (app.sider.sprak), with the security headers (no cache keeps a page: app.edge.headers, so
    one person's language is never another's). `tilbake`: where the language chooser leads
    back to from the answer to a form post (app.sider.sprak.velger)."""
    sprak = sprak_for(request)
    html = maler_for(pakke, sprak).get_template(mal).render(
        {"stilark": STILARK, "sprak": sprak, "sprakvalg": velger(request, sprak, tilbake),
         "sti": request.url.path, **kontekst})
    return HTMLResponse(html, status_code=status,
                        headers={**sikkerhetshoder(skjema_til), "Content-Language": sprak,
                                 **(hoder or {})})


def feilside(request: Request, tittel: str, tekst: str, *, status: int,
             lenke: tuple[str, str] | None = None, innlogget: bool = False,
             tilbake: str | None = None) -> HTMLResponse:
    """A refusal or failure as a person understands it: what happened and what to do; never a
    stack trace. The texts are the request's language already (`tekster(request)`); `lenke`:
    (href, text) of the way on; `tilbake`: where the language chooser leads back to, when not
    this page's own address (the answer to a form post: the way on, if any)."""
    if tilbake is None and lenke and request.method not in ("GET", "HEAD"):
        tilbake = lenke[0]
    return side(request, "app.sider", "feil.html",
                {"tittel": tittel, "tekst": tekst, "lenke": lenke, "innlogget": innlogget,
                 "csrf": None},
                status=status, tilbake=tilbake)
