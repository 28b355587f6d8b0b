"""The one entrance to every protected route.

In one order, for GraphQL, the REST endpoints and the export alike:

1. the body, refused as soon as it passes the size limit (413; a request without a token, where
   the route lets such requests in, has the route's lower limit), then its media type (415), a
   signed answer asked for where none can be given (406) and the body's shape (a route's own
   check, e.g. GraphQL's refusal of batches), all before any token work;
2. the caller: the token verified (401) whenever the request has an Authorization header; a
   request without one is anonymous where the route lets anonymous callers in (public
   aggregates), and refused (401) everywhere else. The pages for people (/admin) have a session
   instead of a token: their route establishes the caller from it (and checks the form's CSRF
   token), and answers refusals as pages;
3. the caller bound to the log lines (request id, consumer, supplier);
4. the body as the route reads it, and the rate limit charged, for the request and the persons
   it asks for (429). For a verified caller the route's document step comes first
   (`Rutekrav.dokument`: GraphQL puts a persisted operation's document in place of its hash,
   app.edge.persisted), so that the persons charged, every later step and the handler read
   the document that runs. An anonymous caller is charged first, to its client address, before
   anything it sent is parsed; then the route's anonymous step (`Rutekrav.anonym`) reads the
   body: only a public document passes, anything else needs a token (401), and nothing in the
   answer tells what the persisted store holds. From here on every answer, the refusals
   included, says where the caller's limits stand (RateLimit-Policy and RateLimit,
   app.edge.ratelimit.limit_fields);
5. the route's declared permission (authz.tillatelse), where the route has one (GraphQL
   declares per field instead);

and only then the route's handler, with the verified request (app.foresporsel). Every refusal,
and anything the handler raises that app.faults knows, is answered in the one JSON shape (in
the media type the route chooses from the request, `Rutekrav.feiltype`: GraphQL's). A
route that may sign its answer (`Rutekrav.signable`) has it signed here when the request asks
for `application/jose` (app.edge.signed), as the answer to the question it was asked (the
request's method, path and body as received, and what the route binds: `Rutekrav.signert`,
which may refuse a body it cannot sign unambiguously, once the caller has been charged), under
the deadline like the rest of the work, and every answer it gives says `Vary: Accept`.

The body itself must arrive within KRR_BODY_TIMEOUT (app.edge.reading: 408, the connection
closed). Everything after the body is read, handler included, runs under the request's deadline
(KRR_REQUEST_TIMEOUT, app.edge.deadline): past it the answer is a 503 and the work's database
connections are discarded. A streamed answer gets a deadline for each further part instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from app import logs, metrics
from app.edge.deadline import each_within, within
from app.edge.observed import request_id_of
from app.edge.ratelimit import (
    Charge,
    Hold,
    Limiter,
    limit_fields,
    refuse_if_spent,
    subject_of,
)
from app.edge.responses import error_response
from app.edge.signed import Asked, asked, signed, signer_for_request, vary_on_accept
from app.errors import PayloadTooLarge, UnsupportedMediaType
from app.faults import Answer, answer_for
from app.foresporsel import Clock, Delegeringsoppslag, Foresporsel
from app.signing.signer import Signer
from authz.principal import Anonym, Caller
from authz.tillatelse import Tillatelse
from authz.tokens import NoToken, TokenError, TokenVerifier

Endpoint = Callable[[Request, Foresporsel], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Inngang:
    """What every guarded route shares: the token check, the rate limit and how long a request
    may be held for it, the clock, the body limit, how a vendor's delegations are read, the
    deadline and the answers' signer."""

    verifier: TokenVerifier
    limiter: Limiter
    hold: Hold
    clock: Clock
    max_body_bytes: int
    delegeringer: Delegeringsoppslag
    request_timeout: float  # seconds (KRR_REQUEST_TIMEOUT)
    signer: Signer | None = None  # None: no signing key (prod without KRR_SIGNING_KEY)


@dataclass(frozen=True, slots=True)
class Rutekrav:
    """What one route asks of the guard beyond the shared steps."""

    tillatelse: Tillatelse | None = None  # checked here; None: the route checks per field
    # The persons a body asks for, which the rate limit charges (organisations only); None: the
    # route charges requests only (and its answers show no persons' limit).
    personer: Callable[[bytes], int] | None = None
    media_types: frozenset[str] | None = None  # accepted body types; None: any
    form: Callable[[bytes], None] | None = None  # a shape check before the token
    # The body as the route's later checks and its handler read it (may refuse it).
    dokument: Callable[[Request, bytes, Caller], bytes] | None = None
    # The same for a request without a token: the body it may run, None where it needs a token
    # (None here: every request needs one); and the most such a body may be.
    anonym: Callable[[Request, bytes], bytes | None] | None = None
    anonym_max_body: int | None = None
    # Who calls, where it is not a bearer token (the pages: a session); its refusals as the
    # route answers them (the pages: a page a person understands, not JSON).
    kaller: Callable[[Request, bytes], Awaitable[Caller]] | None = None
    feilside: Callable[[Request, Answer], Response] | None = None
    # The media type of the route's refusals, chosen from the request (GraphQL:
    # `application/graphql-response+json` when Accept asks for it, so a client that reads
    # only that type's errors on a 4xx, Apollo Client 4, shows the code); None: JSON.
    feiltype: Callable[[Request], str] | None = None
    signable: bool = False  # may its 200 JSON answer be signed (Accept: application/jose)?
    # Signed with the answer alone as the payload, the claims in the header (app.signing.jws).
    claims_in_header: bool = False
    # What a signed answer binds beyond the request's method, path and body (the `request`
    # claim; GraphQL: its document), read from the body as the handler reads it; raises
    # NotAcceptable for a body whose answer, signed, could be read otherwise.
    signert: Callable[[bytes], Asked] | None = None


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes:
    """The body, refused as soon as Content-Length or the bytes received pass the maximum: a
    large body is never read whole."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                announced = int(value)
            except ValueError:
                announced = 0
            if announced > max_bytes:
                raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """The body again, for the handler after the guard has read it."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


