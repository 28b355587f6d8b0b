"""The deadlines a resident is shown on their own entry, judged by § 32's own rule.

Expiry is app.personer.paragraf32.er_fersk moved along the clock, never a second copy of 18
months: a channel expires soon when it is fresh now but would not be at `now + VARSEL_FOER_UTLOP`.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

from app.personer.felt import Kanal, PersonRecord, Registerstatus
from app.personer.paragraf32 import VARSEL_FOER_UTLOP, Kontaktpunkt, er_fersk, kontaktpunkter

BEKREFT_HVER = relativedelta(months=3)  # how often the resident is asked to confirm


def kanaler(record: PersonRecord | None) -> dict[Kanal, Kontaktpunkt]:
    """The channels present on an active entry."""
    if record is None or record.status is not Registerstatus.AKTIV:
        return {}
    return {k: c for k, c in kontaktpunkter(record).items() if c.adresse}


def utlopt(record: PersonRecord | None, now: dt.datetime) -> list[Kanal]:
    """Channels past 18 months: public bodies may no longer notify through them."""
    return [k for k, c in kanaler(record).items() if not er_fersk(c, now)]


def utloper_snart(record: PersonRecord | None, now: dt.datetime) -> list[Kanal]:
    """Channels that pass 18 months within the next two months."""
    return [
        k for k, c in kanaler(record).items()
        if er_fersk(c, now) and not er_fersk(c, now + VARSEL_FOER_UTLOP)
    ]


def maa_bekrefte(record: PersonRecord | None, now: dt.datetime) -> bool:
    """True when the entry has channels and none was confirmed within three calendar months.

    "Confirmed" is the latest `*_sist_verifisert` of the present channels (entering an address
    confirms it too, see app.innbyggere.store); a channel never confirmed counts as missing.
    """
    present = kanaler(record)
    if not present:
        return False
    datoer = [c.sist_verifisert for c in present.values() if c.sist_verifisert is not None]
    return not datoer or max(datoer) < now - BEKREFT_HVER
