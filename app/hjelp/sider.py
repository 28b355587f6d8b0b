"""GET /hjelp, /kontakt and /tilgjengelighet: public pages, no login, in the reader's language,
on the shared layout (app.sider), so with its security headers, language chooser and footer;
never kept by a cache nor compressed (the edge's rule for pages). The operator's contact
comes from the configuration (KRR_KONTAKT_EPOST, KRR_KONTAKT_URL), never from the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from app.config import Kontakt
from app.sider.sprak import tekster
from app.sider.svar import side

PAKKE = "app.hjelp"
# When the accessibility statement was last reviewed against the pages: change it with the
# statement (uu-tilsynet asks for the date).
ERKLAERT = dt.date(2026, 12, 8)
# Where to complain about the pages' accessibility: the supervisory authority, Digdir's
# uu-tilsynet.
UUTILSYNET = "https://www.uutilsynet.no/"
DUPLIKAT = "/hjelp#duplikat"  # the residents' duplicate warnings link here

Endpoint = Callable[[Request], Awaitable[Response]]


def sider(kontakt: Kontakt) -> list[tuple[str, Endpoint]]:
    """The pages as (path, GET handler), each showing `kontakt`."""

    async def hjelp(request: Request) -> Response:
        _ = tekster(request)
        return side(request, PAKKE, "hjelp.html", _kontekst(_("Hjelp"), kontakt))

    async def kontakt_side(request: Request) -> Response:
        _ = tekster(request)
        return side(request, PAKKE, "kontakt.html", _kontekst(_("Kontakt oss"), kontakt))

    async def tilgjengelighet(request: Request) -> Response:
        _ = tekster(request)
        return side(request, PAKKE, "tilgjengelighet.html",
                    {**_kontekst(_("Tilgjengelighetserklæring"), kontakt),
                     "erklaert": ERKLAERT, "uutilsynet": UUTILSYNET})

    return [("/hjelp", hjelp), ("/kontakt", kontakt_side), ("/tilgjengelighet", tilgjengelighet)]


def _kontekst(tittel: str, kontakt: Kontakt) -> dict[str, object]:
    return {"tittel": tittel, "kontakt": kontakt, "innlogget": False, "csrf": None}
