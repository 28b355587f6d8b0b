"""What an organisation does with its delegations, for every way of doing it: GraphQL's
mutations (an organisation's own token) and the access managers' page (a person acting for an
organisation they manage) call these, so the rules (authz.delegation) and the records are the
same whichever way a grant or revocation comes in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from app.delegering import store
from app.errors import BadInput, NotFound
from authz.delegation import aktoer, kan_delegere, kan_trekke_tilbake, vist_aktoer
from authz.principal import Principal

UGYLDIG_ID = "UGYLDIG_ID"


async def gi_tilgang(
    principal: Principal, til: str, ordning_id: str, naa: dt.datetime
) -> store.DelegeringRad:
    """Grant scheme `ordning_id` from the principal's organisation to `til`, recording the
    principal's actor; what is already active is returned as it is. Raises Avslag."""
    funnet = await store.hent_ordning(ordning_id)
    kan_delegere(principal, til, ordning_finnes=funnet is not None)
    assert funnet is not None  # kan_delegere refuses an unknown scheme
    return await store.gi(principal.consumer, til, funnet.id, aktoer(principal), naa)


def delegerings_id(tekst: str) -> uuid.UUID:
    """A delegation's id as given by a client; BadInput (UGYLDIG_ID) for anything else."""
    try:
        return uuid.UUID(tekst)
    except ValueError as exc:
        raise BadInput(f"{tekst[:40]!r} is not a delegation id", reason=UGYLDIG_ID) from exc


async def trekk_tilbake_tilgang(
    principal: Principal, delegering_id: uuid.UUID, naa: dt.datetime
) -> store.DelegeringRad:
    """Revoke a delegation the principal's organisation gave, or give up one it received.
    Raises NotFound, Avslag (not a party) and AlleredeTrukketTilbake."""
    rad = await store.hent(delegering_id)
    if rad is None:
        raise NotFound(f"No delegation with id {delegering_id}")
    kan_trekke_tilbake(principal, rad.fra, rad.til)
    return await store.trekk_tilbake(delegering_id, aktoer(principal), principal.consumer, naa)


@dataclass(frozen=True, slots=True)
class Aktoerer:
    """Who granted and who revoked a delegation, as one organisation is shown them."""

    opprettet_av: str
    trukket_tilbake_av: str | None


def aktoerer(rad: store.DelegeringRad, seer: str) -> Aktoerer:
    """`rad`'s actors as organisation `seer` sees them: a person's id only to the person's own
    organisation, otherwise the organisation that acted (authz.delegation.vist_aktoer)."""
    return Aktoerer(
        opprettet_av=vist_aktoer(rad.opprettet_av, rad.fra, seer) or rad.fra,
        trukket_tilbake_av=vist_aktoer(rad.trukket_tilbake_av, rad.trukket_tilbake_av_org, seer),
    )
