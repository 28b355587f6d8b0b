"""`POST /rest/v2/krr/hentEndringer`: the real register's change feed, over the same feed as
GraphQL's `endringer`; fields by the lookup scopes, never varslingsstatus."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.endringer import store
from app.endringer.graphql import PERSONFELT
from app.foresporsel import Foresporsel
from app.personer.rest import felter_for, person_json
from app.personer.utlevering import VARSLINGSSTATUS_FELT
from app.rest import Rute, UgyldigKropp, json_objekt, json_svar


async def hent_endringer(request: Request, foresporsel: Foresporsel) -> Response:
    """A page of at most 1000 changed persons."""
    body = json_objekt(await request.body())
    fra = body.get("fraEndringsId")
    if isinstance(fra, bool) or not isinstance(fra, int):
        raise UgyldigKropp("fraEndringsId must be a whole number (0 for the whole register)")
    # Its range (0 to sisteEndringsId) is the feed's one rule, GraphQL's too: store.les_endringer.
    felter = felter_for(foresporsel.organisasjon) - {VARSLINGSSTATUS_FELT}
    side = await store.les_endringer(fra, store.MAX_ANTALL, felter, foresporsel)
    return json_svar({
        "list": [person_json(p, felter) for p in side.personer],
        "fraEndringsId": side.fra_endrings_id,
        "tilEndringsId": side.til_endrings_id,
        "sisteEndringsId": side.siste_endrings_id,
    })


def personer_per_side(body: bytes) -> int:
    """What a page charges the rate limit: a full page, as GraphQL's `endringer` counts one
    without `antall`."""
    return PERSONFELT.personer(None)


RUTE = Rute("/rest/v2/krr/hentEndringer", hent_endringer, store.LESE_ENDRINGER,
            personer=personer_per_side, signable=True)
