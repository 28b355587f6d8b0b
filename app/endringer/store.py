"""Writes that keep the register current for others, and reading the change feed.

Every write runs in the writers' transaction (app.personer.endringsnummer.skrivetransaksjon:
the counter row locked first, the one lock order of all writers of persons), locks the rows it
changes and takes their change numbers there, so numbers become visible in the order taken.
Only rows that actually change get a number: a call that changes nothing leaves the feed alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError

from app import db
from app.errors import BadInput, Conflict
from app.foresporsel import Foresporsel
from app.personer import register
from app.personer.endringsnummer import neste_endrings_id, siste_endrings_id, skrivetransaksjon
from app.personer.felt import GRUPPEDATO, GRUPPER, SPRAAK, Feltgruppe, Registerstatus
from app.personer.models import Person
from app.personer.oppslag import UgyldigInput, revider, tilgang
from app.personer.utlevering import Feltavslag, PersonSvar, utlever
from authz.identifikatorer import problem
from authz.scopes import Handling
from authz.tillatelse import organisasjon

MAX_ANTALL = 1000
# Change numbers are stored as 64-bit integers: a larger position cannot name a change.
MAX_ENDRINGS_ID = 2**63 - 1

# The operations' declared permissions (authz.tillatelse), for GraphQL and REST alike: a vendor
# acting for the organisation only where the organisation delegated the operation's scope.
LESE_ENDRINGER = organisasjon(Handling.HENTE_ENDRINGER, paa_vegne_av=True)
SETTE_SPRAAK = organisasjon(Handling.SETTE_SPRAAK, paa_vegne_av=True)
ENDRE_IDENTIFIKATOR = organisasjon(Handling.ENDRE_IDENTIFIKATOR, paa_vegne_av=True)


class UgyldigPosisjon(BadInput):
    """A feed position this register never handed out: below 0, or beyond its newest change.

    A reader coming with a position from another register (the real one numbers its changes
    above 200,000,000) or from before a reload would otherwise get an empty page and believe
    its copy current. `extensions.sisteEndringsId` carries the newest change as a number."""

    def __init__(self, fra_endrings_id: int, siste_endrings_id: int) -> None:
        if fra_endrings_id < 0:
            hva = f"fraEndringsId {fra_endrings_id} is below 0"
        else:
            hva = (f"fraEndringsId {fra_endrings_id} is beyond sisteEndringsId "
                   f"{siste_endrings_id}, the newest change in this register, which never "
                   "handed out that position (it comes from another register, or from before "
                   "this one was reloaded)")
        super().__init__(
            f"{hva}. Positions run from 0 to sisteEndringsId ({siste_endrings_id}): start "
            "over from fraEndringsId 0 and copy the register anew.",
            sisteEndringsId=siste_endrings_id,
        )


class Konflikt(Conflict):
    """The write would overwrite a choice the register already holds; nothing was changed."""


def _valider_id(navn: str, personidentifikator: str) -> None:
    hvorfor = problem(personidentifikator)
    if hvorfor is not None:
        raise UgyldigInput(
            f"Invalid {navn}: {personidentifikator!r} {hvorfor}", [personidentifikator]
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
        raise BadInput(f"spraak must be one of {', '.join(SPRAAK)}; got {spraak!r}")
    try:
        async with skrivetransaksjon() as conn:
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

# What the old id loses. Its reservation stays stored, though no lookup of a SLETTET entry shows it.
_TOEMMES = (Feltgruppe.EPOST, Feltgruppe.MOBIL, Feltgruppe.SPRAAK, Feltgruppe.POSTKASSE)
_FELT = ("status", *(f for felt in GRUPPER.values() for f in felt))
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
    return rad[GRUPPER[gruppe][0]] is not None


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
    return _nyere(fra[GRUPPEDATO[gruppe]], til[GRUPPEDATO[gruppe]])


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
    for gruppe, felter in GRUPPER.items():
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
        ny_fra.update(dict.fromkeys(GRUPPER[gruppe]))
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
    async with skrivetransaksjon() as conn:
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
        delere = await register.laas_andre_innehavere(
            conn, **_adresser(adresser), unntatt=(fra, til)
        )
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
        await register.renummerer(conn, delere)
    return Identifikatorendring(fra, til, True, flytting.flyttet, flytting.beholdt)


def _adresser(rader: Sequence[Rad]) -> dict[str, set[str]]:
    """The e-mail addresses and mobile numbers these rows hold."""
    return {
        "epost": {r["epostadresse"] for r in rader if r["epostadresse"]},
        "mobil": {r["mobiltelefonnummer"] for r in rader if r["mobiltelefonnummer"]},
    }


# --- the change feed -------------------------------------------------------------------------

@dataclass(slots=True)
class Endringsside:
    """One page of the feed as disclosed to the caller."""

    personer: list[PersonSvar]
    fra_endrings_id: int
    til_endrings_id: int
    siste_endrings_id: int
    avslag: list[Feltavslag]


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
    any more cannot stall a reader). A position equal to `siste_endrings_id` is current: an
    empty page. The one rule for positions, GraphQL's and REST's: below 0 or beyond
    `siste_endrings_id` is UgyldigPosisjon, judged against the number read in the same
    statement (one snapshot) as the page, so the verdict and the page always agree, whatever
    writers commit meanwhile; nothing is disclosed or audited then.

    Raises BadInput (UgyldigPosisjon among them), and Revisjonsfeil (audit not written:
    nothing disclosed).
    """
    if not 1 <= antall <= MAX_ANTALL:
        raise BadInput(f"antall must be from 1 to {MAX_ANTALL}; got {antall}")
    synlig = await tilgang(foresporsel, felter)
    if not 0 <= fra_endrings_id <= MAX_ENDRINGS_ID:
        # Wrong whatever the register holds (no query can use it): only the number to name.
        raise UgyldigPosisjon(fra_endrings_id, await siste_endrings_id(db.connection()))
    side = await register.hent_endringer(fra_endrings_id, antall)
    if fra_endrings_id > side.siste_endrings_id:
        raise UgyldigPosisjon(fra_endrings_id, side.siste_endrings_id)
    personer = [
        utlever(record.personidentifikator, record, kategorier=synlig.kategorier,
                filtrer_paa_varsling=False, now=foresporsel.now)
        for _, record in side.personer
    ]
    til = side.personer[-1][0] if len(side.personer) == antall else side.siste_endrings_id
    if personer and revider_personer:
        await revider(foresporsel, synlig, personer, varslingsstatus=False)
    return Endringsside(personer, fra_endrings_id, til, side.siste_endrings_id, synlig.avslag)
