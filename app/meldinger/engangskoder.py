"""One-time codes that prove a resident holds an address (sendKode / verifiserKode).

Six random digits, valid ten minutes, five wrong tries. Only a salted scrypt hash is stored:
a million possible codes are quick to try against a fast hash, so the hash is made slow. Each
try is counted before it is checked, so parallel guesses cannot exceed the limit. The message
text with the code leaves the outbox once sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient

from app.meldinger.models import Kanal
from app.meldinger.outbox import KODE_PREFIKS, fra_db, legg_i_utboks, query, ts

GYLDIG = dt.timedelta(minutes=10)
MAKS_FEIL = 5
# A resident may ask for this many codes per channel an hour: each new code restarts the five
# tries, so an unbounded number of codes would be an unbounded number of guesses (and SMS).
MAKS_KODER = 10
KODE_VINDU = dt.timedelta(hours=1)
BEHOLD = dt.timedelta(days=1)  # older codes of the person and channel are deleted
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class Kodefeil(StrEnum):
    INGEN_KODE = "INGEN_KODE"
    KODE_UTLOPT = "KODE_UTLOPT"
    FEIL_KODE = "FEIL_KODE"
    FOR_MANGE_FORSOK = "FOR_MANGE_FORSOK"
    ADRESSE_ENDRET = "ADRESSE_ENDRET"
    FOR_MANGE_KODER = "FOR_MANGE_KODER"


_MELDINGER = {
    Kodefeil.INGEN_KODE: "Det finnes ingen ubrukt kode for denne kanalen. Be om en ny kode.",
    Kodefeil.KODE_UTLOPT: "Koden er utløpt (den gjelder i 10 minutter). Be om en ny kode.",
    Kodefeil.FEIL_KODE: "Koden er feil.",
    Kodefeil.FOR_MANGE_FORSOK: "Koden er ugyldig etter 5 feil forsøk. Be om en ny kode.",
    Kodefeil.ADRESSE_ENDRET: (
        "Adressen er endret etter at koden ble sendt, så koden gjelder ikke lenger. "
        "Be om en ny kode."
    ),
    Kodefeil.FOR_MANGE_KODER: (
        f"Du har bedt om {MAKS_KODER} koder den siste timen. Vent litt før du ber om en ny."
    ),
}


class KodeFeil(Exception):
    """Why a code was not issued or not accepted; `melding` is Norwegian, for the resident."""

    def __init__(self, kode: Kodefeil, melding: str | None = None) -> None:
        self.kode = kode
        self.melding = melding or _MELDINGER[kode]
        super().__init__(self.melding)


def _hash(kode: str, salt: bytes) -> bytes:
    return hashlib.scrypt(kode.encode(), salt=salt, **_SCRYPT)  # type: ignore[arg-type]


async def hash_kode(kode: str) -> str:
    """'scrypt$salt$hash' in hex; scrypt runs in a thread, off the event loop."""
    salt = secrets.token_bytes(16)
    digest = await asyncio.to_thread(_hash, kode, salt)
    return f"scrypt${salt.hex()}${digest.hex()}"


async def kode_stemmer(kode: str, lagret: str) -> bool:
    scheme, _, rest = lagret.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != "scrypt":
        return False
    digest = await asyncio.to_thread(_hash, kode, bytes.fromhex(salt_hex))
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


def ny_kode() -> str:
    return f"{secrets.randbelow(10**6):06d}"


async def opprett_kode(
    conn: BaseDBAsyncClient,
    *,
    personidentifikator: str,
    kanal: Kanal,
    adresse: str,
    naa: dt.datetime,
) -> None:
    """Issue a code for the channel's `adresse` and queue it (SMS or e-mail) in the caller's
    transaction. Earlier unused codes for the person and channel become void. Raises
    KodeFeil(FOR_MANGE_KODER) past MAKS_KODER codes an hour."""
    kanal = Kanal(kanal)
    who = [personidentifikator, kanal.value]
    await query(
        conn,
        "DELETE FROM engangskode WHERE personidentifikator = ? AND kanal = ? AND opprettet < ?",
        [*who, ts(conn, naa - BEHOLD)],
    )
    _, rows = await query(
        conn,
        "SELECT COUNT(*) FROM engangskode WHERE personidentifikator = ? AND kanal = ?"
        " AND opprettet > ?",
        [*who, ts(conn, naa - KODE_VINDU)],
    )
    if int(rows[0][0]) >= MAKS_KODER:
        raise KodeFeil(Kodefeil.FOR_MANGE_KODER)
    await query(
        conn,
        "UPDATE engangskode SET utloper = ? WHERE personidentifikator = ? AND kanal = ?"
        " AND brukt IS NULL AND utloper > ?",
        [ts(conn, naa), *who, ts(conn, naa)],
    )
    kode = ny_kode()
    await query(
        conn,
        "INSERT INTO engangskode (personidentifikator, kanal, adresse, kode_hash, opprettet,"
        " utloper, feil_forsok) VALUES (?, ?, ?, ?, ?, ?, 0)",
        [*who, adresse, await hash_kode(kode), ts(conn, naa), ts(conn, naa + GYLDIG)],
    )
    await legg_i_utboks(
        conn,
        noekkel=f"{KODE_PREFIKS}{kanal.value}:{secrets.token_hex(16)}",
        kanal=kanal,
        mottaker=adresse,
        emne="Engangskode fra Kontakt- og reservasjonsregisteret",
        tekst=(
            f"Din kode er {kode}. Den gjelder i 10 minutter. Ikke del koden med andre.\n"
            "Hilsen Kontakt- og reservasjonsregisteret"
        ),
        naa=naa,
    )


async def verifiser_kode(
    conn: BaseDBAsyncClient,
    *,
    personidentifikator: str,
    kanal: Kanal,
    kode: str,
    adresse: str | None,
    naa: dt.datetime,
) -> None:
    """Accept the newest code of the person and channel once, or raise KodeFeil.

    `adresse` is the channel's current address: a code proves only the address it was sent
    to. Wrong tries are written through `conn` and must be committed even though this raises:
    pass the autocommit connection (`db.connection()`) or catch KodeFeil inside your
    transaction and raise it after the commit, never let it roll the count back.
    """
    kanal = Kanal(kanal)
    _, rows = await query(
        conn,
        "SELECT id, adresse, kode_hash, utloper, feil_forsok, brukt FROM engangskode"
        " WHERE personidentifikator = ? AND kanal = ? ORDER BY id DESC LIMIT 1",
        [personidentifikator, kanal.value],
    )
    if not rows or rows[0][5] is not None:
        raise KodeFeil(Kodefeil.INGEN_KODE)
    kode_id, sendt_til, lagret = int(rows[0][0]), rows[0][1], rows[0][2]
    utloper = fra_db(rows[0][3])
    if int(rows[0][4]) >= MAKS_FEIL:
        raise KodeFeil(Kodefeil.FOR_MANGE_FORSOK)
    if utloper is None or utloper <= naa:
        raise KodeFeil(Kodefeil.KODE_UTLOPT)
    if adresse != sendt_til:
        await query(
            conn, "UPDATE engangskode SET utloper = ? WHERE id = ?", [ts(conn, naa), kode_id]
        )
        raise KodeFeil(Kodefeil.ADRESSE_ENDRET)

    # Count the try first: of any number of parallel tries, only MAKS_FEIL get this far.
    taken, _ = await query(
        conn,
        "UPDATE engangskode SET feil_forsok = feil_forsok + 1 WHERE id = ? AND brukt IS NULL"
        " AND feil_forsok < ? AND utloper > ?",
        [kode_id, MAKS_FEIL, ts(conn, naa)],
    )
    if taken != 1:  # a parallel try used the code up, or took the last try
        _, rows = await query(conn, "SELECT brukt FROM engangskode WHERE id = ?", [kode_id])
        raise KodeFeil(
            Kodefeil.INGEN_KODE if rows and rows[0][0] is not None else Kodefeil.FOR_MANGE_FORSOK
        )
    kode = kode.strip()
    if len(kode) == 6 and kode.isascii() and kode.isdigit() and await kode_stemmer(kode, lagret):
        used, _ = await query(
            conn,
            "UPDATE engangskode SET brukt = ?, feil_forsok = feil_forsok - 1"
            " WHERE id = ? AND brukt IS NULL",
            [ts(conn, naa), kode_id],
        )
        if used != 1:  # a parallel try with the right code won
            raise KodeFeil(Kodefeil.INGEN_KODE)
        return
    _, rows = await query(conn, "SELECT feil_forsok FROM engangskode WHERE id = ?", [kode_id])
    igjen = MAKS_FEIL - int(rows[0][0])
    if igjen <= 0:
        raise KodeFeil(Kodefeil.FOR_MANGE_FORSOK)
    raise KodeFeil(Kodefeil.FEIL_KODE, f"Koden er feil. Du har {igjen} forsøk igjen.")
