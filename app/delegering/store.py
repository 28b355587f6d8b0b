"""Storage of the delegation registry. History is never deleted: revoking sets two columns.

Nothing here is cached: `aktive_scopes` runs on every on-behalf-of request so that a revocation
bites on the very next one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import db
from app.delegering.models import Delegering, Delegeringsordning
from app.errors import BadInput
from app.text import without_bidi_controls
from authz.avslag import ALLEREDE_TRUKKET_TILBAKE


@dataclass(frozen=True, slots=True)
class Ordning:
    """A delegation scheme: a titled bundle of scopes owned by an organisation."""

    id: str
    tittel: str
    eier: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DelegeringRad:
    """One delegation, active or revoked."""

    id: uuid.UUID
    fra: str
    til: str
    ordning: Ordning
    opprettet: dt.datetime
    opprettet_av: str
    trukket_tilbake: dt.datetime | None
    trukket_tilbake_av: str | None
    trukket_tilbake_av_org: str | None  # the revoker's organisation (None: revoked earlier)

    @property
    def aktiv(self) -> bool:
        return self.trukket_tilbake is None


class AlleredeTrukketTilbake(BadInput):
    """The delegation was revoked before (possibly by a concurrent request)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=ALLEREDE_TRUKKET_TILBAKE)


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _ordning(row: Delegeringsordning) -> Ordning:
    return Ordning(id=row.id, tittel=row.tittel, eier=row.eier, scopes=_scopes(row.scopes))


def _rad(row: Delegering) -> DelegeringRad:
    return DelegeringRad(
        id=row.id,
        fra=row.fra,
        til=row.til,
        ordning=_ordning(row.ordning),  # select_related: fetched in the same statement
        opprettet=row.opprettet,
        opprettet_av=row.opprettet_av,
        trukket_tilbake=row.trukket_tilbake,
        trukket_tilbake_av=row.trukket_tilbake_av,
        trukket_tilbake_av_org=row.trukket_tilbake_av_org,
    )


async def aktive_scopes(fra: str, til: str) -> frozenset[str]:
    """The scopes covered by the active delegations from `fra` to `til`, in one statement
    (served by delegering_fra_til_idx). Empty when there is no active delegation."""
    sql = db.Sql()
    _, rows = await db.connection().execute_query(
        "SELECT o.scopes FROM delegering d JOIN delegeringsordning o ON o.id = d.ordning_id"
        f" WHERE d.fra = {sql(fra)} AND d.til = {sql(til)} AND d.trukket_tilbake IS NULL",
        sql.verdier,
    )
    return frozenset(scope for (scopes,) in rows for scope in scopes.split())


async def ordninger() -> list[Ordning]:
    """All delegation schemes, by id."""
    return [_ordning(row) for row in await Delegeringsordning.all().order_by("id")]


async def hent_ordning(ordning_id: str) -> Ordning | None:
    row = await Delegeringsordning.get_or_none(id=ordning_id)
    return None if row is None else _ordning(row)


async def delegeringer_for(orgnr: str) -> tuple[list[DelegeringRad], list[DelegeringRad]]:
    """(given, received) by `orgnr`, newest first, revoked ones included (the history)."""
    rows = (
        await Delegering.filter(Q(fra=orgnr) | Q(til=orgnr))
        .select_related("ordning")
        .order_by("-opprettet", "-id")
    )
    rader = [_rad(row) for row in rows]
    return [r for r in rader if r.fra == orgnr], [r for r in rader if r.til == orgnr]


async def hent(delegering_id: uuid.UUID) -> DelegeringRad | None:
    row = await Delegering.get_or_none(id=delegering_id).select_related("ordning")
    return None if row is None else _rad(row)


async def _aktiv(fra: str, til: str, ordning_id: str) -> DelegeringRad | None:
    row = (
        await Delegering.filter(
            fra=fra, til=til, ordning_id=ordning_id, trukket_tilbake__isnull=True
        )
        .select_related("ordning")
        .first()
    )
    return None if row is None else _rad(row)


async def gi(fra: str, til: str, ordning_id: str, av: str, naa: dt.datetime) -> DelegeringRad:
    """Grant `ordning` from `fra` to `til`; what is already active is returned as it is.

    Two grants at the same moment both pass the first read; the partial unique index
    `delegering_aktiv_uniq` lets only one insert through and the other returns that one.
    """
    eksisterende = await _aktiv(fra, til, ordning_id)
    if eksisterende is not None:
        return eksisterende
    try:
        async with in_transaction():  # a savepoint, so a failed insert spoils nothing around it
            row = await Delegering.create(
                id=uuid.uuid4(), fra=fra, til=til, ordning_id=ordning_id,
                opprettet=naa, opprettet_av=av,
            )
    except IntegrityError:
        vinner = await _aktiv(fra, til, ordning_id)
        if vinner is None:
            raise
        return vinner
    await row.fetch_related("ordning")
    return _rad(row)


async def trekk_tilbake(
    delegering_id: uuid.UUID, av: str, av_org: str, naa: dt.datetime
) -> DelegeringRad:
    """Revoke an active delegation; raises `AlleredeTrukketTilbake` if it is not active.

    The conditional update is the check, so of two concurrent revocations exactly one wins and
    the first revoker stays on record.
    """
    async with in_transaction():
        endret = await Delegering.filter(
            id=delegering_id, trukket_tilbake__isnull=True
        ).update(trukket_tilbake=naa, trukket_tilbake_av=av, trukket_tilbake_av_org=av_org)
        if not endret:
            raise AlleredeTrukketTilbake(f"Delegation {delegering_id} is already revoked")
        row = await Delegering.get(id=delegering_id).select_related("ordning")
    return _rad(row)


async def navn(orgnrs: Iterable[str]) -> dict[str, str]:
    """Display names of the organisations known by name; unknown ones are left out. Raw SQL
    of one text (an array parameter on PostgreSQL, so its prepared statement is reused): a
    resident's page of who looked them up asks on every request, and the ORM's query building
    cost more than the statement. Bidirectional formatting characters are taken out of each:
    the importer strips them, and a name stored before it did cannot bring them back."""
    wanted = sorted(set(orgnrs))
    if not wanted:
        return {}
    sql = db.Sql()
    _, rows = await db.connection().execute_query(
        f"SELECT orgnr, navn FROM organisasjon WHERE {sql.inn('orgnr', wanted)}", sql.verdier
    )
    return {orgnr: without_bidi_controls(name) for orgnr, name in rows}
