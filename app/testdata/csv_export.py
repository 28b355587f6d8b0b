"""`GET /export/personer.csv`: a sokPersoner search as CSV (Tenor's "LAST NED SØKEDATA").

Same filters (as query parameters), same token rules and scopes, same disclosure as the search.
Streamed in keyset pages of SIDE rows, so even the whole register never sits in memory. Each page
is recorded in the audit log before it is sent.

Decisions: columns carry the real register's snake_case names; a column the token's scopes do not
open is left out (not sent empty), so an empty cell always means "the entry holds nothing".
Contact information is not § 32-filtered (as the change feed: the entry as stored), with
varslingsstatus beside it saying whether a notice may go out. The certificate is left out: it is
the provider's, one per provider, not the person's (the lookup gives it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from enum import Enum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.api.context import Clock
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, SERVICE_UNAVAILABLE
from app.endringer.store import SPRAAK
from app.http import bearer_token, request_id_of, unauthorized
from app.personer.models import Registerstatus
from app.personer.oppslag import Foresporsel, PersonSvar, Revisjonsfeil, Tilgang, UgyldigInput
from app.personer.paragraf32 import Varslingsstatus
from app.personer.register import PersonRecord
from app.testdata import store
from authz.delegation import Avslag
from authz.scopes import Handling
from authz.tokens import TokenError, TokenVerifier

PATH = "/export/personer.csv"
SIDE = 1000  # rows fetched (and audited) per round trip

Uttrekk = Callable[[PersonSvar], Any]


def _kontakt(attr: str) -> Uttrekk:
    return lambda s: None if s.kontaktinformasjon is None else getattr(s.kontaktinformasjon, attr)


def _post(attr: str) -> Uttrekk:
    return lambda s: None if s.digital_post is None else getattr(s.digital_post, attr)


# (column, the Person field whose scope opens it, value)
KOLONNER: tuple[tuple[str, str, Uttrekk], ...] = (
    ("personidentifikator", "personidentifikator", lambda s: s.personidentifikator),
    ("status", "status", lambda s: s.status),
    ("reservasjon", "reservasjon", lambda s: s.reservasjon),
    ("reservasjonstidspunkt", "reservasjonstidspunkt", lambda s: s.reservasjonstidspunkt),
    ("reservasjon_oppdatert", "reservasjonOppdatert", lambda s: s.reservasjon_oppdatert),
    ("varslingsstatus", "varslingsstatus", lambda s: s.varslingsstatus),
    *((navn, "kontaktinformasjon", _kontakt(navn)) for kanal in ("epostadresse",
                                                                  "mobiltelefonnummer")
      for navn in (kanal, f"{kanal}_oppdatert", f"{kanal}_sist_verifisert",
                   f"{kanal}_sist_validert", f"{kanal}_duplisert")),
    ("postkasseadresse", "digitalPost", _post("postkasseadresse")),
    ("postkasseleverandoeradresse", "digitalPost", _post("postkasseleverandoeradresse")),
    ("spraak", "spraak", lambda s: s.spraak),
    ("spraak_oppdatert", "spraakOppdatert", lambda s: s.spraak_oppdatert),
)

_BOOLEANS = {"true": True, "false": False}
_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "status": ("status", {s.value: s for s in Registerstatus}),
    "varslingsstatus": ("varslingsstatus", {v.value: v for v in Varslingsstatus}),
    "spraak": ("spraak", {s: s for s in SPRAAK}),
    "reservasjon": ("reservasjon", {"JA": True, "NEI": False}),
    "harMobil": ("har_mobil", _BOOLEANS),
    "harEpost": ("har_epost", _BOOLEANS),
    "harDigitalPostkasse": ("har_digital_postkasse", _BOOLEANS),
}


class UgyldigParameter(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def parse_filter(request: Request) -> store.Personfilter:
    """The filter from the query string; UgyldigParameter names the first bad parameter."""
    values: dict[str, Any] = {}
    for name in request.query_params:
        if name not in _PARAMETERS:
            raise UgyldigParameter(
                name, f"Unknown parameter {name!r}; filters are {', '.join(_PARAMETERS)}"
            )
        given = request.query_params.getlist(name)
        field, allowed = _PARAMETERS[name]
        if len(given) != 1 or given[0] not in allowed:
            raise UgyldigParameter(
                name, f"Parameter {name} must be one of {', '.join(allowed)} (once); "
                f"got {', '.join(repr(g) for g in given)}"
            )
        values[field] = allowed[given[0]]
    return store.Personfilter(**values)


def _feil(status: int, message: str, code: str, **extensions: Any) -> Response:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code=status,
    )


def _celle(verdi: Any) -> str:
    if verdi is None:
        return ""
    if isinstance(verdi, Enum):
        return str(verdi.value)
    if isinstance(verdi, dt.datetime):
        return verdi.isoformat()
    return str(verdi)


def _csv(rader: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rader)
    return buffer.getvalue()


class Eksport:
    """The endpoint: token -> scope -> filter -> first page (so errors still get a status) ->
    the rest streamed."""

    def __init__(self, verifier: TokenVerifier, clock: Clock) -> None:
        self.verifier = verifier
        self.clock = clock

    async def handle(self, request: Request) -> Response:
        try:
            caller = await self.verifier.verify(bearer_token(request))
        except TokenError as exc:
            return unauthorized(exc.reason, exc.message)
        try:
            principal = store.krev(caller, Handling.SOKE_PERSONER, paa_vegne_av=True)
            personfilter = parse_filter(request)
            tilgang = await store.sokerett(principal, personfilter, {f for _, f, _ in KOLONNER})
        except store.Nektet as exc:
            return _feil(403, exc.melding, FORBIDDEN, scope=exc.scope)
        except Avslag as exc:
            return _feil(403, exc.message, FORBIDDEN, reason=exc.code)
        except UgyldigParameter as exc:
            return _feil(400, str(exc), BAD_USER_INPUT, parameter=exc.parameter)
        except UgyldigInput as exc:
            return _feil(400, str(exc), BAD_USER_INPUT, parameter="spraak")
        request_id = request_id_of(request)
        foresporsel = Foresporsel(principal, request_id, self.clock())
        kolonner = [(n, hent) for n, felt, hent in KOLONNER if felt in tilgang.synlige]
        try:
            forste = await self._side(personfilter, tilgang, foresporsel, None)
        except Revisjonsfeil as exc:
            return _feil(503, str(exc), SERVICE_UNAVAILABLE)
        return StreamingResponse(
            self._strom(personfilter, tilgang, foresporsel, kolonner, forste),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="personer.csv"',
                     "X-Request-ID": request_id},
        )

    async def _side(
        self, personfilter: store.Personfilter, tilgang: Tilgang, foresporsel: Foresporsel,
        etter: str | None,
    ) -> tuple[list[PersonRecord], list[PersonSvar], bool]:
        records, flere = await store.side(personfilter, foresporsel.now, SIDE, etter)
        personer = await store.utlever_side(records, tilgang, foresporsel,
                                            filtrer_paa_varsling=False)
        return records, personer, flere

    async def _strom(
        self, personfilter: store.Personfilter, tilgang: Tilgang, foresporsel: Foresporsel,
        kolonner: list[tuple[str, Uttrekk]],
        side: tuple[list[PersonRecord], list[PersonSvar], bool],
    ) -> AsyncIterator[str]:
        """Header, then a page at a time. A failure after the first page ends the stream early
        (the status is sent by then); an audit failure stops it before that page is sent."""
        yield _csv([[n for n, _ in kolonner]])
        while True:
            records, personer, flere = side
            yield _csv([[_celle(hent(p)) for _, hent in kolonner] for p in personer])
            if not flere:
                return
            side = await self._side(personfilter, tilgang, foresporsel,
                                    records[-1].personidentifikator)


def route(verifier: TokenVerifier, clock: Clock) -> Route:
    """The export route; create_app adds it outside prod only."""
    return Route(PATH, Eksport(verifier, clock).handle, methods=["GET"])