MISSING = "The request has no Authorization header with a bearer token"


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise NoToken("missing", MISSING)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NoToken("malformed", "The Authorization header must be 'Bearer <token>'")
    return token.strip()


class Guard:
    """An ASGI app: the guarded route `endpoint` behind the steps above."""

    def __init__(self, inngang: Inngang, endpoint: Endpoint, krav: Rutekrav) -> None:
        self.inngang = inngang
        self.endpoint = endpoint
        self.krav = krav

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.inngang.request_timeout
        charged: list[Charge] = []  # the rate limit's charge, once made
        try:
            body = await self._read(scope, receive)
            response = await within(seconds, self._handle(scope, body, charged))
        except Exception as exc:
            answer = answer_for(exc)
            if answer is None:
                raise  # unexpected: the app's 500 handler answers and logs it
            if isinstance(exc, TokenError):
                metrics.auth_failed(exc.reason)
            if self.krav.feilside is not None:
                response = self.krav.feilside(Request(scope), answer)
            elif self.krav.feiltype is not None:
                response = error_response(answer, self.krav.feiltype(Request(scope)))
            else:
                response = error_response(answer)
        if isinstance(response, StreamingResponse):
            response.body_iterator = each_within(seconds, response.body_iterator)
        if self.krav.signable:
            vary_on_accept(response)
        if charged:  # whatever the answer (signed, streamed, a page, a refusal): set before sending
            response.headers.update(limit_fields(charged[0]))
        await response(scope, receive, send)

    def _anonymous(self, scope: Scope) -> bool:
        """A request without an Authorization header, on a route that lets anonymous callers
        in (with a header, even a bad one, the token is what counts)."""
        return self.krav.anonym is not None and self.krav.kaller is None and not any(
            name == b"authorization" for name, _ in scope.get("headers", ()))

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.inngang.max_body_bytes
        if self.krav.anonym_max_body is None or not self._anonymous(scope):
            return await read_body(scope, receive, limit)
        limit = min(limit, self.krav.anonym_max_body)
        try:
            return await read_body(scope, receive, limit)
        except PayloadTooLarge:
            raise PayloadTooLarge(f"A request without a token may send at most {limit} bytes "
                                  "(only public fields run without one)") from None

    async def _handle(self, scope: Scope, body: bytes, charged: list[Charge]) -> Response:
        inngang, krav = self.inngang, self.krav
        request = Request(scope)
        if krav.media_types is not None:
            media_type = request.headers.get("content-type", "").partition(";")[0].strip()
            if media_type.lower() not in krav.media_types:
                raise UnsupportedMediaType(
                    f"Send the request body as {' or '.join(sorted(krav.media_types))}"
                    f" (Content-Type was {media_type[:60]!r})"
                )
        signer = signer_for_request(request, inngang.signer) if krav.signable else None
        if krav.form is not None:
            krav.form(body)
        sent = body
        anonymous = self._anonymous(scope)
        caller = Anonym() if anonymous else await self._caller(request, body)
        logs.bind_caller(caller)
        if anonymous:
            await self._charge(request, caller, body, charged)  # before the body is parsed
            body = self._public(request, body)
        else:
            if krav.dokument is not None:
                body = krav.dokument(request, body, caller)
            await self._charge(request, caller, body, charged)
        foresporsel = Foresporsel(caller, request_id_of(request), inngang.clock(),
                                  inngang.delegeringer)
        if krav.tillatelse is not None:
            await foresporsel.kontroller(krav.tillatelse)
        request = Request(scope, replay_body(body))
        request.state.foresporsel = foresporsel
        if signer is None:
            return await self.endpoint(request, foresporsel)
        question = asked(request, sent, foresporsel.request_id,
                         {} if krav.signert is None else krav.signert(body))
        # The key published first: if the database cannot take it, nothing is read or audited.
        await signer.publish(foresporsel.now)
        return await signed(await self.endpoint(request, foresporsel), signer, foresporsel,
                            question, claims_in_header=krav.claims_in_header)

    async def _caller(self, request: Request, body: bytes) -> Caller:
        if self.krav.kaller is not None:
            return await self.krav.kaller(request, body)
        return await self.inngang.verifier.verify(bearer_token(request))

    def _public(self, request: Request, body: bytes) -> bytes:
        """The body an anonymous caller may run (the route's anonymous step); 401 where it
        needs a token."""
        assert self.krav.anonym is not None  # `_anonymous`
        public = self.krav.anonym(request, body)
        if public is None:
            raise NoToken("missing", MISSING)
        return public

    async def _charge(self, request: Request, caller: Caller, body: bytes,
                      charged: list[Charge]) -> None:
        client_ip = request.client.host if request.client else None
        subject, counts_persons = subject_of(caller, client_ip)
        counted = self.krav.personer if counts_persons else None
        # Held here (asleep, no database connection taken yet) when it fits soon enough.
        charge = await self.inngang.hold.charge(self.inngang.limiter, subject,
                                                None if counted is None else counted(body))
        charged.append(charge)
        refuse_if_spent(charge, subject)
