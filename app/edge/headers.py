"""The headers every answer carries, in one place: what a cache, a browser and a frame may do
with it (docs/deployment.md, "Headers on every answer and compression").

- No cache keeps an answer: `Cache-Control: no-cache, no-store, max-age=0, must-revalidate`,
  `Pragma: no-cache`, `Expires: 0`, as the real register sends them (Spring Security's
  defaults), on every answer that does not say itself how it may be kept. Answers of GraphQL and
  REST, refusals, the pages, the login: any of them may hold a person's data, or say whose
  lookup was refused. Only what holds nobody's data says otherwise where it is made: the
  published keys, the public key figures, GraphiQL's page and the static files (`cacheable`).
- `X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY` on every answer (the pages'
  Content-Security-Policy says `frame-ancestors 'none'` too).
- `Strict-Transport-Security` only on an answer to a request that came over https, as the
  service sees it: uvicorn takes the scheme from `X-Forwarded-Proto` only when the load balancer
  is one of KRR_TRUSTED_PROXIES. Over plain http a browser ignores it (RFC 6797 8.1), and a
  service reached by http has no business promising https for its host.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOT_KEPT = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}
EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# A year, and the host's subdomains (Spring Security's default, which the real register sends);
# not `preload`: that is the domain owner's commitment, made with the browsers' list.
HSTS = "max-age=31536000; includeSubDomains"
# What the static files may be kept as: revalidated on every use (their ETag and
# Last-Modified make that a 304), as their names carry no version.
STATIC = "no-cache"


def add_answer_headers(headers: MutableHeaders, *, https: bool) -> None:
    """The headers above, on one answer; `https`: the request came over https."""
    if "cache-control" not in headers:
        headers.update(NOT_KEPT)
    headers.update(EVERY_ANSWER)
    if https:
        headers["Strict-Transport-Security"] = HSTS


class AnswerHeaders:
    """ASGI middleware: every answer the app sends gets them (Starlette's 500 answer, made
    outside every middleware, gets them from its handler, app.edge.app)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                add_answer_headers(headers, https=https)
                message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, with_headers)


class Cacheable:
    """An app whose successful answers hold nobody's data (static files) and say so:
    `Cache-Control: policy` on its 200 and 304 answers; anything else it answers (a 404) is
    left to the default."""

    def __init__(self, app: ASGIApp, policy: str = STATIC) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                headers["Cache-Control"] = self.policy
                message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, with_policy)
