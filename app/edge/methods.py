"""The methods each path serves, as clients are told them: a plain OPTIONS is answered with
them (`Allow`, RFC 9110 9.3.7), and the router's own 405 names the same, so the two agree with
each other and with what the routes take.

starlette answers OPTIONS with a 405 (a browser's preflight too), and where two routes share a
path (a page's GET and its form's POST) its 405 names the first one's methods only. Here a
path's methods are the union of every route at it: a Route's own (HEAD with GET, as starlette
serves it), a mounted directory's GET and HEAD (the app's mounts are static files), and OPTIONS
itself; narrowed where a route takes a method only to refuse it with a reason of its own (in
prod, `GET /graphql` only ever says to POST). A handler's own 405 keeps its own `Allow`.

Answered before any route: an OPTIONS carries no token and no body, and costs nothing to answer
(no charge, no deadline).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = frozenset({"GET", "HEAD"})  # what a mounted directory of files serves
OPTIONS = "OPTIONS"


class Methods:
    """The methods served at each path of `routes`; `narrowed`: route path -> the methods it
    serves, where that is fewer than it takes."""

    def __init__(self, routes: Sequence[BaseRoute],
                 narrowed: Mapping[str, frozenset[str]] | None = None) -> None:
        for route in routes:
            assert not isinstance(route, Route) or route.methods is not None, (
                f"{route.path}: a route names its methods (Allow is made from them)")
        self.routes = tuple(routes)
        self.narrowed = dict(narrowed or {})

    def _at(self, scope: Scope) -> Iterator[tuple[frozenset[str], frozenset[str]]]:
        """For each route at the request's path: what it takes, and what it serves."""
        for route in self.routes:
            if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
                taken = frozenset(route.methods or ())
                yield taken, self.narrowed.get(route.path, taken)
            elif isinstance(route, Mount) and route.matches(scope)[0] is not Match.NONE:
                yield STATIC, STATIC

    def served(self, scope: Scope) -> frozenset[str] | None:
        """The methods served at the request's path, OPTIONS included; None: nothing is."""
        found = [served for _, served in self._at(scope)]
        return frozenset().union(*found, {OPTIONS}) if found else None

    def taken(self, scope: Scope) -> bool:
        """Whether a route at the request's path takes its method (any 405 is then that
        route's own)."""
        return any(scope["method"] in taken for taken, _ in self._at(scope))


def as_asked(scope: Scope) -> Scope:
    """What the routes are matched on, as the request came."""
    return {"type": scope["type"], "method": scope["method"], "path": scope["path"],
            "root_path": scope.get("root_path", "")}


def allow(methods: frozenset[str]) -> str:
    """The `Allow` field: the methods in alphabetical order."""
    return ", ".join(sorted(methods))


class Allowed:
    """ASGI middleware: a plain OPTIONS answered 204 with `Allow`; the router's 405 (no route at
    the path takes the method) given the same `Allow`. A path nothing serves is the router's
    (404)."""

    def __init__(self, app: ASGIApp, methods: Methods) -> None:
        self.app = app
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == OPTIONS:
            served = self.methods.served(scope)
            if served is not None:
                await Response(status_code=204, headers={"Allow": allow(served)})(
                    scope, receive, send)
                return

        asked = as_asked(scope)  # the router rewrites the scope's paths on its way to a mount

        async def send_with_allow(message: Message) -> None:
            if (message["type"] == "http.response.start" and message["status"] == 405
                    and not self.methods.taken(asked)):
                served = self.methods.served(asked)
                if served is not None:
                    message.setdefault("headers", [])
                    MutableHeaders(scope=message)["Allow"] = allow(served)
            await send(message)

        await self.app(scope, receive, send_with_allow)
