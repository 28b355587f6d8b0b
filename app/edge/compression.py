"""Answers compressed when the client asks (Accept-Encoding): a 1000-person lookup of every
field is about 1.2 MB of JSON on the synthetic register, 100 KB gzip, 80 KB br.

The coding is the one Accept-Encoding gives the highest quality (RFC 9110 12.5.3), br before
gzip when they tie, none when neither is accepted above q=0 (or the header is absent);
starlette-compress does the compressing (Content-Encoding, Content-Length, `Vary:
Accept-Encoding`, streamed answers compressed as they stream). Answers under MINIMUM_SIZE (the
refusals, a lookup of a few persons) go as they are: compressing them saves a few hundred bytes
at most. Pages are never compressed (below). The levels are chosen by bench/compression.py
(README, "Compression"): each costs a fraction of the lookup it follows, and a higher one buys
little for much more CPU (br 11 would cost some sixty lookups' time on every answer anyone asks
it for). A signed answer (`application/jose`) is compressed too: the JWS is the content and its
signature covers it, not the bytes on the wire, so the client verifies what it has decoded.
Bodies sent to the service are never decoded (a request's `Content-Encoding` is not honoured),
so a small compressed body cannot unpack into a large one here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_compress import CompressMiddleware, add_compress_type, remove_compress_type

from app.edge.accept import ranges

GZIP_LEVEL = 6
BROTLI_QUALITY = 4
MINIMUM_SIZE = 1024  # bytes of the answer as it is
CODINGS = ("br", "gzip")  # the service's preference, when the client's qualities tie
# starlette-compress compresses the media types of its own list (JSON, CSS, JavaScript, ...);
# these are the service's others: GraphQL's response type, the signed answers, the export.
for media_type in ("application/graphql-response+json", "application/jose", "text/csv"):
    add_compress_type(media_type)
# Pages are never compressed: a page under /admin holds the session's CSRF token beside what the
# person typed, and a compressed page's length would let someone who can watch the traffic and
# make the browser ask for pages guess the token a character at a time (BREACH). They are a few
# KB. The API has no such secret to guess: its credentials are bearer tokens, which a browser
# never adds by itself, so no other site can make it ask for an answer.
remove_compress_type("text/html")


def coding_for(accept_encoding: str) -> str | None:
    """The coding to answer in (None: as it is), from the request's Accept-Encoding."""
    accepted = ranges(accept_encoding)
    wildcard = max((q for coding, q in accepted if coding == "*"), default=0.0)

    def quality(coding: str) -> float:
        named = [q for name, q in accepted if name == coding]
        return max(named) if named else wildcard

    best = max(CODINGS, key=quality)  # max keeps the first of equals: br on a tie
    return best if quality(best) > 0 else None


class Compressed:
    """ASGI middleware: the answer in the coding chosen for its request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # One of starlette-compress's middlewares per coding, each with that coding alone, so
        # that the choice above is the one made; the last compresses nothing but still says
        # `Vary: Accept-Encoding` where another request would have been answered compressed.
        self.by_coding: dict[str | None, ASGIApp] = {
            "br": CompressMiddleware(app, minimum_size=MINIMUM_SIZE, zstd=False, gzip=False,
                                     brotli_quality=BROTLI_QUALITY),
            "gzip": CompressMiddleware(app, minimum_size=MINIMUM_SIZE, zstd=False, brotli=False,
                                       gzip_level=GZIP_LEVEL),
            None: CompressMiddleware(app, minimum_size=MINIMUM_SIZE, zstd=False, brotli=False,
                                     gzip=False),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = ", ".join(value.decode("latin-1") for name, value in scope["headers"]
                          if name == b"accept-encoding")
        await self.by_coding[coding_for(asked)](scope, receive, send)
