"""The outbox: messages are queued in the transaction that causes them and sent later.

Queuing is idempotent on `noekkel`. Sending claims one message at a time with a lease (an atomic
UPDATE that moves `neste_forsok` into the future), so two dispatchers in two processes never
send the same message at once; once `sendt` is set the message is never picked again. A failed
send stays queued and is retried with exponential backoff. A dispatcher that dies between
sending and marking leaves the lease to expire and the message is sent again: delivery to the
gateway or SMTP server is at least once, never lost. Every try carries the message's stable
reference (UtgaaendeMelding.referanse), so a gateway or mail system that drops a repeated
reference delivers it exactly once.

Logs name messages by id only: addresses and texts are personal data (and texts hold codes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.personer.felt import Kanal

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)  # longer than any sender's timeout
BACKOFF_START = dt.timedelta(seconds=30)
BACKOFF_MAKS = dt.timedelta(hours=1)
KODE_PREFIKS = "kode:"  # messages carrying a one-time code: text removed once sent
FJERNET_TEKST = "[engangskode fjernet etter sending]"
MAKS_FEILTEKST = 500


@dataclass(frozen=True, slots=True)
class UtgaaendeMelding:
    """What a sender needs: one message to one address."""

    id: int
    kanal: Kanal
    mottaker: str
    emne: str
    tekst: str
    opprettet: dt.datetime | None = None  # when it was queued

    @property
    def referanse(self) -> str:
        """The message's stable reference, `krr-melding-<id>-<queued, UTC to the microsecond>`:
        the same on every try (both come from its stored row), so the receiver can drop a
        repeat; never the same for two messages, even where ids start over (a database restored
        from a backup, a test register). No address, text or person in it."""
        if self.opprettet is None:
            return f"krr-melding-{self.id}"
        return f"krr-melding-{self.id}-{self.opprettet.astimezone(dt.UTC):%Y%m%d%H%M%S%f}"


class SendeFeil(Exception):
    """A send failed. The message is safe to log and store: it never holds an address or text."""


class Sender(Protocol):
    async def send(self, melding: UtgaaendeMelding) -> None: ...


# --- queuing ---------------------------------------------------------------------------------

async def legg_i_utboks(
    conn: BaseDBAsyncClient,
    *,
    noekkel: str,
    kanal: Kanal,
    mottaker: str,
    emne: str,
    tekst: str,
    naa: dt.datetime,
) -> bool:
    """Queue a message in the caller's transaction `conn`; due at once. False when a message
    with this `noekkel` is already queued or sent (queuing twice is harmless)."""
    if not mottaker:
        raise ValueError("a message needs an address")
    sql = db.Sql.paa(conn)
    naa_ = sql.tid(naa)
    insert = (
        "INSERT INTO melding (noekkel, kanal, mottaker, emne, tekst, opprettet, forsok,"
        f" neste_forsok) VALUES ({sql(noekkel)}, {sql(Kanal(kanal).value)}, {sql(mottaker)},"
        f" {sql(emne)}, {sql(tekst)}, {naa_}, 0, {naa_})"
        " ON CONFLICT (noekkel) DO NOTHING RETURNING id"
    )
    # tortoise's asyncpg client drops the rows of a statement that starts with INSERT (and
    # reports no row count for INSERT): wrapped in a CTE, RETURNING tells whether it inserted.
    text = f"WITH m AS ({insert}) SELECT id FROM m" if sql.postgres else insert
    _, rows = await conn.execute_query(text, sql.verdier)
    return bool(rows)


# --- sending ---------------------------------------------------------------------------------


def backoff(forsok: int) -> dt.timedelta:
    """Wait before the next try, after `forsok` failed tries: 30 s, 1 min, 2 min, ... 1 h."""
    return min(BACKOFF_START * (1 << min(max(forsok - 1, 0), 20)), BACKOFF_MAKS)


def feiltekst(exc: BaseException) -> str:
    """What is stored and logged about a failure: our own SendeFeil texts (which never hold
    personal data), otherwise only the exception's type (its text might hold an address)."""
    text = str(exc) if isinstance(exc, SendeFeil) else type(exc).__name__
    return text[:MAKS_FEILTEKST]


