"""One-time codes that prove a resident holds an address (sendKode / verifiserKode).

Six random digits, valid ten minutes, five wrong tries. Only a salted scrypt hash is stored:
a million possible codes are quick to try against a fast hash, so the hash is made slow. Each
try is counted before it is checked, so parallel guesses cannot exceed the limit. The message
text with the code leaves the outbox once sent.

The slow hash runs before the writer's transaction (lag_kode, sjekk_paa_forhaand): writers of
persons run one at a time (app.personer.endringsnummer), so none should wait for scrypt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.meldinger.outbox import KODE_PREFIKS, legg_i_utboks
from app.personer.felt import Kanal

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
    return hashlib.scrypt(kode.encode(), salt=salt, **_SCRYPT)


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


@dataclass(frozen=True, slots=True)
class NyKode:
    """A new code and its stored form, made before the writer's transaction."""

    kode: str
    kode_hash: str


async def lag_kode() -> NyKode:
    kode = ny_kode()
    return NyKode(kode, await hash_kode(kode))


@dataclass(frozen=True, slots=True)
class Forhaandssjekk:
    """Whether a try matches the code with this id, worked out before the writer's transaction.
    The try is still counted in the transaction before the answer is used."""

    kode_id: int
    stemmer: bool


async def _stemmer(kode: str, lagret: str) -> bool:
    kode = kode.strip()
    return len(kode) == 6 and kode.isascii() and kode.isdigit() and await kode_stemmer(
        kode, lagret
    )


async def sjekk_paa_forhaand(
    *, personidentifikator: str, kanal: Kanal, kode: str, naa: dt.datetime
) -> Forhaandssjekk | None:
    """Compare a try with the newest code of the person and channel, outside any transaction.
    None when there is no code that could still be accepted (no hash computed: a used-up or
    expired code costs no scrypt); verifiser_kode then decides as without this."""
    conn = db.connection()
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        "SELECT id, kode_hash, utloper, feil_forsok, brukt FROM engangskode"
        f" WHERE personidentifikator = {sql(personidentifikator)}"
        f" AND kanal = {sql(Kanal(kanal).value)} ORDER BY id DESC LIMIT 1",
        sql.verdier,
    )
    if not rows:
        return None
    kode_id, lagret, brukt = int(rows[0][0]), rows[0][1], rows[0][4]
    utloper = db.tid(rows[0][2])
    if brukt is not None or int(rows[0][3]) >= MAKS_FEIL or utloper is None or utloper <= naa:
        return None
    return Forhaandssjekk(kode_id, await _stemmer(kode, lagret))


