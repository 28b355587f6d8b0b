"""Signed answers over HTTP: when a route that may sign is asked for `application/jose`, its 200
JSON answer goes out as a compact JWS (app.signing) instead; and the keys to check one with, at
GET /.well-known/jwks.json.

Asked for means preferred: `application/jose` with a higher quality than `application/json` in
Accept (each judged by the most specific range that matches it, RFC 9110 12.5.1). `*/*`, no
Accept, a tie or JSON preferred: plain JSON, as before. Only a 200 is signed: a refusal or
failure (>= 400) stays in the one JSON error shape, since it proves nothing about the register's
data; a GraphQL 200 that carries errors is an answer like any other and is signed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.edge.accept import quality_of, ranges
from app.errors import NotAcceptable
from app.foresporsel import Foresporsel
from app.signing.keys import VARIABLE
from app.signing.signer import PublishedKeys, Signer

JOSE = "application/jose"
JSON = "application/json"
JWKS_PATH = "/.well-known/jwks.json"
JWKS_CACHE_CONTROL = "public, max-age=300"
NO_KEY = (f"Signed answers ({JOSE}) need {VARIABLE}, which this service runs without; "
          f"ask for {JSON}")


def prefers_signed(accept: str | None) -> bool:
    if not accept:
        return False
    accepted = ranges(accept)
    jose = quality_of(JOSE, accepted)
    return jose > 0 and jose > quality_of(JSON, accepted)


def signer_for_request(request: Request, signer: Signer | None) -> Signer | None:
    """The signer when the request asks for a signed answer, None when it asks for JSON;
    NotAcceptable (406) when it asks for one this service cannot give."""
    if not prefers_signed(request.headers.get("accept")):
        return None
    if signer is None:
        raise NotAcceptable(NO_KEY)
    return signer


async def signed(response: Response, signer: Signer, foresporsel: Foresporsel) -> Response:
    """`response` signed when it is a 200 JSON answer; anything else as it is."""
    if (
        response.status_code != 200
        or isinstance(response, StreamingResponse)
        or not response.headers.get("content-type", "").startswith(JSON)
    ):
        return response
    token = await signer.sign(bytes(response.body), foresporsel)
    answer = Response(token, status_code=200, media_type=JOSE)
    answer.raw_headers.extend(
        (name, value) for name, value in response.raw_headers
        if name not in (b"content-type", b"content-length")
    )
    return answer


def vary_on_accept(response: Response) -> None:
    """A cache must keep JSON and signed answers apart."""
    vary = response.headers.get("vary")
    if not vary:
        response.headers["Vary"] = "Accept"
    elif "accept" not in {v.strip().lower() for v in vary.split(",")}:
        response.headers["Vary"] = f"{vary}, Accept"


def jwks(keys: PublishedKeys) -> Callable[[Request], Awaitable[Response]]:
    """GET /.well-known/jwks.json: public, no token; caches may keep it five minutes."""

    async def endpoint(_: Request) -> Response:
        return Response(orjson.dumps(await keys.document()), media_type=JSON,
                        headers={"Cache-Control": JWKS_CACHE_CONTROL})

    return endpoint
