"""Routes beside GraphQL (the real register's REST endpoints, the test register's export): how
a feature declares one, and the JSON it reads and writes.

A `Rute` names its path, its handler, its declared permission (authz.tillatelse) and whether
its answer may be signed (`Accept: application/jose`) and how; the edge (app.edge) puts every
route behind the one guard, which reads the body, verifies the token, charges the rate limit
(`personer`: how many persons a body asks for) and checks the permission before the handler
runs, and signs the answer when asked. A handler gets the verified request and never sees the
token; what it raises is answered by the one mapping (app.faults).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.errors import BadInput
from app.foresporsel import Foresporsel
from app.text import NotJson, first_bad, load_json
from authz.tillatelse import Tillatelse

Json = dict[str, Any]
TEXT_ALLOWED = "text must not hold NUL characters or unpaired surrogates"
Handler = Callable[[Request, Foresporsel], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Rute:
    path: str
    handler: Handler
    tillatelse: Tillatelse
    methods: tuple[str, ...] = ("POST",)
    personer: Callable[[bytes], int] | None = None  # None: the route charges no persons
    signable: bool = False  # its 200 JSON answer may be signed (the edge signs it)
    # Signed, the answer alone is the payload and the claims go in the JWS header: for consumers
    # that map the payload onto a class refusing members it does not know (app.signing.jws).
    claims_in_header: bool = False


class UgyldigKropp(BadInput):
    """The request body is not the JSON document the endpoint expects."""


def json_objekt(body: bytes) -> Json:
    """The body as a JSON object, or UgyldigKropp; so too when a string in it, at any depth,
    holds what the service refuses (app.text), naming where and never echoing it."""
    try:
        parsed = load_json(body)
    except NotJson as exc:
        raise UgyldigKropp("The request body must be a JSON object") from exc
    if not isinstance(parsed, dict):
        raise UgyldigKropp("The request body must be a JSON object")
    bad = first_bad(parsed)
    if bad is not None:
        where, wrong = bad
        named = {"field": where} if where else {}
        raise UgyldigKropp(f"{where or 'The request body'} {wrong}; {TEXT_ALLOWED}", **named)
    return parsed


OSLO = ZoneInfo("Europe/Oslo")


def tidspunkt(moment: dt.datetime) -> str:
    """A moment as the real register writes it in REST: Oslo local time, whole seconds, the
    offset in hours only (`2023-06-29T10:14:52+02`, `+01` in winter), as Java writes a pattern
    ending in `X`. Its consumers parse with such patterns, which refuse `+02:00`; JDK 17's
    ISO_OFFSET_DATE_TIME, .NET's and Python's (3.11+) ISO parsers read `+02` too (docs/rest-v1.md
    has which parsers do not). A moment without a zone is UTC, as everything stored is."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(OSLO).replace(microsecond=0)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + _x_offset(local.utcoffset() or dt.timedelta())


def _x_offset(offset: dt.timedelta) -> str:
    """Java's `X`: `Z` for UTC, hours alone when whole (`+02`), else hours and minutes (`+0130`);
    Oslo's offset is always whole hours, the rest keeps the function total."""
    if not offset:
        return "Z"
    sign = "-" if offset < dt.timedelta() else "+"
    hours, minutes = divmod(abs(offset) // dt.timedelta(minutes=1), 60)
    return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")


def json_svar(document: Json, status_code: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status_code,
                    media_type="application/json")