async def opprett_kode(
    conn: BaseDBAsyncClient,
    *,
    personidentifikator: str,
    kanal: Kanal,
    adresse: str,
    naa: dt.datetime,
    ny: NyKode | None = None,
) -> None:
    """Issue a code for the channel's `adresse` and queue it (SMS or e-mail) in the caller's
    transaction. Earlier unused codes for the person and channel become void. Raises
    KodeFeil(FOR_MANGE_KODER) past MAKS_KODER codes an hour. `ny`: the code, made by lag_kode
    before the transaction (made here when not given)."""
    kanal = Kanal(kanal)

    def hvem(sql: db.Sql) -> str:
        return f"personidentifikator = {sql(personidentifikator)} AND kanal = {sql(kanal.value)}"

    sql = db.Sql.paa(conn)
    await conn.execute_query(
        f"DELETE FROM engangskode WHERE {hvem(sql)} AND opprettet < {sql.tid(naa - BEHOLD)}",
        sql.verdier,
    )
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        f"SELECT COUNT(*) FROM engangskode WHERE {hvem(sql)}"
        f" AND opprettet > {sql.tid(naa - KODE_VINDU)}",
        sql.verdier,
    )
    if int(rows[0][0]) >= MAKS_KODER:
        raise KodeFeil(Kodefeil.FOR_MANGE_KODER)
    sql = db.Sql.paa(conn)
    naa_ = sql.tid(naa)
    await conn.execute_query(
        f"UPDATE engangskode SET utloper = {naa_} WHERE {hvem(sql)}"
        f" AND brukt IS NULL AND utloper > {naa_}",
        sql.verdier,
    )
    if ny is None:
        ny = await lag_kode()
    kode = ny.kode
    sql = db.Sql.paa(conn)
    naa_ = sql.tid(naa)
    await conn.execute_query(
        "INSERT INTO engangskode (personidentifikator, kanal, adresse, kode_hash, opprettet,"
        f" utloper, feil_forsok) VALUES ({sql(personidentifikator)}, {sql(kanal.value)},"
        f" {sql(adresse)}, {sql(ny.kode_hash)}, {naa_}, {sql.tid(naa + GYLDIG)}, 0)",
        sql.verdier,
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
    forhaand: Forhaandssjekk | None = None,
) -> None:
    """Accept the newest code of the person and channel once, or raise KodeFeil.

    `forhaand`: the try already compared with the code (sjekk_paa_forhaand); used when it names
    the code found here, otherwise the comparison is made here.

    `adresse` is the channel's current address: a code proves only the address it was sent
    to. Wrong tries are written through `conn` and must be committed even though this raises:
    pass the autocommit connection (`db.connection()`) or catch KodeFeil inside your
    transaction and raise it after the commit, never let it roll the count back.
    """
    kanal = Kanal(kanal)
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        "SELECT id, adresse, kode_hash, utloper, feil_forsok, brukt FROM engangskode"
        f" WHERE personidentifikator = {sql(personidentifikator)} AND kanal = {sql(kanal.value)}"
        " ORDER BY id DESC LIMIT 1",
        sql.verdier,
    )
    if not rows or rows[0][5] is not None:
        raise KodeFeil(Kodefeil.INGEN_KODE)
    kode_id, sendt_til, lagret = int(rows[0][0]), rows[0][1], rows[0][2]
    utloper = db.tid(rows[0][3])
    if int(rows[0][4]) >= MAKS_FEIL:
        raise KodeFeil(Kodefeil.FOR_MANGE_FORSOK)
    if utloper is None or utloper <= naa:
        raise KodeFeil(Kodefeil.KODE_UTLOPT)
    if adresse != sendt_til:
        sql = db.Sql.paa(conn)
        await conn.execute_query(
            f"UPDATE engangskode SET utloper = {sql.tid(naa)} WHERE id = {sql(kode_id)}",
            sql.verdier,
        )
        raise KodeFeil(Kodefeil.ADRESSE_ENDRET)

    # Count the try first: of any number of parallel tries, only MAKS_FEIL get this far.
    sql = db.Sql.paa(conn)
    taken, _ = await conn.execute_query(
        f"UPDATE engangskode SET feil_forsok = feil_forsok + 1 WHERE id = {sql(kode_id)}"
        f" AND brukt IS NULL AND feil_forsok < {sql(MAKS_FEIL)} AND utloper > {sql.tid(naa)}",
        sql.verdier,
    )
    if taken != 1:  # a parallel try used the code up, or took the last try
        brukt = await _kolonne(conn, "brukt", kode_id)
        raise KodeFeil(Kodefeil.INGEN_KODE if brukt is not None else Kodefeil.FOR_MANGE_FORSOK)
    if forhaand is not None and forhaand.kode_id == kode_id:
        stemmer = forhaand.stemmer
    else:
        stemmer = await _stemmer(kode, lagret)
    if stemmer:
        sql = db.Sql.paa(conn)
        used, _ = await conn.execute_query(
            f"UPDATE engangskode SET brukt = {sql.tid(naa)}, feil_forsok = feil_forsok - 1"
            f" WHERE id = {sql(kode_id)} AND brukt IS NULL",
            sql.verdier,
        )
        if used != 1:  # a parallel try with the right code won
            raise KodeFeil(Kodefeil.INGEN_KODE)
        return
    igjen = MAKS_FEIL - int(await _kolonne(conn, "feil_forsok", kode_id))
    if igjen <= 0:
        raise KodeFeil(Kodefeil.FOR_MANGE_FORSOK)
    raise KodeFeil(Kodefeil.FEIL_KODE, f"Koden er feil. Du har {igjen} forsøk igjen.")


async def _kolonne(conn: BaseDBAsyncClient, kolonne: str, kode_id: int) -> Any:
    """One column of a code as it is now."""
    sql = db.Sql.paa(conn)
    _, rows = await conn.execute_query(
        f"SELECT {kolonne} FROM engangskode WHERE id = {sql(kode_id)}", sql.verdier
    )
    return rows[0][0] if rows else None
