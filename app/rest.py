"""REST compatibility: the real register's `/rest/v2` endpoints, so existing clients work unchanged.

Thin layers over the same code as GraphQL: `app.lookup.slaa_opp` (validation, delegation, scopes,
§ 32, audit) and `app.feed.store.les_endringer` (the change feed). What is left here is HTTP and
JSON: reading the body, mapping refusals to status codes, and the real register's snake_case
documents (names as in its documentation, e.g. `epostadresse_oppdatert`; absent values omitted).

The REST API has no field selection, so the token's scopes decide what is "asked for": every
Person field whose category the token's scopes open (authz.scopes). `varslingsstatus` is in the
contact category, so a token with the contact scope always asks for it and § 32 filtering is on,
as in the real register.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app import logs
from app.api.context import Clock
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, SERVICE_UNAVAILABLE
from app.api.limits import MAX_BODY_BYTES, PayloadTooLarge, payload_too_large, read_body
from app.edge.ratelimit import over_limit
from app.endringer import store as feed_store
from app.http import bearer_token, replay_body, request_id_of, unauthorized
from app.personer.oppslag import (
    VARSLINGSSTATUS_FELT,
    Foresporsel,
    PersonSvar,
    Revisjonsfeil,
    Status,
    UgyldigInput,
    slaa_opp,
)
from authz.delegation import Avslag
from authz.principal import Principal
from authz.scopes import (
    KATEGORI_ADGANG,
    PERSON_FELT,
    Handling,
    aapnende_scopes,
    manglende_scope_for_handling,
)
from authz.tokens import TokenError, TokenVerifier

# fraEndringsId is stored as a 64-bit integer; a larger number cannot name a change.
MAX_ENDRINGS_ID = 2**63 - 1

Json = dict[str, Any]


def felter_for(principal: Principal) -> frozenset[str]:
    """The Person fields a REST caller asks for: those whose category needs no scope or whose
    scope is in the token. Delegation (for a vendor) is then checked by the lookup itself."""
    return frozenset(
        felt for felt, kategori in PERSON_FELT.items()
        if KATEGORI_ADGANG[kategori] is None or aapnende_scopes(principal, kategori)
    )


def _snake(felt: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in felt)


def _verdi(value: Any) -> Any:
    """A value as the real register writes it: enums by name, datetimes in ISO 8601 with their
    offset (full precision, e.g. 2019-06-24T11:16:47+00:00), nested objects without absent
    values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _verdi(v)
            for f in dataclasses.fields(value)
            if (v := getattr(value, f.name)) is not None
        }
    return value


def person_json(svar: PersonSvar, felter: frozenset[str]) -> Json:
    """One person's document: the asked fields that hold a value (absent ones are left out)."""
    document: Json = {}
    for felt in PERSON_FELT:
        navn = _snake(felt)
        if felt in felter and (value := getattr(svar, navn)) is not None:
            document[navn] = _verdi(value)
    return document


def _json(body: Json, status_code: int = 200, request_id: str | None = None) -> Response:
    headers = {"X-Request-ID": request_id} if request_id else None
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json",
        headers=headers,
    )


def _feil(status_code: int, message: str, code: str, request_id: str | None = None,
          **extensions: Any) -> Response:
    """An error in the same shape as GraphQL's (and `unauthorized`'s), with an HTTP status."""
    return _json(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code, request_id,
    )


class UgyldigKropp(Exception):
    """The request body is not the JSON document the endpoint expects."""


