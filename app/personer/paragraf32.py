"""The 18-month rule of eForvaltningsforskriften § 32, in one place: in Python for a person,
in SQL for counts and filters over the whole register.

Contact information not updated or confirmed within the last 18 months must not be used for
§ 8 notices. Each channel is judged alone; the clock is a parameter so tests can pin it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

from app.personer.felt import ADRESSE, Kanal, PersonRecord

FRESHNESS = relativedelta(months=18)
# A resident is reminded this long before a channel passes 18 months (at 16 months), and sees
# it as expiring soon on their own entry.
VARSEL_FOER_UTLOP = relativedelta(months=2)


class Varslingsstatus(StrEnum):
    KAN_VARSLES = "KAN_VARSLES"
    KAN_IKKE_VARSLES = "KAN_IKKE_VARSLES"


class Kontaktpunkt(NamedTuple):
    """One contact channel as stored: the address and the two dates that restart its clock."""

    adresse: str | None
    oppdatert: dt.datetime | None
    sist_verifisert: dt.datetime | None


class Vurdering(NamedTuple):
    varslingsstatus: Varslingsstatus
    epost_fersk: bool
    mobil_fersk: bool


_KONTAKTPUNKT = {
    kanal: attrgetter(adresse, f"{adresse}_oppdatert", f"{adresse}_sist_verifisert")
    for kanal, adresse in ADRESSE.items()
}


def kontaktpunkter(record: PersonRecord) -> dict[Kanal, Kontaktpunkt]:
    """The channels of a stored person as § 32 sees them (the address may be absent)."""
    return {kanal: Kontaktpunkt._make(hent(record)) for kanal, hent in _KONTAKTPUNKT.items()}


@lru_cache(maxsize=16)  # a batch shares one `now`: compute the cutoff once, not per channel
def frist(now: dt.datetime) -> dt.datetime:
    """The moment 18 calendar months before `now` (month ends clamp, 31 Aug -> 28/29 Feb)."""
    return now - FRESHNESS


def _fersk(
    adresse: str | None, oppdatert: dt.datetime | None, verifisert: dt.datetime | None,
    cutoff: dt.datetime,
) -> bool:
    """The rule: an address, and the later of its updated and confirmed dates after the
    cutoff ("the later of the two is after it" is "either is after it")."""
    if not adresse:
        return False
    return (oppdatert is not None and oppdatert > cutoff) or (
        verifisert is not None and verifisert > cutoff
    )


def er_fersk(kanal: Kontaktpunkt, now: dt.datetime) -> bool:
    """A channel is fresh when the later of its updated and confirmed dates is after the cutoff."""
    return _fersk(*kanal, frist(now))


# Every decision there is, built once: a batch hands out these instead of building its own.
_VURDERINGER = {
    (kan, epost, mobil): Vurdering(
        Varslingsstatus.KAN_VARSLES if kan else Varslingsstatus.KAN_IKKE_VARSLES, epost, mobil
    )
    for kan in (False, True) for epost in (False, True) for mobil in (False, True)
}


def _vurdering(aktiv: bool, reservert: bool, epost_fersk: bool, mobil_fersk: bool) -> Vurdering:
    """A § 8 notice may go out to an active, unreserved person with a fresh channel."""
    kan_varsles = aktiv and not reservert and (epost_fersk or mobil_fersk)
    return _VURDERINGER[bool(kan_varsles), epost_fersk, mobil_fersk]


def vurder(
    *, aktiv: bool, reservert: bool, epost: Kontaktpunkt, mobil: Kontaktpunkt, now: dt.datetime
) -> Vurdering:
    """§ 32 decision for one person: may a § 8 notice go out, and through which channels."""
    cutoff = frist(now)
    epost_fersk = aktiv and _fersk(*epost, cutoff)
    mobil_fersk = aktiv and _fersk(*mobil, cutoff)
    return _vurdering(aktiv, reservert, epost_fersk, mobil_fersk)


_EPOST, _MOBIL = _KONTAKTPUNKT[Kanal.EPOST], _KONTAKTPUNKT[Kanal.MOBIL]


class Vurderer:
    """`vurder` for stored persons judged at one moment (a batch): the cutoff is computed
    once and the channels are read straight off the record, not built per person."""

    __slots__ = ("cutoff",)

    def __init__(self, now: dt.datetime) -> None:
        self.cutoff = frist(now)

    def __call__(self, record: PersonRecord, aktiv: bool) -> Vurdering:
        if not aktiv:
            return _vurdering(False, record.reservasjon, False, False)
        cutoff = self.cutoff
        return _vurdering(True, record.reservasjon, _fersk(*_EPOST(record), cutoff),
                          _fersk(*_MOBIL(record), cutoff))


# --- the same rule as SQL, for filters and counts over the whole register --------------------
# Kept beside `er_fersk`/`vurder` so the rule has one home; `frist` is a SQL expression holding
# `frist(now)` (a placeholder or a column), `p` the person table's alias (`""` for none).


def har_adresse_sql(kolonne: str, p: str = "p.") -> str:
    """`er_fersk`'s "an address is present" (empty text is none), NULL-safe."""
    return f"({p}{kolonne} IS NOT NULL AND {p}{kolonne} <> '')"


def er_fersk_sql(kanal: str, frist: str, p: str = "p.") -> str:
    """`er_fersk` in SQL: an address, and the later of updated/confirmed after the cutoff (the
    later of two dates is after it exactly when either is). NULL-safe: always TRUE or FALSE,
    so that NOT (...) keeps the rows with missing dates."""
    datoer = " OR ".join(
        f"({p}{kanal}_{d} IS NOT NULL AND {p}{kanal}_{d} > {frist})"
        for d in ("oppdatert", "sist_verifisert")
    )
    return f"({har_adresse_sql(kanal, p)} AND ({datoer}))"


def fersk_dato_sql(kanal: str, p: str = "p.") -> str:
    """The date `er_fersk` judges, in SQL: the later of updated and confirmed (either may be
    NULL). A channel is fresh at `now` exactly when this is after `frist(now)`."""
    oppdatert, verifisert = f"{p}{kanal}_oppdatert", f"{p}{kanal}_sist_verifisert"
    return (
        f"CASE WHEN {verifisert} IS NULL THEN {oppdatert} WHEN {oppdatert} IS NULL"
        f" THEN {verifisert} WHEN {oppdatert} >= {verifisert} THEN {oppdatert}"
        f" ELSE {verifisert} END"
    )


def kan_varsles_sql(frist: str, p: str = "p.") -> str:
    """`vurder`'s KAN_VARSLES in SQL: active, not reserved, at least one fresh channel."""
    return (
        f"({p}status = 'AKTIV' AND NOT {p}reservasjon AND ("
        f"{er_fersk_sql('epostadresse', frist, p)} OR "
        f"{er_fersk_sql('mobiltelefonnummer', frist, p)}))"
    )
