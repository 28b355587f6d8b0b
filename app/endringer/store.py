"""Writes that keep the register current for others, and reading the change feed.

Every write takes its change numbers (app.changes) inside its own transaction, after it has
locked the rows it changes, so numbers become visible in the order they were taken. Only rows
that actually change get a number: a call that changes nothing leaves the feed alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.personer import register
from app.personer.endringsnummer import neste_endrings_id
from app.personer.models import Person, Registerstatus
from app.personer.oppslag import (
    Avslag,
    Foresporsel,
    PersonSvar,
    UgyldigInput,
    revider,
    utlever,
    vurder_tilgang,
)
from authz import identifikatorer as identifiers

SPRAAK = ("nb", "nn", "en", "se")
MAX_ANTALL = 1000


class Konflikt(Exception):
    """The write would overwrite a choice the register already holds; nothing was changed."""


def _valider_id(navn: str, personidentifikator: str) -> None:
    problem = identifiers.problem(personidentifikator)
    if problem is not None:
        raise UgyldigInput(
            f"Invalid {navn}: {personidentifikator!r} {problem}", [personidentifikator]
        )


# --- settSpraak ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Spraaksetting:
    """What a public body's language call did: the language now stored and whether the call
    created the entry (the person was not in the register)."""

    personidentifikator: str
    spraak: str
    spraak_oppdatert: dt.datetime
    status: Registerstatus
    opprettet: bool


async def sett_spraak(personidentifikator: str, spraak: str, now: dt.datetime) -> Spraaksetting:
    """Set the language where the register holds none; create an entry with only a language for
    a person not in the register.

    A SLETTET entry is in the register: without a language it gets one and stays SLETTET (a
    public body does not bring back an entry the resident deleted; it shows again when they
    register). Raises UgyldigInput, and Konflikt when the entry has a language (also when a
    concurrent call created the entry first: the primary key lets only one insert win).
    """
    _valider_id("personidentifikator", personidentifikator)
    if spraak not in SPRAAK:
        raise UgyldigInput(f"spraak must be one of {', '.join(SPRAAK)}; got {spraak!r}")
    try:
        async with in_transaction() as conn:
            person = await (
                Person.filter(personidentifikator=personidentifikator)
                .select_for_update().using_db(conn).first()
            )
            if person is not None and person.spraak is not None:
                raise Konflikt(
                    f"{personidentifikator} already has a language in the register; the "
                    "resident's own choice stands and a public body cannot change it"
                )
            nummer = await neste_endrings_id(conn)
            if person is None:
                await Person.create(
                    using_db=conn, personidentifikator=personidentifikator,
                    status=Registerstatus.AKTIV, reservasjon=False,
                    spraak=spraak, spraak_oppdatert=now, endrings_id=nummer,
                )
                status = Registerstatus.AKTIV
            else:
                await Person.filter(personidentifikator=personidentifikator).using_db(
                    conn
                ).update(spraak=spraak, spraak_oppdatert=now, endrings_id=nummer)
                status = person.status
    except IntegrityError as exc:  # a concurrent call created the entry first
        raise Konflikt(
            f"{personidentifikator} got a language in the register meanwhile; that choice "
            "stands"
        ) from exc
    return Spraaksetting(personidentifikator, spraak, now, status, person is None)


# --- endreIdentifikator ----------------------------------------------------------------------

class Feltgruppe(StrEnum):
    """The parts of an entry that move together, each with the date that says how new it is."""

    EPOST = "EPOST"
    MOBIL = "MOBIL"
    RESERVASJON = "RESERVASJON"
    SPRAAK = "SPRAAK"
    POSTKASSE = "POSTKASSE"


_GRUPPE_FELT: dict[Feltgruppe, tuple[str, ...]] = {
    Feltgruppe.EPOST: ("epostadresse", "epostadresse_oppdatert", "epostadresse_sist_verifisert",
                       "epostadresse_sist_validert"),
    Feltgruppe.MOBIL: ("mobiltelefonnummer", "mobiltelefonnummer_oppdatert",
                       "mobiltelefonnummer_sist_verifisert", "mobiltelefonnummer_sist_validert"),
    Feltgruppe.RESERVASJON: ("reservasjon", "reservasjonstidspunkt", "reservasjon_oppdatert"),
    Feltgruppe.SPRAAK: ("spraak", "spraak_oppdatert"),
    Feltgruppe.POSTKASSE: ("postkasseadresse", "postkasseleverandoer_id"),
}
# The date that decides which side's group is newer (a mailbox has none: `til` keeps its own).
_GRUPPE_DATO: dict[Feltgruppe, str] = {
    Feltgruppe.EPOST: "epostadresse_oppdatert",
    Feltgruppe.MOBIL: "mobiltelefonnummer_oppdatert",
    Feltgruppe.RESERVASJON: "reservasjon_oppdatert",
    Feltgruppe.SPRAAK: "spraak_oppdatert",
}
# What the old id loses; its reservation stays (a SLETTET entry still shows it, as in lookups).
_TOEMMES = (Feltgruppe.EPOST, Feltgruppe.MOBIL, Feltgruppe.SPRAAK, Feltgruppe.POSTKASSE)
_FELT = ("status", *(f for felt in _GRUPPE_FELT.values() for f in felt))
_TOM: dict[str, Any] = {f: None for f in _FELT} | {
    "status": Registerstatus.AKTIV, "reservasjon": False
}

Rad = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Identifikatorendring:
    """What moving `fra` to `til` did. `endret` is False when there was nothing to move (an
    unknown `fra`, or a second run): then no change numbers were taken."""

    fra: str
    til: str
    endret: bool
    flyttet: list[Feltgruppe] = field(default_factory=list)
    beholdt: list[Feltgruppe] = field(default_factory=list)


def _har(gruppe: Feltgruppe, rad: Rad) -> bool:
    if gruppe is Feltgruppe.RESERVASJON:
        return bool(rad["reservasjon"]) or rad["reservasjon_oppdatert"] is not None
    return rad[_GRUPPE_FELT[gruppe][0]] is not None


def _nyere(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    """Strictly newer; an unknown date is older than any known one, so ties keep `til`'s."""
    return a is not None and (b is None or a > b)