async def _kropp(request: Request) -> Json:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise UgyldigKropp("The request body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise UgyldigKropp("The request body must be a JSON object")
    return body


def _ids_asked(body: bytes) -> int:
    """The number of ids a /personer body asks for (0 for anything else), to charge the limit."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    ids = parsed.get("personidentifikatorer") if isinstance(parsed, dict) else None
    return len(ids) if isinstance(ids, list) else 0


Handler = Callable[[Request, Principal, Foresporsel], Awaitable[Response]]


class RestEndepunkt:
    """Token check, a resident's token refused, and the lookup's refusals as HTTP statuses,
    around one handler. The same verifier and clock as GraphQL."""

    def __init__(self, handler: Handler, verifier: TokenVerifier, clock: Clock) -> None:
        self.handler = handler
        self.verifier = verifier
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The same edge as GraphQL: body size before the token check (app.limits).
        max_bytes = getattr(scope["app"].state, "max_body_bytes", MAX_BODY_BYTES)
        try:
            body = await read_body(scope, receive, max_bytes)
        except PayloadTooLarge:
            await payload_too_large(max_bytes)(scope, receive, send)
            return
        response = await self.svar(Request(scope, replay_body(body)), body)
        await response(scope, receive, send)

    async def svar(self, request: Request, body: bytes) -> Response:
        try:
            caller = await self.verifier.verify(bearer_token(request))
        except TokenError as exc:
            return unauthorized(exc.reason, exc.message)
        logs.bind_caller(caller)
        request_id = request_id_of(request)
        if not isinstance(caller, Principal):
            return _feil(
                403, "This endpoint is for organisations (a Maskinporten token); a resident's "
                "token cannot use it", FORBIDDEN, request_id,
            )
        # The rate limit, as for GraphQL: charged for the ids asked, before any work.
        limiter = getattr(request.app.state, "limiter", None)
        if refused := await over_limit(limiter, request, caller, _ids_asked(body)):
            return refused
        foresporsel = Foresporsel(caller, request_id, self.clock())
        try:
            response = await self.handler(request, caller, foresporsel)
        except UgyldigKropp as exc:
            return _feil(400, str(exc), BAD_USER_INPUT, request_id)
        except UgyldigInput as exc:
            return _feil(400, str(exc), BAD_USER_INPUT, request_id,
                         ugyldigePersonidentifikatorer=exc.ugyldige)
        except Avslag as exc:  # a vendor without an active delegation: no person data at all
            return _feil(403, exc.message, FORBIDDEN, request_id, reason=exc.code)
        except Revisjonsfeil as exc:
            return _feil(503, str(exc), SERVICE_UNAVAILABLE, request_id)
        response.headers["X-Request-ID"] = request_id
        return response


async def personer(request: Request, principal: Principal, foresporsel: Foresporsel) -> Response:
    """`POST /rest/v2/personer`: 1 to 1000 ids; IKKE_REGISTRERT entries only when
    `inkluderIkkeRegistrerte` is true (the lookup and its audit record still cover every id)."""
    body = await _kropp(request)
    ids = body.get("personidentifikatorer")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UgyldigKropp("personidentifikatorer must be a list of strings")
    inkluder = body.get("inkluderIkkeRegistrerte", False)
    if not isinstance(inkluder, bool):
        raise UgyldigKropp("inkluderIkkeRegistrerte must be true or false")
    felter = felter_for(principal)
    resultat = await slaa_opp(ids, felter, foresporsel)
    return _json({
        "personer": [
            person_json(p, felter) for p in resultat.personer
            if inkluder or p.status is not Status.IKKE_REGISTRERT
        ]
    })


async def hent_endringer(
    request: Request, principal: Principal, foresporsel: Foresporsel
) -> Response:
    """`POST /rest/v2/krr/hentEndringer`: a page of at most 1000 changed persons, fields by the
    lookup scopes, never varslingsstatus (the GraphQL feed's rules)."""
    mangler = manglende_scope_for_handling(principal, Handling.HENTE_ENDRINGER)
    if mangler is not None:
        return _feil(403, f"This operation needs scope {mangler}", FORBIDDEN, scope=mangler)
    body = await _kropp(request)
    fra = body.get("fraEndringsId")
    if isinstance(fra, bool) or not isinstance(fra, int) or not 0 <= fra <= MAX_ENDRINGS_ID:
        raise UgyldigKropp(f"fraEndringsId must be a whole number from 0 to {MAX_ENDRINGS_ID}")
    felter = felter_for(principal) - {VARSLINGSSTATUS_FELT}
    side = await feed_store.les_endringer(fra, feed_store.MAX_ANTALL, felter, foresporsel)
    return _json({
        "list": [person_json(p, felter) for p in side.personer],
        "fraEndringsId": side.fra_endrings_id,
        "tilEndringsId": side.til_endrings_id,
        "sisteEndringsId": side.siste_endrings_id,
    })


def routes(verifier: TokenVerifier, clock: Clock) -> list[Route]:
    """The REST routes, for create_app."""
    return [
        Route("/rest/v2/personer", RestEndepunkt(personer, verifier, clock), methods=["POST"]),
        Route("/rest/v2/krr/hentEndringer", RestEndepunkt(hent_endringer, verifier, clock),
              methods=["POST"]),
    ]
