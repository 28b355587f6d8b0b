"""`POST /rest/v2/personer`: the real register's lookup, over the same lookup as GraphQL.

What is left here is the real register's snake_case document (names as in its documentation,
e.g. `epostadresse_oppdatert`, absent values omitted). REST has no field selection, so the
token's scopes decide what is "asked for": every Person field whose category the token's scopes
open (authz.scopes). `varslingsstatus` is in the contact category, so a token with the contact
scope always asks for it and § 32 filtering is on, as in the real register.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.foresporsel import Foresporsel
from app.personer.graphql import PERSONFELT
from app.personer.oppslag import PERSONIDENTIFIKATORER, TILLATELSE, slaa_opp
from app.personer.utlevering import PersonSvar, Status, attributt
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


def person_json(svar: PersonSvar, felter: frozenset[str]) -> Json:
    """One person's document: the asked fields that hold a value (absent ones are left out)."""
    document: Json = {}
    for felt in PERSON_FELT:
        navn = attributt(felt)
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


async def personer(request: Request, foresporsel: Foresporsel) -> Response:
    """1 to 1000 ids; IKKE_REGISTRERT entries only when `inkluderIkkeRegistrerte` is true (the
    lookup and its audit record still cover every id)."""
    body = json_objekt(await request.body())
    ids = body.get(PERSONIDENTIFIKATORER)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UgyldigKropp("personidentifikatorer must be a list of strings")
    inkluder = body.get("inkluderIkkeRegistrerte", False)
    if not isinstance(inkluder, bool):
        raise UgyldigKropp("inkluderIkkeRegistrerte must be true or false")
    felter = felter_for(foresporsel.organisasjon)
    resultat = await slaa_opp(ids, felter, foresporsel, samtidig_revisjon=True)
    # The answer is built while the audit record is written; it leaves only once it is.
    svar = json_svar({
        "personer": [
            person_json(p, felter) for p in resultat.personer
            if inkluder or p.status is not Status.IKKE_REGISTRERT
        ]
    })
    await resultat.revisjon
    return svar


RUTE = Rute("/rest/v2/personer", personer, TILLATELSE, personer=antall_personer, signable=True)
