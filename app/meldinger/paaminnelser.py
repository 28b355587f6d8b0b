"""Expiry reminders (`krr varsle-utlop`): a channel about to pass 18 months gets one message.

A channel's freshness date is the later of its updated and confirmed dates; it is reminded when
that date passes the § 32 limit (app.paragraf32.frist) within the next two months but has not
yet. The outbox key is built from person, channel and freshness date, so running again (today
or any later day) queues nothing new for the same expiry, while a channel renewed and expiring
again gets a new reminder. The register is read in key order, a batch at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from app import db
from app.innbyggere.frister import VARSEL
from app.meldinger.models import Kanal
from app.meldinger.outbox import fra_db, legg_i_utboks, query, ts
from app.personer.paragraf32 import FRESHNESS, frist

VARSEL_FOER = VARSEL  # two months: the same window as the resident's `utloperSnart`
OSLO = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True, slots=True)
class _Kolonner:
    kanal: Kanal
    adresse: str
    navn: str  # how the reminder names the channel

    @property
    def fersk_dato(self) -> str:
        """SQL for the later of the two dates (either may be NULL; works on both dialects)."""
        oppdatert, verifisert = f"{self.adresse}_oppdatert", f"{self.adresse}_sist_verifisert"
        return (
            f"CASE WHEN {verifisert} IS NULL THEN {oppdatert} WHEN {oppdatert} IS NULL"
            f" THEN {verifisert} WHEN {oppdatert} >= {verifisert} THEN {oppdatert}"
            f" ELSE {verifisert} END"
        )


KANALER = (
    _Kolonner(Kanal.EPOST, "epostadresse", "E-postadressen din"),
    _Kolonner(Kanal.MOBIL, "mobiltelefonnummer", "Mobilnummeret ditt"),
)


def varslingsvindu(naa: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(fra, til]: freshness dates still fresh now (after frist(naa)) but not two months from
    now (at or before frist(naa + 2 months)), by the same rule as paragraf32.er_fersk."""
    return frist(naa), frist(naa + VARSEL_FOER)


def noekkel(personidentifikator: str, kanal: Kanal, fersk: dt.datetime) -> str:
    """One reminder per person, channel and freshness date."""
    return f"utlop:{kanal.value}:{personidentifikator}:{fersk.astimezone(dt.UTC).isoformat()}"


def _dato(value: dt.datetime) -> str:
    return value.astimezone(OSLO).strftime("%d.%m.%Y")


def tekst(k: _Kolonner, fersk: dt.datetime) -> str:
    return (
        f"{k.navn} i Kontakt- og reservasjonsregisteret ble sist oppdatert eller bekreftet "
        f"{_dato(fersk)}. Bekreft eller oppdater den innen {_dato(fersk + FRESHNESS)}. Etter "
        "det kan offentlige virksomheter ikke lenger varsle deg der. Logg inn med ID-porten "
        "for å bekrefte eller oppdatere kontaktinformasjonen din.\n"
        "Hilsen Kontakt- og reservasjonsregisteret"
    )


EMNE = "Kontaktinformasjonen din må bekreftes"


async def varsle_utlop(naa: dt.datetime, *, batch: int = 1000) -> int:
    """Queue the reminders due at `naa`; returns how many were queued (not those queued by an
    earlier run). One transaction per batch, so a run can stop and start again anywhere."""
    fra, til = varslingsvindu(naa)
    conn = db.connection()
    in_window = " OR ".join(
        f"({k.adresse} IS NOT NULL AND {k.adresse} <> '' AND {k.fersk_dato} > ?"
        f" AND {k.fersk_dato} <= ?)"
        for k in KANALER
    )
    select = (
        "SELECT personidentifikator, "
        + ", ".join(f"{k.adresse}, {k.fersk_dato}" for k in KANALER)
        + f" FROM person WHERE status = 'AKTIV' AND personidentifikator > ? AND ({in_window})"
        " ORDER BY personidentifikator LIMIT ?"
    )
    window = [ts(conn, fra), ts(conn, til)] * len(KANALER)
    queued, after = 0, ""
    while True:
        _, rows = await query(conn, select, [after, *window, batch])
        if not rows:
            return queued
        async with in_transaction() as tx:
            for row in rows:
                pid = row[0]
                for i, k in enumerate(KANALER):
                    adresse, fersk = row[1 + 2 * i], fra_db(row[2 + 2 * i])
                    if not adresse or fersk is None or not fra < fersk <= til:
                        continue
                    queued += await legg_i_utboks(
                        tx, noekkel=noekkel(pid, k.kanal, fersk), kanal=k.kanal,
                        mottaker=adresse, emne=EMNE, tekst=tekst(k, fersk), naa=naa,
                    )
        if len(rows) < batch:
            return queued
        after = rows[-1][0]
