"""How the pages of /admin pass the edge (app.edge.guard): the caller is the person of the
session (app.innlogging), every form post carries the session's CSRF token, and a refusal is a
page a person understands; without a session, the person is sent to log in and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.faults import Answer
from app.innlogging import CSRF_FELT, Innlogging
from app.sider.sprak import tekster
from app.sider.svar import feilside
from app.tilgangsstyrere.store import organisasjoner_for
from app.tilgangsstyring.skjema import skjema
from authz.avslag import IKKE_TILGANGSSTYRER
from authz.principal import Caller, Tilgangsstyrer

Kaller = Callable[[Request, bytes], Awaitable[Caller]]
TILBAKE = "/admin"


def kaller(innlogging: Innlogging) -> Kaller:
    """The session's person, with the organisations the registry says they manage now (read
    on every request: a removed role stops working at once)."""

    async def fra_okten(request: Request, body: bytes) -> Caller:
        person = await innlogging.innlogget(request)
        if request.method == "POST":
            innlogging.sjekk_csrf(request, person, skjema(body).get(CSRF_FELT))
        organisasjoner = frozenset(await organisasjoner_for(person.pid))
        return Tilgangsstyrer(person.pid, person.acr, person.issuer, organisasjoner)

    return fra_okten


def _logg_inn(request: Request) -> Response:
    """To the login, and back to the page asked for (a form post: its page, asked again)."""
    neste = request.url.path if request.method == "GET" else "/admin"
    return RedirectResponse(f"/admin/logg-inn?{urlencode({'neste': neste})}", status_code=303)


def feilside_for(request: Request, answer: Answer) -> Response:
    """A refusal of the edge or of a page, as a page in the person's language (the JSON shape
    is for programs)."""
    _ = tekster(request)
    innlogget = hasattr(request.state, "innlogget")
    reason = answer.extensions.get("reason")
    if answer.status == 401:
        return _logg_inn(request)
    if answer.status == 403 and reason == IKKE_TILGANGSSTYRER:
        tittel, tekst = (_("Du har ikke tilgang til denne virksomheten"),
                         _("Du er ikke registrert som tilgangsstyrer for virksomheten. Be en "
                           "tilgangsstyrer eller daglig leder i virksomheten om å gi deg "
                           "rollen."))
    elif answer.status == 403 and answer.code == "FORBIDDEN" and reason is None:
        tittel, tekst = (_("Skjemaet ble avvist"),
                         _("Skjemaet kunne ikke sendes fordi sikkerhetsnøkkelen manglet eller "
                           "var utløpt. Gå tilbake, last siden på nytt og prøv igjen."))
    elif answer.status == 403:
        tittel, tekst = (_("Handlingen er ikke tillatt"),
                         _("Du kan ikke gjøre dette for virksomheten."))
    elif answer.status == 404:
        tittel, tekst = (_("Fant ikke siden"),
                         _("Siden eller tilgangen finnes ikke, eller den hører ikke til "
                           "virksomheten din."))
    elif answer.status == 408:
        tittel, tekst = (_("Skjemaet kom ikke fram i tide"),
                         _("Skjemaet ble sendt for sakte til at vi kunne ta imot det. Prøv "
                           "igjen."))
    elif answer.status == 413:
        tittel, tekst = (_("Skjemaet er for stort"),
                         _("Skjemaet inneholdt mer enn tjenesten tar imot."))
    elif answer.status == 429:
        tittel, tekst = (_("For mange forespørsler"),
                         _("Du har gjort mange forespørsler på kort tid. Vent litt og prøv "
                           "igjen."))
    elif answer.status == 500:
        referanse = answer.extensions.get("request_id")
        tittel = _("Noe gikk galt")
        tekst = (_("Det oppstod en feil hos oss. Feilen er logget med referanse %(referanse)s. "
                   "Prøv igjen, og kontakt brukerstøtte hvis feilen gjentar seg.")
                 % {"referanse": referanse} if referanse else
                 _("Det oppstod en feil hos oss. Feilen er logget. Prøv igjen, og kontakt "
                   "brukerstøtte hvis feilen gjentar seg."))
    elif answer.status >= 500:
        tittel, tekst = (_("Tjenesten er midlertidig utilgjengelig"),
                         _("Vi får ikke kontakt med registeret akkurat nå. Prøv igjen om litt."))
    else:
        tittel, tekst = (_("Skjemaet kunne ikke behandles"),
                         _("Noe i skjemaet var ikke gyldig. Gå tilbake og kontroller feltene."))
    response = feilside(request, tittel, tekst, status=answer.status,
                        lenke=(TILBAKE, _("Til tilgangsstyringen")), innlogget=innlogget)
    response.headers.update({k: v for k, v in answer.headers.items()
                             if k.lower() in ("retry-after", "allow", "connection")})
    return response
