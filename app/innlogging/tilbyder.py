"""The OpenID provider the page logs people in with, through authlib's Starlette client.

In prod that is ID-porten (KRR_IDPORTEN_*): discovery from its
`.well-known/openid-configuration`, client authentication by secret or by `private_key_jwt`,
PKCE (S256), `state` and `nonce`, the ID token's signature, issuer, audience, times and nonce
checked by authlib, its times with at most SKJEVHET seconds of clock skew (authlib's default
is two minutes). Outside prod, unless KRR_IDPORTEN_* points elsewhere, it is the development
provider built into the service (app.innlogging.utvikler), reached through the same authlib
code; only its back channel (discovery, token, keys) goes straight into the app in process
instead of over the network, so it runs offline and wherever the service is reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from starlette.requests import Request

from app.config import ACR_LEVELS, ConfigError, Idporten, Settings
from app.innlogging.adresse import opphav
from app.innlogging.hemmelighet import avledet

UTVIKLER_STI = "/dev/oidc"  # the development provider's issuer path
UTVIKLER_KLIENT = "krr-tilgangsstyring"
INNLOGGET_STI = "/admin/innlogget"
LOGGET_UT_STI = "/admin/logget-ut"
MAKS_ADRESSER = 16  # development clients, one per Host a browser used: not one per forged Host
# Seconds of clock skew allowed on the ID token's exp, nbf and iat: ID-porten's clocks and ours
# are both kept by NTP; a token that expired a minute ago is not taken as fresh.
SKJEVHET = 5


def utvikler_klienthemmelighet(hemmelighet: str) -> str:
    """The development provider's one client secret, known to both sides of the process."""
    return avledet(hemmelighet, "krr-dev-op-klient").hex()


@dataclass(frozen=True, slots=True)
class Klient:
    """One configured provider: authlib's client and where it sends the browser back."""

    oauth: StarletteOAuth2App
    issuer: str
    redirect_url: str
    logget_ut_url: str
    acr: str

    async def innlos(self, kode: str, verifier: str, nonce: str) -> dict[str, Any]:
        """The provider's code redeemed (with the PKCE verifier) and its ID token checked:
        signature, issuer, audience, nonce, and exp, nbf and iat within SKJEVHET. The token
        answer, its checked claims under "userinfo"; OAuthError if the provider refuses."""
        token: dict[str, Any] = await self.oauth.fetch_access_token(
            redirect_uri=self.redirect_url, code=kode, code_verifier=verifier)
        if "id_token" not in token:
            raise OAuthError(error="invalid_grant", description="the answer has no ID token")
        token["userinfo"] = await self.oauth.parse_id_token(token, nonce=nonce,
                                                             leeway=SKJEVHET)
        return token

    @property
    def opphav(self) -> str:
        """The provider's origin (forms that log out lead there: Content-Security-Policy)."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"


def godtatt_acr(acr: object, minst: str) -> bool:
    """Is `acr` one of ID-porten's levels, at least `minst`?"""
    return (isinstance(acr, str) and acr in ACR_LEVELS
            and ACR_LEVELS.index(acr) >= ACR_LEVELS.index(minst))


def _nokkel(path: str) -> RSAKey:
    try:
        with open(path, "rb") as fh:
            key = RSAKey.import_key(fh.read())
    except (OSError, ValueError, JoseError) as exc:
        raise ConfigError(f"KRR_IDPORTEN_CLIENT_KEY is not a readable RSA private key (PEM): "
                          f"{type(exc).__name__}") from exc
    if not key.is_private:
        raise ConfigError("KRR_IDPORTEN_CLIENT_KEY holds no private key")
    key.ensure_kid()
    return key


class Tilbyder:
    """The clients, made once: ID-porten's, or one development client per address the service
    is reached at (the development provider's issuer is that address + /dev/oidc)."""

    def __init__(self, settings: Settings, hemmelighet: str,
                 transport: httpx2.AsyncBaseTransport | None) -> None:
        self._settings = settings
        self._hemmelighet = hemmelighet
        self._transport = transport
        self._oauth = OAuth()
        self._klienter: dict[str, Klient] = {}
        self._idporten = self._idporten_klient(settings.idporten) if settings.idporten else None
        # Outside prod the development provider's back channel (the app itself, in process);
        # in tests, a stand-in ID-porten. None: the network.

    @property
    def finnes(self) -> bool:
        """False in prod without KRR_IDPORTEN_*: nobody can log in."""
        return self._idporten is not None or not self._settings.is_prod

    def _idporten_klient(self, idporten: Idporten) -> Klient:
        kwargs: dict[str, object] = {}
        if idporten.client_key is not None:
            key = _nokkel(str(idporten.client_key))
            kwargs = {
                "client_secret": key,
                "client_auth_methods": [PrivateKeyJWT(idporten.issuer,
                                                      headers={"kid": key.kid})],
            }
            metode = "private_key_jwt"
        else:
            kwargs = {"client_secret": idporten.client_secret}
            metode = "client_secret_basic"
        oauth = self._oauth.register(
            "idporten", client_id=idporten.client_id,
            server_metadata_url=f"{idporten.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile", "code_challenge_method": "S256",
                           "token_endpoint_auth_method": metode,
                           "timeout": httpx2.Timeout(10.0), "transport": self._transport},
            **kwargs,
        )
        redirect = idporten.redirect_url
        base = redirect[: -len(INNLOGGET_STI)]
        return Klient(oauth, idporten.issuer, redirect, base + LOGGET_UT_STI, idporten.acr)

    @property
    def adresser(self) -> int:
        """How many development clients exist (one per address, at most MAKS_ADRESSER)."""
        return len(self._klienter)

    def klient(self, request: Request) -> Klient:
        """The client for this request (ID-porten's, or the development client of the
        address the browser used). Only called when `finnes`."""
        if self._idporten is not None:
            return self._idporten
        base = opphav(self._settings, request)
        klient = self._klienter.get(base)
        if klient is None and len(self._klienter) >= MAKS_ADRESSER:
            return next(iter(self._klienter.values()))  # the first address, not a new client
        if klient is None:
            issuer = base + UTVIKLER_STI
            oauth = self._oauth.register(
                f"utvikler{len(self._klienter)}", client_id=UTVIKLER_KLIENT,
                client_secret=utvikler_klienthemmelighet(self._hemmelighet),
                server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                client_kwargs={"scope": "openid profile", "code_challenge_method": "S256",
                               "token_endpoint_auth_method": "client_secret_basic",
                               "transport": self._transport},
            )
            klient = Klient(oauth, issuer, base + INNLOGGET_STI, base + LOGGET_UT_STI,
                            ACR_LEVELS[0])
            self._klienter[base] = klient
        return klient
