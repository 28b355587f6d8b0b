"""The service's own origin, as the browser sees it: what the login's addresses are built on
and what a form post's Origin must be."""

from __future__ import annotations

from starlette.requests import Request

from app.config import Settings


def opphav(settings: Settings, request: Request) -> str:
    """KRR_PUBLIC_URL (required in prod with the login: behind a load balancer the service is
    reached at another address than the browser's); without it, the request's own origin (its
    Host, and its scheme as a trusted proxy said, KRR_TRUSTED_PROXIES)."""
    return settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
