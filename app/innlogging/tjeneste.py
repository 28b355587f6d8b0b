"""The login of the access managers' page, as the edge mounts it and the pages use it.

- GET /admin/logg-inn?neste=/admin/...: to the provider (authlib: PKCE, state, nonce, acr);
- GET /admin/innlogget: the provider's answer; the ID token checked (authlib) and its level
  (`acr`) and person (`pid`) checked here; a new server-side session (app.innlogging.okter)
  in the cookie `krr_okt` (HttpOnly, SameSite=Lax, Secure over https, Path=/admin, signed);
- POST /admin/logg-ut (with the session's CSRF token): the session ended here, then the
  provider's (RP-initiated logout, with the ID token as hint);
- GET /admin/logget-ut: the page that says so.

What the answer needs of the redirect (the PKCE verifier, the nonce, the page to go back to)
is kept server-side, one row per login begun (app.innlogging.forsok), taken once by its
answer: a replayed callback is refused, whatever the provider does with its codes. The browser
holds only the state, in a short-lived signed cookie (`krr_innlogging`, Path=/admin), so the
answer must come back to the browser that began the login. A page behind the edge asks
`innlogget(request)` for the person (NotLoggedIn without a live session) and `sjekk_csrf` for
every form post.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import httpx2
from authlib.integrations.starlette_client import OAuthError
from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.config import Settings
from app.errors import Forbidden, NotLoggedIn
from app.foresporsel import Clock
from app.innlogging import forsok, okter
from app.innlogging.adresse import opphav
from app.innlogging.okter import Innlogget
from app.innlogging.tilbyder import Klient, Tilbyder, godtatt_acr
from app.sider.sprak import N_, sprak_for, tekster
from app.sider.stier import lokal_sti
from app.sider.svar import feilside, side
from authz.identifikatorer import problem

log = logging.getLogger("krr.innlogging")

PAKKE = "app.innlogging"
COOKIE = "krr_okt"
FLYT_COOKIE = "krr_innlogging"
STI = "/admin"
FLYT_SEKUNDER = int(forsok.VARER.total_seconds())  # from the redirect until the answer
CSRF_FELT = "csrf"
IKKE_BEKREFTET = N_("Innloggingen kunne ikke bekreftes.")


class UgyldigSkjema(Forbidden):
    """A form post without the session's CSRF token (or from another origin)."""


def trygg_neste(neste: str | None) -> str:
    """Where to go after login: a path of this service (app.sider.stier) under /admin, not
    the login's own pages."""
    sti = lokal_sti(neste, maks=200)
    if sti and sti.startswith(STI) and not sti.startswith(
            ("/admin/logg-inn", "/admin/innlogget", "/admin/logg-ut", "/admin/logget-ut")):
        return sti
    return STI


def csrf_token(request: Request) -> str:
    """The session's form token, for the page being rendered (set by `innlogget`)."""
    person: Innlogget = request.state.innlogget
    return person.csrf


def skjema_til(request: Request) -> tuple[str, ...]:
    """Origins besides the service the page's forms may lead to: the provider's, for logout
    (Content-Security-Policy form-action)."""
    return tuple(getattr(request.state, "skjema_til", ()))