async def _claim(conn: BaseDBAsyncClient, melding_id: int, naa: dt.datetime) -> bool:
    """Take the lease on one due, unsent message; only one dispatcher's UPDATE matches."""
    sql = db.Sql.paa(conn)
    count, _ = await conn.execute_query(
        f"UPDATE melding SET neste_forsok = {sql.tid(naa + LEASE)} WHERE id = {sql(melding_id)}"
        f" AND sendt IS NULL AND neste_forsok <= {sql.tid(naa)}",
        sql.verdier,
    )
    return count == 1


async def _send_one(
    conn: BaseDBAsyncClient, sender: Sender, melding_id: int, naa: dt.datetime
) -> bool | None:
    """Claim, send and mark one message: True sent, False failed, None taken by another."""
    if not await _claim(conn, melding_id, naa):
        return None
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        "SELECT id, kanal, mottaker, emne, tekst, noekkel, forsok, opprettet FROM melding"
        f" WHERE id = {sql(melding_id)}",
        sql.verdier,
    )
    row = rows[0]
    melding = UtgaaendeMelding(
        int(row[0]), Kanal(row[1]), row[2], row[3], row[4], opprettet=db.tid(row[7])
    )
    forsok = int(row[6])
    try:
        await sender.send(melding)
    except Exception as exc:  # any failure leaves the message queued for a later try
        feil = feiltekst(exc)
        sql = db.Sql.paa(conn)
        await conn.execute_query(
            f"UPDATE melding SET forsok = forsok + 1, siste_feil = {sql(feil)},"
            f" neste_forsok = {sql.tid(naa + backoff(forsok + 1))}"
            f" WHERE id = {sql(melding_id)} AND sendt IS NULL",
            sql.verdier,
        )
        log.warning("melding %d: forsøk %d feilet (%s)", melding_id, forsok + 1, feil)
        return False
    await _merk_sendt(conn, melding_id, kode=str(row[5]).startswith(KODE_PREFIKS), naa=naa)
    log.info("melding %d sendt (%s)", melding_id, melding.kanal.value)
    return True


async def _merk_sendt(
    conn: BaseDBAsyncClient, melding_id: int, *, kode: bool, naa: dt.datetime
) -> None:
    """Mark a message sent (a code's text removed). Should this never happen (the process dies,
    the database is away), the lease runs out and the message is sent again, with the same
    reference."""
    sql = db.Sql.paa(conn)
    fjern_tekst = f", tekst = {sql(FJERNET_TEKST)}" if kode else ""
    await conn.execute_query(
        f"UPDATE melding SET sendt = {sql.tid(naa)}, siste_feil = NULL{fjern_tekst}"
        f" WHERE id = {sql(melding_id)} AND sendt IS NULL",
        sql.verdier,
    )


async def send_ventende(
    sender: Sender,
    naa: dt.datetime,
    *,
    batch: int = 100,
    stopp: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Send up to `batch` due messages once each; returns (sent, failed). Safe to run in
    several processes at once. `stopp` ends the batch early between two messages."""
    conn = db.connection()
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        f"SELECT id FROM melding WHERE sendt IS NULL AND neste_forsok <= {sql.tid(naa)}"
        f" ORDER BY neste_forsok, id LIMIT {sql(batch)}",
        sql.verdier,
    )
    sent = failed = 0
    for row in rows:
        if stopp is not None and stopp.is_set():
            break
        result = await _send_one(conn, sender, int(row[0]), naa)
        if result is True:
            sent += 1
        elif result is False:
            failed += 1
    return sent, failed


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def kjoer_utsender(
    sender: Sender,
    *,
    intervall: float,
    stopp: asyncio.Event,
    batch: int = 100,
) -> None:
    """The app's dispatcher: send due messages every `intervall` seconds until `stopp` is set.
    A failing round (database down, say) is logged and the loop goes on: it never takes the
    app down. A full batch is followed at once by the next."""
    while not stopp.is_set():
        full = False
        try:
            sent, failed = await send_ventende(sender, _utc_now(), batch=batch, stopp=stopp)
            full = sent + failed >= batch
        except Exception:
            log.exception("utboksen: utsendingen feilet, prøver igjen om %s s", intervall)
        if full:
            continue
        try:
            await asyncio.wait_for(stopp.wait(), timeout=intervall)
        except TimeoutError:
            pass