def _fra_vinner(gruppe: Feltgruppe, fra: Rad, til: Rad | None) -> bool:
    if not _har(gruppe, fra):
        return False
    if til is None or not _har(gruppe, til):
        return True
    if gruppe is Feltgruppe.POSTKASSE:
        return False
    return _nyere(fra[_GRUPPE_DATO[gruppe]], til[_GRUPPE_DATO[gruppe]])


@dataclass(frozen=True, slots=True)
class _Flytting:
    ny_fra: Rad
    ny_til: Rad | None  # None: `til` stays absent
    flyttet: list[Feltgruppe]
    beholdt: list[Feltgruppe]


def _flytt(fra: Rad, til: Rad | None) -> _Flytting:
    """The merge as a pure decision: each group goes to the side with the newer value."""
    ny_til = dict(til if til is not None else _TOM)
    flyttet, beholdt = [], []
    for gruppe, felter in _GRUPPE_FELT.items():
        if _fra_vinner(gruppe, fra, til):
            flyttet.append(gruppe)
            ny_til.update({f: fra[f] for f in felter})
        elif _har(gruppe, fra) and any(fra[f] != ny_til[f] for f in felter):
            beholdt.append(gruppe)  # a different value lost (an equal one: already moved)
    aktiv = Registerstatus.AKTIV
    if til is None:
        ny_til["status"] = fra["status"]
    elif aktiv in (til["status"], fra["status"]):
        ny_til["status"] = aktiv
    ny_fra = dict(fra, status=Registerstatus.SLETTET)
    for gruppe in _TOEMMES:
        ny_fra.update(dict.fromkeys(_GRUPPE_FELT[gruppe]))
    opprett = til is not None or flyttet or fra["status"] is aktiv
    return _Flytting(ny_fra, ny_til if opprett else None, flyttet, beholdt)


def _rad(person: Person) -> Rad:
    return {f: getattr(person, f) for f in _FELT}


async def endre_identifikator(fra: str, til: str) -> Identifikatorendring:
    """Move an entry to a person's new id (the population register's change of fødselsnummer).

    Contact information, reservation, language and mailbox go to `til`, each group keeping the
    more recently updated value when `til` has an entry (a mailbox: `til`'s own if it has one).
    `fra` becomes SLETTET without contact information, language and mailbox. All in one
    transaction; the changed rows, and the other holders of the addresses involved (whose
    duplicate flags may change), get new change numbers. Idempotent: a second run finds nothing
    to move. An unknown `fra` is nothing to move either (not an error: the population register
    sends every change, and most need nothing here).
    """
    _valider_id("fra", fra)
    _valider_id("til", til)
    if fra == til:
        raise UgyldigInput("fra and til must be different personidentifikatorer")
    async with in_transaction() as conn:
        rows = await (
            Person.filter(personidentifikator__in=[fra, til])
            .order_by("personidentifikator").select_for_update().using_db(conn)
        )
        by_id = {p.personidentifikator: _rad(p) for p in rows}
        gammel, ny = by_id.get(fra), by_id.get(til)
        if gammel is None:
            return Identifikatorendring(fra, til, endret=False)
        flytting = _flytt(gammel, ny)
        endres = {}
        if flytting.ny_fra != gammel:
            endres[fra] = flytting.ny_fra
        if flytting.ny_til is not None and flytting.ny_til != ny:
            endres[til] = flytting.ny_til
        if not endres:
            return Identifikatorendring(fra, til, False, [], flytting.beholdt)
        adresser = [r for r in (gammel, ny) if r is not None]
        delere = await _laas_delere(conn, adresser, unntatt=(fra, til))
        for pid in sorted(endres):
            nummer = await neste_endrings_id(conn)
            if pid == til and ny is None:
                await Person.create(
                    using_db=conn, personidentifikator=til, endrings_id=nummer, **endres[til]
                )
            else:
                await Person.filter(personidentifikator=pid).using_db(conn).update(
                    endrings_id=nummer, **endres[pid]
                )
        await register.oppdater_duplikater(
            conn, **_adresser([*adresser, *endres.values()]), personidentifikatorer=endres
        )
        await renummerer(conn, delere)
    return Identifikatorendring(fra, til, True, flytting.flyttet, flytting.beholdt)


