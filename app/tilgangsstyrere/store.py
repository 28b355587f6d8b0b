"""Storage of the access-manager registry: who manages which organisation's delegations.

History is never deleted: removing a role sets two columns, and adding the person again makes
a new row. Nothing is cached: the admin page asks `er_tilgangsstyrer` at every action, so a
removal bites on the very next one. A national id is never put in an error message (they end
up in logs); an organisation number is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import BadInput
from app.tilgangsstyrere.models import Tilgangsstyrer
from authz.avslag import UGYLDIG_ORGNR
from authz.identifikatorer import is_valid_orgno, problem

UGYLDIG_PID = "UGYLDIG_PID"  # not a fødselsnummer, D-number or synthetic number
INGEN_AKTIV_ROLLE = "INGEN_AKTIV_ROLLE"  # removing a role that is not active


@dataclass(frozen=True, slots=True)
class Rolle:
    """One access-manager role, active or removed."""

    orgnr: str
    pid: str
    lagt_til: dt.datetime
    lagt_til_av: str
    fjernet: dt.datetime | None
    fjernet_av: str | None

    @property
    def aktiv(self) -> bool:
        return self.fjernet is None


class UgyldigRolle(BadInput):
    """The organisation number or the national id is not valid; nothing was done."""


class IkkeTilgangsstyrer(BadInput):
    """The person holds no active role for the organisation (possibly removed by a concurrent
    request); nothing was done."""

    def __init__(self, orgnr: str) -> None:
        super().__init__(
            f"pid is not an active access manager of {orgnr}", reason=INGEN_AKTIV_ROLLE
        )


def valider_orgnr(orgnr: str) -> None:
    """Raises `UgyldigRolle` naming the organisation number unless it is valid."""
    if not is_valid_orgno(orgnr):
        raise UgyldigRolle(
            f"orgnr {orgnr[:20]!r} is not a valid organisation number (9 digits, mod-11 check "
            "digit)",
            reason=UGYLDIG_ORGNR,
        )


def valider(orgnr: str, pid: str) -> None:
    """Raises `UgyldigRolle` naming what is wrong (the id itself is never echoed)."""
    valider_orgnr(orgnr)
    hvorfor = problem(pid)
    if hvorfor is not None:
        raise UgyldigRolle(
            f"pid is not a valid national id (fødselsnummer, D-number or synthetic number): "
            f"it {hvorfor}",
            reason=UGYLDIG_PID,
        )


def _rolle(row: Tilgangsstyrer) -> Rolle:
    return Rolle(
        orgnr=row.orgnr,
        pid=row.pid,
        lagt_til=row.lagt_til,
        lagt_til_av=row.lagt_til_av,
        fjernet=row.fjernet,
        fjernet_av=row.fjernet_av,
    )


async def _aktiv(orgnr: str, pid: str) -> Tilgangsstyrer | None:
    return await Tilgangsstyrer.get_or_none(orgnr=orgnr, pid=pid, fjernet__isnull=True)


async def organisasjoner_for(pid: str) -> list[str]:
    """The organisation numbers `pid` actively manages, sorted (tilgangsstyrer_pid_idx)."""
    orgnrs = await (
        Tilgangsstyrer.filter(pid=pid, fjernet__isnull=True)
        .order_by("orgnr")
        .values_list("orgnr", flat=True)
    )
    return [str(orgnr) for orgnr in orgnrs]


async def er_tilgangsstyrer(pid: str, orgnr: str) -> bool:
    """Whether `pid` actively manages `orgnr` (the page's check before every change)."""
    return await Tilgangsstyrer.exists(orgnr=orgnr, pid=pid, fjernet__isnull=True)


async def legg_til(orgnr: str, pid: str, av: str, naa: dt.datetime) -> Rolle:
    """Make `pid` an access manager of `orgnr`; an active role is returned as it is (the
    original adder stays on record).

    Two adds at the same moment both pass the first read; the partial unique index
    `tilgangsstyrer_aktiv_uniq` lets only one insert through and the other returns that one.
    """
    valider(orgnr, pid)
    eksisterende = await _aktiv(orgnr, pid)
    if eksisterende is not None:
        return _rolle(eksisterende)
    try:
        async with in_transaction():  # a savepoint, so a failed insert spoils nothing around it
            row = await Tilgangsstyrer.create(orgnr=orgnr, pid=pid, lagt_til=naa, lagt_til_av=av)
    except IntegrityError:
        vinner = await _aktiv(orgnr, pid)
        if vinner is None:
            raise
        return _rolle(vinner)
    return _rolle(row)


async def fjern(orgnr: str, pid: str, av: str, naa: dt.datetime) -> Rolle:
    """End `pid`'s active role for `orgnr`; raises `IkkeTilgangsstyrer` if there is none.

    The conditional update is the check, so of two concurrent removals exactly one wins and
    the first remover stays on record.
    """
    valider(orgnr, pid)
    async with in_transaction():
        aktiv = await _aktiv(orgnr, pid)
        if aktiv is None:
            raise IkkeTilgangsstyrer(orgnr)
        endret = await Tilgangsstyrer.filter(id=aktiv.id, fjernet__isnull=True).update(
            fjernet=naa, fjernet_av=av
        )
        if not endret:  # a concurrent removal came first
            raise IkkeTilgangsstyrer(orgnr)
        await aktiv.refresh_from_db()
    return _rolle(aktiv)


async def liste(orgnr: str) -> list[Rolle]:
    """The active access managers of `orgnr`, longest-serving first."""
    valider_orgnr(orgnr)
    rows = await Tilgangsstyrer.filter(orgnr=orgnr, fjernet__isnull=True).order_by(
        "lagt_til", "id"
    )
    return [_rolle(row) for row in rows]


async def alle() -> list[Rolle]:
    """Every active access manager, by organisation, longest-serving first within each."""
    rows = await Tilgangsstyrer.filter(fjernet__isnull=True).order_by("orgnr", "lagt_til", "id")
    return [_rolle(row) for row in rows]
