"""The pages' language: bokmål (the catalogues' source), nynorsk or English, as the person chose
(the cookie `krr_sprak`, set by the chooser on every page) or, on a first visit, as the browser
asks (Accept-Language); bokmål when it asks for none of them.

The words are gettext catalogues, one .po file per language under `sprak/<kode>/LC_MESSAGES/`
(`make sprak` extracts the marked strings of code and templates and updates them). They are
read from the .po files when the app is made (app.edge.app) and kept for the life of the
process, so there is no compiled file to forget to build. Code marks a string with `_`
(translated at once, for this request) or `N_` (kept as is, translated where it is shown);
templates with `{% trans %}` and `_()`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.sider.stier import lokal_sti

SPRAAK = ("nb", "nn", "en")  # the order of the chooser
STANDARD = "nb"
COOKIE = "krr_sprak"
COOKIE_SEKUNDER = 365 * 24 * 3600
KATALOGER = Path(__file__).parent / "sprak"
DOMENE = "messages"
VELG_STI = "/sprak"
STARTSIDE = "/admin"  # where the chooser leads when the page to go back to is not ours
MAKS_TILBAKE = 2000
# Each language named in itself: a reader of any of them finds their own.
NAVN = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
# Accept-Language tags (their primary subtag) -> our language; Norwegian without a written
# standard ("no") reads bokmål, as most Norwegian pages do.
TAGGER = {"nb": "nb", "no": "nb", "nn": "nn", "en": "en"}

Oversett = Callable[[str], str]


def N_(tekst: str) -> str:
    """Marks `tekst` for the catalogues without translating it (it is translated where shown)."""
    return tekst


@functools.cache
def oversettelser(sprak: str) -> Translations:
    """Language `sprak`'s catalogue, read from its .po file once per process (fuzzy entries
    left out, as gettext does; a file that does not parse is an error, not a page in bokmål);
    bokmål's holds the source text itself."""
    with (KATALOGER / sprak / "LC_MESSAGES" / f"{DOMENE}.po").open("rb") as po:
        katalog = read_po(po, locale=sprak, domain=DOMENE, abort_invalid=True)
    mo = io.BytesIO()
    write_mo(mo, katalog)
    mo.seek(0)
    return Translations(mo, domain=DOMENE)


def fra_accept_language(header: str | None) -> str | None:
    """The language the browser prefers most of ours (RFC 9110 12.5.4: by weight, ties in the
    order given), or None when it names none of them."""
    beste: tuple[float, int, str] | None = None
    for i, del_ in enumerate((header or "")[:1000].split(",")):
        tag, *parametre = (p.strip() for p in del_.split(";"))
        kode = TAGGER.get(tag.lower().split("-")[0])
        if kode is None:
            continue
        vekt = 1.0
        for parameter in parametre:
            navn, _, verdi = parameter.partition("=")
            if navn.strip().lower() == "q":
                try:
                    vekt = float(verdi)
                except ValueError:
                    vekt = 0.0
        if vekt > 0 and (beste is None or (-vekt, i) < (-beste[0], beste[1])):
            beste = (vekt, i, kode)
    return beste[2] if beste else None


def sprak_for(request: Request) -> str:
    """The request's language: the chosen one, else the browser's, else bokmål."""
    valgt = request.cookies.get(COOKIE)
    if valgt in SPRAAK:
        return valgt
    return fra_accept_language(request.headers.get("accept-language")) or STANDARD


def tekster(request: Request) -> Oversett:
    """gettext for the request's language: `_ = tekster(request)`, then `_("...")`."""
    return oversettelser(sprak_for(request)).gettext


def trygg_tilbake(tilbake: str | None) -> str:
    """A page of this service to go back to (app.sider.stier), else the start page."""
    return lokal_sti(tilbake, MAKS_TILBAKE) or STARTSIDE


@dataclass(frozen=True, slots=True)
class Valg:
    """One language in the chooser."""

    kode: str
    navn: str
    href: str
    valgt: bool


def velger(request: Request, sprak: str, side: str | None = None) -> list[Valg]:
    """The chooser's links, each leading back to this page: to `side` if given (a page whose
    own address would not show it again: the answer to a form post, a login's callback), else
    to the address it was asked at."""
    if side is None:
        side = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    tilbake = urlencode({"tilbake": trygg_tilbake(side)})
    return [Valg(k, NAVN[k], f"{VELG_STI}/{k}?{tilbake}", k == sprak) for k in SPRAAK]


def velg(sikker: bool) -> Callable[[Request], Awaitable[Response]]:
    """GET /sprak/{sprak}?tilbake=/path: the choice kept in the cookie (a year, every path, so
    the login keeps it), then back to the page (303). `sikker`: the cookie is Secure (prod)."""

    async def velg_sprak(request: Request) -> Response:
        response = RedirectResponse(trygg_tilbake(request.query_params.get("tilbake")),
                                    status_code=303)
        sprak = request.path_params["sprak"]
        if sprak in SPRAAK:
            response.set_cookie(COOKIE, sprak, max_age=COOKIE_SEKUNDER, path="/",
                                httponly=True, samesite="lax",
                                secure=sikker or request.url.scheme == "https")
        return response

    return velg_sprak