async def _laas_delere(
    conn: BaseDBAsyncClient, rader: Sequence[Rad], unntatt: Sequence[str]
) -> list[str]:
    """The other AKTIV holders of these rows' addresses, locked, in id order."""
    return await laas_andre_innehavere(conn, **_adresser(rader), unntatt=unntatt)


def _adresser(rader: Sequence[Rad]) -> dict[str, set[str]]:
    """The e-mail addresses and mobile numbers these rows hold."""
    return {
        "epost": {r["epostadresse"] for r in rader if r["epostadresse"]},
        "mobil": {r["mobiltelefonnummer"] for r in rader if r["mobiltelefonnummer"]},
    }


async def laas_andre_innehavere(
    conn: BaseDBAsyncClient, *, epost: set[str], mobil: set[str], unntatt: Sequence[str]
) -> list[str]:
    """Lock and name the AKTIV persons (other than `unntatt`) holding any of these addresses:
    their duplicate flags change with ours, so they take new change numbers too (renummerer).
    Locked in id order, before any change number is taken, so writers never deadlock."""
    if not epost and not mobil:
        return []
    andre = await (
        Person.filter(Q(epostadresse__in=list(epost)) | Q(mobiltelefonnummer__in=list(mobil)),
                      status=Registerstatus.AKTIV)
        .exclude(personidentifikator__in=list(unntatt))
        .order_by("personidentifikator").select_for_update().using_db(conn)
    )
    return [p.personidentifikator for p in andre]


async def renummerer(conn: BaseDBAsyncClient, personidentifikatorer: Iterable[str]) -> None:
    """Give these rows new change numbers though their own columns did not change.

    The feed shows duplicate flags, which depend on other rows: when the AKTIV holders of an
    address change, each remaining holder must reappear in the feed for a copy to stay exact.
    Any writer that changes addresses or status should call this for the other holders.
    """
    for pid in personidentifikatorer:
        nummer = await neste_endrings_id(conn)
        await Person.filter(personidentifikator=pid).using_db(conn).update(endrings_id=nummer)


# --- the change feed -------------------------------------------------------------------------

@dataclass(slots=True)
class Endringsside:
    """One page of the feed as disclosed to the caller."""

    personer: list[PersonSvar]
    fra_endrings_id: int
    til_endrings_id: int
    siste_endrings_id: int
    avslag: list[Avslag]


async def les_endringer(
    fra_endrings_id: int,
    antall: int,
    felter: frozenset[str],
    foresporsel: Foresporsel,
    *,
    revider_personer: bool = True,
) -> Endringsside:
    """A page of persons changed after `fra_endrings_id`, disclosed by the lookup's rules and
    recorded in the audit log like a lookup.

    `til_endrings_id` is where the next page starts: the last number in a full page; when the
    page holds every remaining change, the last committed number (so numbers that name no row
    any more cannot stall a reader). A reader ahead of the register (after a reseed) gets its
    own number back, above `siste_endrings_id`, and should start over from 0.

    Raises UgyldigInput, authz.delegation's refusal (a vendor without delegation) and
    Revisjonsfeil (audit not written: nothing disclosed).
    """
    if fra_endrings_id < 0:
        raise UgyldigInput(f"fraEndringsId must be 0 or more; got {fra_endrings_id}")
    if not 1 <= antall <= MAX_ANTALL:
        raise UgyldigInput(f"antall must be from 1 to {MAX_ANTALL}; got {antall}")
    tilgang = await vurder_tilgang(foresporsel.principal, felter)
    kategorier = tilgang.kategorier
    side = await register.hent_endringer(fra_endrings_id, antall)
    personer = [
        utlever(record.personidentifikator, record, kategorier=kategorier,
                filtrer_paa_varsling=False, now=foresporsel.now)
        for _, record in side.personer
    ]
    if len(side.personer) == antall:
        til = side.personer[-1][0]
    else:
        til = max(fra_endrings_id, side.siste_endrings_id)
    if personer and revider_personer:
        await revider(foresporsel, kategorier, False, personer, tilgang.synlige)
    return Endringsside(personer, fra_endrings_id, til, side.siste_endrings_id, tilgang.avslag)
