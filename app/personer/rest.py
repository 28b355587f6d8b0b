"""`POST /rest/v1/personer` and `/rest/v2/personer`: the real register's lookup, over the same
lookup as GraphQL (docs/rest-v1.md has what v1 is and how it differs from v2).

What is left here is the real register's snake_case document (names as in its documentation,
e.g. `epostadresse_oppdatert`, absent values omitted, members in its order). REST has no field
selection, so the token's scopes decide what is "asked for": every Person field whose category
the token's scopes open (authz.scopes). `varslingsstatus` is in the contact category, so a token
with the contact scope always asks for it and § 32 filtering is on, as in the real register.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotFound
from app.foresporsel import Foresporsel
from app.personer.graphql import PERSONFELT
from app.personer.oppslag import PERSONIDENTIFIKATORER, TILLATELSE, slaa_opp
from app.personer.utlevering import PersonSvar, Status, person_felt
from app.rest import Json, Rute, UgyldigKropp, json_objekt, json_svar, tidspunkt
from app.text import NotJson, load_json
from authz.principal import Principal
from authz.scopes import KATEGORI_ADGANG, PERSON_FELT, aapnende_scopes


def felter_for(principal: Principal) -> frozenset[str]:
    """The Person fields a REST caller asks for: those whose category needs no scope or whose
    scope is in the token. Delegation (for a vendor) is then decided by the lookup itself."""
    return frozenset(
        felt for felt, kategori in PERSON_FELT.items()
        if KATEGORI_ADGANG[kategori] is None or aapnende_scopes(principal, kategori)
    )


def _verdi(value: Any) -> Any:
    """A value as the real register writes it: enums by name, datetimes in Oslo local time
    with their offset and whole seconds (app.rest.tidspunkt), nested objects without absent
    values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return tidspunkt(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _verdi(v)
            for f in dataclasses.fields(value)
            if (v := getattr(value, f.name)) is not None
        }
    return value


# The real register's order of a person's members (seed 004's documents; NAV's copy of its
# person, KRRKontaktInfoV3, has the reservation's dates right after `reservasjon`). Clients
# that read the answer as a stream, or compare bytes, see the register's own order.
REKKEFOLGE = ("personidentifikator", "reservasjon", "reservasjonstidspunkt",
              "reservasjon_oppdatert", "status", "varslingsstatus", "kontaktinformasjon",
              "digital_post", "sertifikat", "spraak", "spraak_oppdatert")
_MEDLEMMER = tuple((navn, person_felt(navn)) for navn in REKKEFOLGE)


def person_json(svar: PersonSvar, felter: frozenset[str]) -> Json:
    """One person's document: the asked fields that hold a value (absent ones are left out),
    in the register's order."""
    document: Json = {}
    for navn, felt in _MEDLEMMER:
        if felt in felter and (value := getattr(svar, navn)) is not None:
            document[navn] = _verdi(value)
    return document


def antall_personer(body: bytes) -> int:
    """How many persons a body asks for (0 for anything else), to charge the rate limit:
    counted as GraphQL's `personer` counts them (its distinct ids)."""
    try:
        parsed = load_json(body)
    except NotJson:
        return 0
    ids = parsed.get(PERSONIDENTIFIKATORER) if isinstance(parsed, dict) else None
    return PERSONFELT.personer(ids) if isinstance(ids, list) else 0


def _ids(body: Json) -> list[str]:
    ids = body.get(PERSONIDENTIFIKATORER)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UgyldigKropp("personidentifikatorer must be a list of strings")
    return ids


async def _svar(ids: list[str], foresporsel: Foresporsel, *, ikke_registrerte: bool) -> Response:
    """One lookup and its one audit record (every id, whatever is left out of the answer)."""
    felter = felter_for(foresporsel.organisasjon)
    resultat = await slaa_opp(ids, felter, foresporsel, samtidig_revisjon=True)
    # The answer is built while the audit record is written; it leaves only once it is.
    svar = json_svar({
        "personer": [
            person_json(p, felter) for p in resultat.personer
            if ikke_registrerte or p.status is not Status.IKKE_REGISTRERT
        ]
    })
    await resultat.revisjon
    return svar


async def personer(request: Request, foresporsel: Foresporsel) -> Response:
    """v2: 1 to 1000 ids; IKKE_REGISTRERT entries only when `inkluderIkkeRegistrerte` is true
    (the lookup and its audit record still cover every id)."""
    body = json_objekt(await request.body())
    ids = _ids(body)
    inkluder = body.get("inkluderIkkeRegistrerte", False)
    if not isinstance(inkluder, bool):
        raise UgyldigKropp("inkluderIkkeRegistrerte must be true or false")
    return await _svar(ids, foresporsel, ikke_registrerte=inkluder)


async def personer_v1(request: Request, foresporsel: Foresporsel) -> Response:
    """v1: an entry for every distinct id asked, IKKE_REGISTRERT included. v1 has no
    `inkluderIkkeRegistrerte` (v2 brought it) and its clients rely on one entry per id:
    eFormidling reads the first entry of a one-id answer, the SMS service counts them."""
    return await _svar(_ids(json_objekt(await request.body())), foresporsel,
                       ikke_registrerte=True)


FOLKEREGISTER_PATH = "/rest/v1/mf/personer"
IKKE_FOLKEREGISTER = (
    f"{FOLKEREGISTER_PATH} was the old register's pass-through to the population register "
    "(names and postal addresses, DSF/Folkeregisteret), which this register does not hold; "
    "look addresses up in Folkeregisteret itself (eFormidling has since 2023)")


async def folkeregisteret(request: Request, foresporsel: Foresporsel) -> Response:
    """Names and postal addresses are the population register's, never this register's: the
    path answers why it has nothing (404) rather than a bare not-found."""
    raise NotFound(IKKE_FOLKEREGISTER)


RUTE = Rute("/rest/v2/personer", personer, TILLATELSE, personer=antall_personer, signable=True)
# v1's signed payload is the answer alone: eFormidling maps it onto a class without room for
# the claims (a plain Jackson ObjectMapper refuses members it does not know).
RUTE_V1 = Rute("/rest/v1/personer", personer_v1, TILLATELSE, personer=antall_personer,
               signable=True, claims_in_header=True)
RUTE_FOLKEREGISTER = Rute(FOLKEREGISTER_PATH, folkeregisteret, TILLATELSE)
RUTER = (RUTE_V1, RUTE, RUTE_FOLKEREGISTER)
