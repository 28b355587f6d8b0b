"""`GET /export/personer.csv`: a sokPersoner search as CSV (Tenor's "LAST NED SØKEDATA").

Same filters (as query parameters), same token rules and scopes, same disclosure as the search.
Streamed in keyset pages of SIDE rows, so even the whole register never sits in memory. Each page
is recorded in the audit log before it is sent.

Decisions: columns carry the real register's snake_case names; a column the token's scopes do not
open is left out (not sent empty), so an empty cell always means "the entry holds nothing".
Contact information is not § 32-filtered (as the change feed: the entry as stored), with
varslingsstatus beside it saying whether a notice may go out. The certificate is a column too
(`krr:global/digitalpost.read` opens it, as in a lookup): the issue asks for it in every place a
person is disclosed, and in its stored form, bare base64 of DER, it is one line without commas
or quotes, safe in a cell. It repeats per person (one per provider), as in the lookup's answer.
A cell that a spreadsheet would read as a formula is written as text (a leading single quote,
OWASP); a certificate never is one (DER begins with a SEQUENCE, so its base64 begins with "M").
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from enum import Enum
from operator import attrgetter
from typing import Any, get_args, get_type_hints

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.errors import BadInput
from app.foresporsel import Foresporsel
from app.personer.felt import SPRAAK, PersonRecord, Registerstatus
from app.personer.paragraf32 import Varslingsstatus
from app.personer.utlevering import PersonSvar, Tilgang, person_felt
from app.rest import Rute, tidspunkt
from app.testdata import store

PATH = "/export/personer.csv"
SIDE = 1000  # rows fetched (and audited) per round trip

Uttrekk = Callable[[PersonSvar], Any]


def _under(attributt: str, navn: str) -> Uttrekk:
    def hent(svar: PersonSvar) -> Any:
        objekt = getattr(svar, attributt)
        return None if objekt is None else getattr(objekt, navn)

    return hent


def _kolonner() -> tuple[tuple[str, str, Uttrekk], ...]:
    """(column, the Person field whose scope opens it, value): the answer's fields in its
    order, a nested object's (kontaktinformasjon, digital post) spread into its own columns."""
    typer = get_type_hints(PersonSvar)
    kolonner: list[tuple[str, str, Uttrekk]] = []
    for f in dataclasses.fields(PersonSvar):
        felt = person_felt(f.name)
        nestet = next((a for a in get_args(typer[f.name]) if dataclasses.is_dataclass(a)), None)
        if nestet is None:
            kolonner.append((f.name, felt, attrgetter(f.name)))
        else:
            kolonner += [(g.name, felt, _under(f.name, g.name))
                         for g in dataclasses.fields(nestet)]
    return tuple(kolonner)


KOLONNER = _kolonner()

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


class UgyldigParameter(BadInput):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message, parameter=parameter)
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


# A spreadsheet reads a cell that begins with one of these as a formula (OWASP, "CSV
# Injection"): every mobile number begins with "+", and an e-mail address can begin with "=".
FORMELTEGN = ("=", "+", "-", "@", "\t", "\r")


def _celle(verdi: Any) -> str:
    if verdi is None:
        return ""
    if isinstance(verdi, Enum):
        tekst = str(verdi.value)
    elif isinstance(verdi, dt.datetime):
        tekst = tidspunkt(verdi)  # as the REST answers write it
    else:
        tekst = str(verdi)
    # OWASP's advice: a leading single quote makes the cell text; the csv writer quotes the
    # cell where its content needs it.
    return "'" + tekst if tekst.startswith(FORMELTEGN) else tekst


def _csv(rader: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rader)
    return buffer.getvalue()


async def eksport(request: Request, foresporsel: Foresporsel) -> Response:
    """Filter -> what the caller may see -> the first page (so errors still get a status) ->
    the rest streamed."""
    personfilter = parse_filter(request)
    synlig = await store.sokerett(foresporsel, personfilter, {f for _, f, _ in KOLONNER})
    kolonner = [(n, hent) for n, felt, hent in KOLONNER if felt in synlig.synlige]
    forste = await _side(personfilter, synlig, foresporsel, None)
    return StreamingResponse(
        _strom(personfilter, synlig, foresporsel, kolonner, forste),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="personer.csv"'},
    )


Side = tuple[list[PersonRecord], list[PersonSvar], bool]


async def _side(
    personfilter: store.Personfilter, synlig: Tilgang, foresporsel: Foresporsel,
    etter: str | None,
) -> Side:
    records, flere = await store.side(personfilter, foresporsel.now, SIDE, etter)
    personer = await store.utlever_side(records, synlig, foresporsel,
                                        filtrer_paa_varsling=False)
    return records, personer, flere


async def _strom(
    personfilter: store.Personfilter, synlig: Tilgang, foresporsel: Foresporsel,
    kolonner: list[tuple[str, Uttrekk]], side: Side,
) -> AsyncIterator[str]:
    """Header, then a page at a time. A failure after the first page ends the stream early
    (the status is sent by then); an audit failure stops it before that page is sent."""
    yield _csv([[n for n, _ in kolonner]])
    while True:
        records, personer, flere = side
        yield _csv([[_celle(hent(p)) for _, hent in kolonner] for p in personer])
        if not flere:
            return
        side = await _side(personfilter, synlig, foresporsel, records[-1].personidentifikator)


# GET, not in prod (app.edge leaves it out there); the search's permission.
RUTE = Rute(PATH, eksport, store.SOKE, methods=("GET",))
