"""The development OpenID provider (dev and test only; absent in prod): just enough of
ID-porten for the login to run offline through the same authlib code as in prod.

Discovery, authorize (a form to choose a test person and the security level, or to cancel),
token (authorization code with PKCE S256 and client_secret_basic), JWKS and end session, under
/dev/oidc. ID tokens are signed with the development issuer's key (authz.dev_issuer) but carry
this provider's own issuer, so the API never takes one for an API token. Codes are sealed
(Fernet, 60 seconds) rather than stored, so any worker can redeem them; a code is redeemed once
per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.config import ACR_LEVELS, Settings
from app.innlogging.adresse import opphav
from app.innlogging.hemmelighet import avledet
from app.innlogging.tilbyder import (
    INNLOGGET_STI,
    LOGGET_UT_STI,
    UTVIKLER_KLIENT,
    UTVIKLER_STI,
    utvikler_klienthemmelighet,
)
from app.sider.sprak import N_, tekster
from app.sider.svar import feilside, side
from authz.dev_issuer import DevIssuer
from authz.identifikatorer import problem

PAKKE = "app.innlogging"
KODE_SEKUNDER = 60
ID_TOKEN_SEKUNDER = 120
AUTHORIZE_FELT = ("client_id", "redirect_uri", "state", "nonce", "code_challenge",
                  "code_challenge_method", "acr_values", "scope")

Forslag = Callable[[], Awaitable[Sequence[tuple[str, str]]]]  # (pid, what they manage)


@dataclass(frozen=True, slots=True)
class Utvikler:
    settings: Settings
    issuer_nokkel: DevIssuer
    hemmelighet: str
    forslag: Forslag  # test persons to offer (the registered access managers)

    # --- helpers -----------------------------------------------------------------------------

    def _issuer(self, request: Request) -> str:
        base = opphav(self.settings, request)
        return base + UTVIKLER_STI

    def _fernet(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(avledet(self.hemmelighet, "krr-dev-op-kode")))

    def _gyldig_retur(self, request: Request, uri: str, sti: str) -> bool:
        """Only this service's own callback may receive a code (a registered redirect URI)."""
        issuer, mal = urlsplit(self._issuer(request)), urlsplit(uri)
        return (mal.scheme, mal.netloc, mal.path) == (issuer.scheme, issuer.netloc, sti)

    def _feil(self, request: Request, tekst: str) -> Response:
        """The login cannot go on; `tekst` (a msgid) says why."""
        _ = tekster(request)
        return feilside(request, _("Innloggingen kan ikke fortsette"), _(tekst), status=400,
                        lenke=("/admin", _("Prøv å logge inn på nytt")))

    # --- endpoints -----------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        issuer = self._issuer(request)
        return JSONResponse({
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "end_session_endpoint": f"{issuer}/endsession",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "acr_values_supported": list(ACR_LEVELS),
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "acr", "amr",
                                 "pid", "sid", "auth_time"],
            "ui_locales_supported": ["nb", "nn", "en"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.issuer_nokkel.jwks())

    def _foresporsel(self, request: Request, verdier: dict[str, str]) -> str | None:
        """Why an authorize request is refused, or None."""
        if verdier.get("client_id") != UTVIKLER_KLIENT:
            return N_("Ukjent klient.")
        if not self._gyldig_retur(request, verdier.get("redirect_uri", ""), INNLOGGET_STI):
            return N_("Adressen innloggingen skal sendes tilbake til, er ikke registrert.")
        if not verdier.get("state") or not verdier.get("nonce"):
            return N_("Forespørselen mangler state eller nonce.")
        if verdier.get("code_challenge_method") != "S256" or not verdier.get("code_challenge"):
            return N_("Forespørselen mangler PKCE (code_challenge med S256).")
        if "openid" not in verdier.get("scope", "").split():
            return N_("Forespørselen ber ikke om openid.")
        return None

    async def authorize(self, request: Request) -> Response:
        """The login form: a test person (one of the registered access managers, or any
        national id typed in) and a security level."""
        verdier = {k: request.query_params.get(k, "") for k in AUTHORIZE_FELT}
        grunn = self._foresporsel(request, verdier)
        if grunn:
            return self._feil(request, grunn)
        personer = await self.forslag()
        acr = verdier["acr_values"] if verdier["acr_values"] in ACR_LEVELS else ACR_LEVELS[0]
        _ = tekster(request)
        return side(request, PAKKE, "velg_person.html", {
            "tittel": _("Logg inn med testperson"), "innlogget": False, "csrf": None,
            "felt": {k: v for k, v in verdier.items() if k != "acr_values"},
            "personer": personer, "acr": acr, "nivaaer": ACR_LEVELS, "feil": None,
        })

    async def logg_inn(self, request: Request) -> Response:
        """The form's answer: back to the service with a code, or with access_denied."""
        async with request.form(max_fields=30) as form:
            verdier = {k: str(form.get(k, "")) for k in AUTHORIZE_FELT}
            pid = str(form.get("pid", "")).strip() or str(form.get("valgt", "")).strip()
            acr = str(form.get("acr", ""))
            avbryt = "avbryt" in form
        grunn = self._foresporsel(request, verdier)
        if grunn:
            return self._feil(request, grunn)
        retur = verdier["redirect_uri"]
        if avbryt:
            query = urlencode({"error": "access_denied", "state": verdier["state"],
                               "error_description": "Brukeren avbrøt innloggingen"})
            return RedirectResponse(f"{retur}?{query}", status_code=303)
        if problem(pid) is not None or acr not in ACR_LEVELS:
            personer = await self.forslag()
            _ = tekster(request)
            # The chooser leads back to the form as the service asked for it (its GET).
            skjema = f"{UTVIKLER_STI}/authorize?" + urlencode(
                {**verdier, "acr_values": acr if acr in ACR_LEVELS else ACR_LEVELS[0]})
            return side(request, PAKKE, "velg_person.html", {
                "tittel": _("Logg inn med testperson"), "innlogget": False, "csrf": None,
                "felt": {k: v for k, v in verdier.items() if k != "acr_values"},
                "personer": personer, "acr": acr if acr in ACR_LEVELS else ACR_LEVELS[0],
                "nivaaer": ACR_LEVELS,
                "feil": _("Velg en testperson eller skriv et gyldig fødselsnummer "
                          "(11 siffer)."),
            }, status=400, tilbake=skjema)
        kode = self._fernet().encrypt(json.dumps({
            "pid": pid, "acr": acr, "nonce": verdier["nonce"], "uri": retur,
            "challenge": verdier["code_challenge"], "jti": secrets.token_urlsafe(12),
            "auth_time": int(time.time()),
        }).encode()).decode()
        issuer = self._issuer(request)
        query = urlencode({"code": kode, "state": verdier["state"], "iss": issuer})
        return RedirectResponse(f"{retur}?{query}", status_code=303)

    async def token(self, request: Request) -> Response:
        """Authorization code -> ID token, with the client's secret and the PKCE verifier."""
        async with request.form(max_fields=20) as form:
            felt = {k: str(v) for k, v in form.items()}
        if not self._klient_godkjent(request, felt):
            return _oauth_feil("invalid_client", "Client authentication failed", 401)
        if felt.get("grant_type") != "authorization_code":
            return _oauth_feil("unsupported_grant_type", "Only authorization_code")
        try:
            data = json.loads(self._fernet().decrypt(felt.get("code", "").encode(),
                                                     ttl=KODE_SEKUNDER))
        except (InvalidToken, ValueError):
            return _oauth_feil("invalid_grant", "The code is unknown or expired")
        if data["jti"] in _INNLOST:
            return _oauth_feil("invalid_grant", "The code was already used")
        if felt.get("redirect_uri") != data["uri"]:
            return _oauth_feil("invalid_grant", "redirect_uri differs from the authorize request")
        verifier = felt.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if not verifier or not hmac.compare_digest(challenge.rstrip(b"=").decode(),
                                                   data["challenge"]):
            return _oauth_feil("invalid_grant", "PKCE verification failed")
        _INNLOST[data["jti"]] = time.time() + KODE_SEKUNDER
        for jti, utloper in list(_INNLOST.items()):
            if utloper < time.time():
                del _INNLOST[jti]
        naa = int(time.time())
        issuer = self._issuer(request)
        id_token = self.issuer_nokkel.sign({
            "iss": issuer, "aud": UTVIKLER_KLIENT, "iat": naa, "exp": naa + ID_TOKEN_SEKUNDER,
            "sub": base64.urlsafe_b64encode(avledet(self.hemmelighet, data["pid"])).decode()[:43],
            "pid": data["pid"], "acr": data["acr"], "amr": ["TESTID"],
            "nonce": data["nonce"], "auth_time": data["auth_time"],
            "sid": secrets.token_urlsafe(16), "locale": "nb",
        })
        return JSONResponse({"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                             "expires_in": ID_TOKEN_SEKUNDER, "id_token": id_token,
                             "scope": "openid profile"})  # never kept: app.edge.headers

    def _klient_godkjent(self, request: Request, felt: dict[str, str]) -> bool:
        hemmelig = utvikler_klienthemmelighet(self.hemmelighet)
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                id_, _, gitt = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
        else:
            id_, gitt = felt.get("client_id", ""), felt.get("client_secret", "")
        return id_ == UTVIKLER_KLIENT and hmac.compare_digest(gitt, hemmelig)

    async def avslutt(self, request: Request) -> Response:
        """End session: back to the service's logged-out page with its state."""
        uri = request.query_params.get("post_logout_redirect_uri", "")
        state = request.query_params.get("state")
        if uri and self._gyldig_retur(request, uri, LOGGET_UT_STI):
            query = f"?{urlencode({'state': state})}" if state else ""
            return RedirectResponse(uri + query, status_code=303)
        _ = tekster(request)
        return side(request, PAKKE, "logget_ut.html",
                    {"tittel": _("Du er logget ut"), "innlogget": False,
                     "csrf": None})

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{UTVIKLER_STI}/.well-known/openid-configuration", self.discovery,
                  methods=["GET"]),
            Route(f"{UTVIKLER_STI}/authorize", self.authorize, methods=["GET"]),
            Route(f"{UTVIKLER_STI}/authorize", self.logg_inn, methods=["POST"]),
            Route(f"{UTVIKLER_STI}/token", self.token, methods=["POST"]),
            Route(f"{UTVIKLER_STI}/jwks", self.jwks, methods=["GET"]),
            Route(f"{UTVIKLER_STI}/endsession", self.avslutt, methods=["GET"]),
        ]


_INNLOST: dict[str, float] = {}  # codes redeemed in this process, until they expire anyway


def _oauth_feil(kode: str, tekst: str, status: int = 400) -> Response:
    return JSONResponse({"error": kode, "error_description": tekst}, status_code=status)
