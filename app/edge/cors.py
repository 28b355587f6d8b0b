"""Pages on other origins calling the API from a browser (CORS, the Fetch standard).

A browser lets a page read an answer from another origin only when the answer names the page's
origin (`Access-Control-Allow-Origin`), and before a request no plain form could send (JSON,
an `Authorization` header) it asks with a preflight: an OPTIONS naming the method and headers.
Here, before any route (a preflight carries no token and no body, and costs nothing to answer:
it is not charged, nor checked for a token or a media type):

- a preflight on the API (GraphQL, REST, the test register's export, the published keys) from
  an origin KRR_CORS_ORIGINS allows (app.config): 204 naming that origin, the methods the path
  serves (app.edge.methods), the headers the API reads and how long the browser may keep this.
  What the page asked for is not judged here: the browser compares it with these, and names
  in its console a method or header that is not among them;
- any other preflight (an origin not allowed; the pages for people, the login, the probes): 403
  in the one error shape, naming nothing, so the browser sends nothing;
- every answer of the API: `Vary: Origin` (unless no origin may call), and for an allowed
  origin its name and the headers a client reads back (the rate limit's, `Retry-After`,
  `X-Request-ID`, `WWW-Authenticate`), whatever the status: a 401 or a 429 is read as much as a
  200, and a bug's 500, which the app answers outside every middleware, with its request id
  (`on_failure`).

Never `Access-Control-Allow-Credentials`: a page calls with a bearer token it holds, never with
the browser's cookies (the API sets none; the pages' session cookie is for /admin only).

starlette's CORSMiddleware does not do this: it answers a preflight on every path alike (one
list of methods, 200 where no route is), refuses with 400 carrying its allowances, and sends
`Access-Control-Expose-Headers` to origins it does not allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import CORS_ORIGINS, CorsOrigins
from app.edge.methods import Allowed, Methods, allow
from app.edge.responses import error_response
from app.edge.signed import JWKS_PATH
from app.errors import FORBIDDEN
from app.faults import Answer

# The headers the API reads from a request (the rest of what a page may send is safelisted).
REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept", "X-Request-ID")
# The headers of an answer a client reads back (the safelisted ones, Content-Type among them,
# need no naming).
EXPOSED = ("RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-ID", "WWW-Authenticate")
# Seconds a browser may keep a preflight's answer: an origin taken off the list stops being
# sent requests within this (its pages never read another answer from the moment it is off).
MAX_AGE = 600
NOT_THE_API = "Only the API (/graphql, /rest/...) may be called from pages on other origins"
NOT_ALLOWED = (f"Pages on this origin may not call the API: the operator names the origins that "
               f"may ({CORS_ORIGINS})")
STATE = "cors"  # the request's state: what Cors adds to its answer
# What a preflight's answer says beyond the origin and the methods.
PREFLIGHT = {"Access-Control-Allow-Headers": ", ".join(REQUEST_HEADERS),
             "Access-Control-Max-Age": str(MAX_AGE), "Vary": "Origin"}


def readable_by(origin: str) -> dict[str, str]:
    """The fields that let a page on `origin` read an answer and what clients read of it."""
    return {"Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": ", ".join(EXPOSED)}


def on_failure(request: Request, response: Response) -> None:
    """An answer made outside every middleware (a bug's 500, by the app's last handler) as
    `Cors` would have sent it: a page reads the request id it names."""
    readable = getattr(request.state, STATE, None)
    if readable:
        response.headers.update(readable)
        response.headers.add_vary_header("Origin")


def for_programs(path: str) -> bool:
    """The API, which pages on other origins may call: GraphQL, the REST routes, the test
    register's export and the keys signed answers are checked with."""
    return path in ("/graphql", JWKS_PATH) or path.startswith(("/rest/", "/export/"))


def preflight(scope: Scope, headers: Headers) -> bool:
    """A browser's preflight (an OPTIONS with an Origin naming the method to come)."""
    return (scope["method"] == "OPTIONS" and "origin" in headers
            and "access-control-request-method" in headers)


class Cors:
    """ASGI middleware: the preflights and the API's answers, as above."""

    def __init__(self, app: ASGIApp, origins: CorsOrigins, methods: Methods) -> None:
        self.app = app
        self.origins = origins
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        api = for_programs(scope["path"])
        origin = headers.get("origin")
        allowed = api and origin is not None and self.origins.allows(origin)
        if preflight(scope, headers):
            served = self.methods.served(scope)
            if served is not None:  # else no route is there: the router's 404
                await self._preflight(origin if allowed else None, served, api)(
                    scope, receive, send)
                return
        if not api:
            await self.app(scope, receive, send)
            return
        readable = readable_by(origin) if allowed and origin is not None else {}
        # Kept for an answer made outside every middleware (a bug's 500: `on_failure`).
        scope.setdefault("state", {})[STATE] = readable

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                fields = MutableHeaders(scope=message)
                if not self.origins.empty:  # else no answer depends on the Origin
                    fields.add_vary_header("Origin")
                fields.update(readable)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str | None, served: frozenset[str], api: bool) -> Response:
        """Allowed (204, for `origin`) or not (403, naming nothing)."""
        if origin is None:
            message = NOT_ALLOWED if api else NOT_THE_API
            return error_response(Answer(403, message, {"code": FORBIDDEN}, {"Vary": "Origin"}))
        # HEAD is a method no preflight is needed for; OPTIONS, the preflight's own.
        methods = allow(served - {"HEAD", "OPTIONS"})
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": methods,
            **PREFLIGHT})


def middleware(routes: Sequence[BaseRoute], origins: CorsOrigins,
               narrowed: Mapping[str, frozenset[str]]) -> list[Middleware]:
    """The app's middleware for both: `Cors` first (a preflight is answered there), then
    `Allowed` (a plain OPTIONS; the router's 405), from one table of the paths' methods."""
    methods = Methods(routes, narrowed)
    return [Middleware(Cors, origins=origins, methods=methods),
            Middleware(Allowed, methods=methods)]
