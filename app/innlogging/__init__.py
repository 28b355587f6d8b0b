"""The access managers' login: OpenID Connect with ID-porten (or, outside prod, the development
provider) through authlib's Starlette client, and server-side sessions for the pages."""

from app.innlogging.okter import Innlogget
from app.innlogging.tjeneste import (
    CSRF_FELT,
    Innlogging,
    UgyldigSkjema,
    csrf_token,
    skjema_til,
)

__all__ = ["CSRF_FELT", "Innlogget", "Innlogging", "UgyldigSkjema", "csrf_token", "skjema_til"]
