"""The router's own redirect, a path with a trailing slash to the path without it, made safe:
starlette's builds an absolute Location from the Host header (`Host: evil.example` sends the
browser there) and answers every method, POST included, with a 307 (a body of national ids
sent again wherever the Location says).

Here only GET and HEAD are redirected, and with a relative Location (the path, and the query
as it came): the browser stays on the origin it used, whatever the Host header said or the
load balancer in front. Anything else is starlette's 404, in the edge's one shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send

REDIRECTED = frozenset({"GET", "HEAD"})


def without_slash(scope: Scope, routes: Sequence[BaseRoute]) -> str | None:
    """The relative address a GET of this path with a trailing slash is redirected to: the
    same path without it, when a route takes that; else None."""
    path: str = scope["path"]
    if scope["type"] != "http" or scope["method"] not in REDIRECTED or not path.endswith("/"):
        return None
    target = path.rstrip("/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None  # "//host" would be an address on another site
    if not any(route.matches({**scope, "path": target})[0] is Match.FULL for route in routes):
        return None
    query = scope["query_string"].decode("latin-1")
    return f"{target}?{query}" if query else target


def redirect_slashes_relatively(router: Router) -> None:
    """`router` (a Starlette app's) with starlette's redirect replaced by `without_slash`."""
    routes, not_found = router.routes, router.default

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        location = without_slash(scope, routes)
        if location is None:
            await not_found(scope, receive, send)  # the app's 404, in the one shape
        else:
            await RedirectResponse(location, status_code=307)(scope, receive, send)

    router.redirect_slashes = False
    router.default = redirect_or_not_found
