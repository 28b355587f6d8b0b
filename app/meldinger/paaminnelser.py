"""Expiry reminders (`krr varsle-utlop`): a channel about to pass 18 months gets one message.

A channel's freshness date is the later of its updated and confirmed dates (SQL:
app.personer.paragraf32.fersk_dato_sql); it is reminded when that date passes the § 32 limit
within the next two months but has not yet. The outbox key is built from person, channel and
freshness date, so running again (today or any later day) queues nothing new for the same
expiry, while a channel renewed and expiring again gets a new reminder. The register is read
in key order, a batch at a time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from app import db
from app.meldinger.outbox import legg_i_utboks
from app.personer.felt import ADRESSE, Kanal
from app.personer.paragraf32 import (
    FRESHNESS,
    VARSEL_FOER_UTLOP,
    fersk_dato_sql,
    frist,
    har_adresse_sql,
)

OSLO = ZoneInfo("Europe/Oslo")
# How the reminder names each channel.
NAVN = {Kanal.EPOST: "E-postadressen din", Kanal.MOBIL: "Mobilnummeret ditt"}


def varslingsvindu(naa: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(fra, til]: freshness dates still fresh now (after frist(naa)) but not two months from
    now (at or before frist(naa + 2 months)), by the same rule as paragraf32.er_fersk."""
    return frist(naa), frist(naa + VARSEL_FOER_UTLOP)


def noekkel(personidentifikator: str, kanal: Kanal, fersk: dt.datetime) -> str:
    """One reminder per person, channel and freshness date."""
    return f"utlop:{kanal.value}:{personidentifikator}:{fersk.astimezone(dt.UTC).isoformat()}"


def _dato(value: dt.datetime) -> str:
    return value.astimezone(OSLO).strftime("%d.%m.%Y")


def tekst(kanal: Kanal, fersk: dt.datetime) -> str:
    return (
        f"{NAVN[kanal]} i Kontakt- og reservasjonsregisteret ble sist oppdatert eller bekreftet "
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
    queued, after = 0, ""
    while True:
        sql = db.Sql.paa(conn)
        fra_, til_ = sql.tid(fra), sql.tid(til)
        in_window = " OR ".join(
            f"({har_adresse_sql(a, '')} AND {fersk_dato_sql(a, '')} > {fra_}"
            f" AND {fersk_dato_sql(a, '')} <= {til_})"
            for a in ADRESSE.values()
        )
        kolonner = ", ".join(f"{a}, {fersk_dato_sql(a, '')}" for a in ADRESSE.values())
        _, rows = await conn.execute_query(
            f"SELECT personidentifikator, {kolonner} FROM person WHERE status = 'AKTIV'"
            f" AND personidentifikator > {sql(after)} AND ({in_window})"
            f" ORDER BY personidentifikator LIMIT {sql(batch)}",
            sql.verdier,
        )
        if not rows:
            return queued
        async with in_transaction() as tx:
            for row in rows:
                pid = row[0]
                for i, kanal in enumerate(ADRESSE):
                    adresse, fersk = row[1 + 2 * i], db.tid(row[2 + 2 * i])
                    if not adresse or fersk is None or not fra < fersk <= til:
                        continue
                    queued += await legg_i_utboks(
                        tx, noekkel=noekkel(pid, kanal, fersk), kanal=kanal,
                        mottaker=adresse, emne=EMNE, tekst=tekst(kanal, fersk), naa=naa,
                    )
        if len(rows) < batch:
            return queued
        after = rows[-1][0]
