"""Signed answers over HTTP: when a route that may sign is asked for `application/jose`, its 200
JSON answer goes out as a compact JWS (app.signing) instead; and the keys to check one with, at
GET /.well-known/jwks.json.

Asked for means preferred: `application/jose` with a higher quality than `application/json` in
Accept (each judged by the most specific range that matches it, RFC 9110 12.5.1). `*/*`, no
Accept, a tie or JSON preferred: plain JSON, as before. Only a 200 is signed: a refusal or
failure (>= 400) stays in the one JSON error shape, since it proves nothing about the register's
data.

A signed answer must mean the same to whoever reads only its payload, and say only what the
register says. So it binds the question it answers (the `request` claim: method, path, the
body's hash and what the route adds, GraphQL's document), and a route refuses to sign what
the caller could make read otherwise (GraphQL: aliases, and errors other than the register's
own refusals of a field, which may quote what the caller sent).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterable

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app import logs
from app.edge.accept import quality_of, ranges
from app.errors import FORBIDDEN, GRAPHQL_VALIDATION_FAILED, NotAcceptable
from app.foresporsel import Foresporsel
from app.signing.keys import VARIABLE
from app.signing.signer import PublishedKeys, Signer

JOSE = "application/jose"
JSON = "application/json"
JWKS_PATH = "/.well-known/jwks.json"
JWKS_CACHE_CONTROL = "public, max-age=300"
NO_KEY = (f"Signed answers ({JOSE}) need {VARIABLE}, which this service runs without; "
          f"ask for {JSON}")
# The errors a signed answer may carry: the register's own refusal of a field the caller may not
# see, in its own words. Every other error is about what was sent and may quote it (an invalid
# id, an unknown field, a missing delegation id): such an answer is not signed.
SIGNABLE_ERRORS = frozenset({FORBIDDEN})
NOT_SIGNED = ("Not signed: this answer carries errors about the request ({codes}), which may "
              "quote what was sent, and a signed answer holds only the register's own words. "
              f"Correct the request, or ask for {JSON}")

Asked = dict[str, str | None]  # the `request` claim (app.signing.jws)


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


def asked(request: Request, sent: bytes, request_id: str, route: Asked) -> Asked:
    """The question a signed answer answers: the request's id, method and path, the sha256 of
    the body's bytes as received (whoever keeps the body can show what was asked, variables
    and arguments included), and what the route adds (`route`)."""
    return {"id": request_id, "method": request.method, "path": request.url.path,
            "body_sha256": hashlib.sha256(sent).hexdigest(), **route}


def unsignable(codes: Iterable[str | None]) -> list[str]:
    """The errors' codes a signed answer may not carry, each once, in order. Every GraphQL
    error has a code (app.api.errors); one without would be GraphQL's own refusal of the
    document, so it is named as one."""
    return list(dict.fromkeys(code or GRAPHQL_VALIDATION_FAILED for code in codes
                              if code not in SIGNABLE_ERRORS))


async def signed(response: Response, signer: Signer, foresporsel: Foresporsel,
                 question: Asked, *, claims_in_header: bool = False) -> Response:
    """`response` signed as the answer to `question` when it is a 200 JSON answer; anything
    else as it is (`claims_in_header`: the answer alone as the payload, app.signing.jws). The
    answer's `jti` goes into the request's log lines too."""
    if (
        response.status_code != 200
        or isinstance(response, StreamingResponse)
        or not response.headers.get("content-type", "").startswith(JSON)
    ):
        return response
    jti = secrets.token_urlsafe(16)  # 22 characters, as the register's request ids
    logs.bind(jti=jti)
    token = await signer.sign(bytes(response.body), foresporsel, jti, question,
                              claims_in_header=claims_in_header)
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