class Innlogging:
    """The login routes and the session check, built once per app."""

    def __init__(self, settings: Settings, hemmelighet: str, clock: Clock,
                 transport: httpx2.AsyncBaseTransport | None,
                 begrens: Callable[[Request], Awaitable[None]]) -> None:
        self.settings = settings
        # A login begun writes a row, and its answer reads one, before anyone is known: each is
        # charged to the client's address as an anonymous request is (the edge's rate limit),
        # so a flood of them is refused (429) rather than written.
        self.begrens = begrens
        self.hemmelighet = hemmelighet
        self.clock = clock
        self.tilbyder = Tilbyder(settings, hemmelighet, transport)
        self._signer = Signer(hemmelighet, salt="krr-okt")
        self._flyt_signer = Signer(hemmelighet, salt="krr-innlogging")

    # --- the session ------------------------------------------------------------------------

    def _sikker(self, request: Request) -> bool:
        return self.settings.is_prod or opphav(self.settings, request).startswith("https:")

    def sjekk_csrf(self, request: Request, person: Innlogget, gitt: str | None) -> None:
        """A form post must carry the session's token, and come from the service's public
        origin if it says (not the address a load balancer reached it at)."""
        if not gitt or not hmac.compare_digest(gitt, person.csrf):
            raise UgyldigSkjema(N_("Skjemaet mangler sikkerhetsnøkkelen eller nøkkelen er "
                                   "utløpt"))
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin != opphav(self.settings, request):
            raise UgyldigSkjema(N_("Skjemaet ble sendt fra en annen nettside"))

    def _nokkel(self, request: Request) -> str | None:
        return _usignert(self._signer, request.cookies.get(COOKIE))

    async def innlogget(self, request: Request) -> Innlogget:
        """The person logged in on this request (NotLoggedIn otherwise); the page's form token
        and the provider's origin are kept on the request for rendering."""
        nokkel = self._nokkel(request)
        person = await okter.hent(nokkel, self.clock()) if nokkel else None
        if person is None:
            raise NotLoggedIn("Du må logge inn for å bruke tilgangsstyringen")
        request.state.innlogget = person
        if self.tilbyder.finnes:
            request.state.skjema_til = (self.tilbyder.klient(request).opphav,)
        return person

    def _sett_cookie(self, request: Request, response: Response, nokkel: str) -> None:
        response.set_cookie(COOKIE, self._signer.sign(nokkel).decode(), path=STI,
                            httponly=True, samesite="lax", secure=self._sikker(request),
                            max_age=int(okter.LENGST.total_seconds()))

    def _slett_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(COOKIE, path=STI, httponly=True, samesite="lax",
                               secure=self._sikker(request))

    # --- the routes -----------------------------------------------------------------------

    def _ikke_satt_opp(self, request: Request) -> Response:
        _ = tekster(request)
        return feilside(request, _("Innlogging er ikke satt opp"),
                        _("Tjenesten er ikke koblet til ID-porten ennå. Kontakt driftsteamet."),
                        status=503)

    def _utilgjengelig(self, request: Request, exc: Exception,
                       tilbake: str | None = None) -> Response:
        log.warning("the identity provider could not be reached: %s", type(exc).__name__)
        _ = tekster(request)
        return feilside(request, _("ID-porten svarer ikke"),
                        _("Innloggingstjenesten kunne ikke nås akkurat nå. Prøv igjen om litt."),
                        status=503, lenke=("/admin", _("Prøv igjen")), tilbake=tilbake)

    async def logg_inn(self, request: Request) -> Response:
        """To the provider (PKCE, state, nonce, acr), the attempt kept here (app.innlogging.
        forsok) and its state in the browser's cookie."""
        if not self.tilbyder.finnes:
            return self._ikke_satt_opp(request)
        await self.begrens(request)
        klient = self.tilbyder.klient(request)
        try:
            adresse = await klient.oauth.create_authorization_url(
                klient.redirect_url, acr_values=klient.acr, ui_locales=sprak_for(request))
        except (httpx2.HTTPError, ValueError) as exc:  # discovery failed (or not JSON)
            return self._utilgjengelig(request, exc)
        state = adresse["state"]
        await forsok.begynn(state, adresse["code_verifier"], adresse["nonce"],
                            trygg_neste(request.query_params.get("neste")), self.clock())
        response = RedirectResponse(adresse["url"], status_code=302)
        response.set_cookie(FLYT_COOKIE, self._flyt_signer.sign(state).decode(), path=STI,
                            max_age=FLYT_SEKUNDER, httponly=True, samesite="lax",
                            secure=self._sikker(request))
        return response

    def _mislykket(self, request: Request, tekst: str) -> Response:
        """The login failed; `tekst` (a msgid) says why. The language chooser leads to /admin
        (a login's callback, asked again, is a used link)."""
        _ = tekster(request)
        return feilside(request, _("Innloggingen mislyktes"), _(tekst), status=400,
                        lenke=("/admin/logg-inn", _("Logg inn på nytt")), tilbake=STI)

    async def innlogget_svar(self, request: Request) -> Response:
        """The provider's answer, the cookie that began it cleared whatever it says."""
        response = await self._svar(request)
        response.delete_cookie(FLYT_COOKIE, path=STI, httponly=True, samesite="lax",
                               secure=self._sikker(request))
        return response

    async def _svar(self, request: Request) -> Response:
        """The attempt taken (once), the code redeemed and the ID token checked (authlib), then
        the level and the person checked here, then a new session."""
        if not self.tilbyder.finnes:
            return self._ikke_satt_opp(request)
        _ = tekster(request)
        await self.begrens(request)
        klient: Klient = self.tilbyder.klient(request)
        state = request.query_params.get("state", "")
        fra_cookie = _usignert(self._flyt_signer, request.cookies.get(FLYT_COOKIE))
        try:
            # Only the browser that began the login may finish it (login CSRF).
            forsoket = (await forsok.ta(state, self.clock()) if fra_cookie and state
                        and hmac.compare_digest(state, fra_cookie) else None)
        except forsok.AlleredeBrukt:
            log.warning("login refused: its callback was used before")
            return feilside(request, _("Innloggingslenken er allerede brukt"),
                            _("Denne innloggingen er allerede fullført eller avbrutt, og lenken "
                              "kan bare brukes én gang. Start innloggingen på nytt."),
                            status=400, lenke=("/admin/logg-inn", _("Logg inn på nytt")),
                            tilbake=STI)
        if request.query_params.get("error") == "access_denied":
            return self._mislykket(request, N_("Du avbrøt innloggingen."))
        if forsoket is None:
            log.info("login refused: no login begun in this browser has this state")
            return self._mislykket(request, N_("Innloggingen kunne ikke bekreftes. Det kan skje "
                                               "hvis du brukte tilbake-knappen eller ventet for "
                                               "lenge."))
        kode = request.query_params.get("code")
        if request.query_params.get("error") or not kode:
            log.info("login refused by the provider: %s",
                     request.query_params.get("error", "no code")[:40])
            return self._mislykket(request, IKKE_BEKREFTET)
        try:
            token = await klient.innlos(kode, forsoket.verifier, forsoket.nonce)
        except OAuthError as exc:
            log.info("login refused by the OpenID client: %s", exc.error)
            return self._mislykket(request, IKKE_BEKREFTET)
        except (httpx2.HTTPError, ValueError) as exc:
            return self._utilgjengelig(request, exc, tilbake=STI)
        except Exception as exc:  # a token authlib/joserfc refuses (signature, claims)
            log.warning("an ID token was refused: %s", type(exc).__name__)
            return self._mislykket(request, IKKE_BEKREFTET)
        claims = token.get("userinfo") or {}
        pid, acr = claims.get("pid"), claims.get("acr")
        if not isinstance(acr, str) or not godtatt_acr(acr, klient.acr):
            log.info("login refused: security level too low")
            return feilside(request, _("Sikkerhetsnivået er for lavt"),
                            _("Tilgangsstyringen krever innlogging på sikkerhetsnivå betydelig "
                              "eller høyt (for eksempel MinID med kode på SMS, BankID eller "
                              "Buypass)."), status=403,
                            lenke=("/admin/logg-inn", _("Logg inn igjen")), tilbake=STI)
        if not isinstance(pid, str) or problem(pid) is not None:
            log.warning("login refused: the ID token names no valid pid")
            return self._mislykket(request, N_("Innloggingen ga ikke et gyldig "
                                               "fødselsnummer."))
        gammel = self._nokkel(request)
        if gammel:  # a new login never reuses a session (fixation)
            await okter.avslutt(gammel)
        nokkel = await okter.opprett(pid, acr, klient.issuer, token.get("id_token", ""),
                                     self.clock())
        log.info("access manager logged in")
        response = RedirectResponse(trygg_neste(forsoket.neste), status_code=303)
        self._sett_cookie(request, response, nokkel)
        return response

    async def logg_ut(self, request: Request) -> Response:
        """Logout: the session ended here at once, then the provider's session (RP-initiated
        logout). The form must carry the session's token; without a session there is nothing
        to protect and the person is simply logged out."""
        nokkel = self._nokkel(request)
        person = await okter.hent(nokkel, self.clock()) if nokkel else None
        if person is not None:
            async with request.form(max_fields=5) as form:
                gitt = form.get(CSRF_FELT)
            try:
                self.sjekk_csrf(request, person, gitt if isinstance(gitt, str) else None)
            except UgyldigSkjema as exc:
                _ = tekster(request)
                return feilside(request, _("Utloggingen ble avvist"), _(exc.message),
                                status=403,
                                lenke=("/admin", _("Tilbake til tilgangsstyringen")),
                                innlogget=False)
            assert nokkel is not None
            await okter.avslutt(nokkel)
            log.info("access manager logged out")
        response: Response = RedirectResponse("/admin/logget-ut", status_code=303)
        if person is not None and self.tilbyder.finnes:
            klient = self.tilbyder.klient(request)
            try:
                utlogging = await klient.oauth.create_logout_url(
                    post_logout_redirect_uri=klient.logget_ut_url,
                    id_token_hint=person.id_token,
                )
                response = RedirectResponse(utlogging["url"], status_code=303)
            except (httpx2.HTTPError, ValueError, RuntimeError) as exc:
                log.warning("the provider's logout could not be reached: %s",
                            type(exc).__name__)
        self._slett_cookie(request, response)
        return response

    async def logget_ut(self, request: Request) -> Response:
        _ = tekster(request)
        return side(request, PAKKE, "logget_ut.html",
                    {"tittel": _("Du er logget ut"), "innlogget": False,
                     "csrf": None})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin/logg-inn", self.logg_inn, methods=["GET"]),
            Route("/admin/innlogget", self.innlogget_svar, methods=["GET"]),
            Route("/admin/logg-ut", self.logg_ut, methods=["POST"]),
            Route("/admin/logget-ut", self.logget_ut, methods=["GET"]),
        ]


def _usignert(signer: Signer, verdi: str | None) -> str | None:
    """A cookie's value, if we signed it."""
    if not verdi:
        return None
    try:
        return signer.unsign(verdi).decode()
    except BadSignature:
        return None
