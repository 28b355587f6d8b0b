"""Sessions of the pages, kept in the database: the browser holds a random key (in a signed
cookie, app.innlogging.cookie); the table holds its hash, the person and the form token.

A session ends after 30 minutes without use or 8 hours after login, whichever comes first, and
at once when the person logs out. Expired sessions are deleted when met and at every login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from app.innlogging.models import Okt

UBRUKT = dt.timedelta(minutes=30)  # idle timeout
LENGST = dt.timedelta(hours=8)  # absolute timeout
OPPDATER = dt.timedelta(seconds=60)  # `sist_brukt` is written at most this often


@dataclass(frozen=True, slots=True)
class Innlogget:
    """The person behind a live session, as the pages need them."""

    pid: str
    acr: str
    issuer: str
    csrf: str
    id_token: str


def _hash(nokkel: str) -> str:
    return hashlib.sha256(nokkel.encode()).hexdigest()


def _utlopt(okt: Okt, naa: dt.datetime) -> bool:
    return naa - okt.sist_brukt >= UBRUKT or naa - okt.opprettet >= LENGST


async def opprett(pid: str, acr: str, issuer: str, id_token: str, naa: dt.datetime) -> str:
    """A new session; returns its key (for the cookie). Expired sessions are swept first."""
    await Okt.filter(sist_brukt__lte=naa - UBRUKT).delete()
    await Okt.filter(opprettet__lte=naa - LENGST).delete()
    nokkel = secrets.token_urlsafe(32)
    await Okt.create(id=_hash(nokkel), pid=pid, acr=acr, issuer=issuer, id_token=id_token,
                     csrf=secrets.token_urlsafe(32), opprettet=naa, sist_brukt=naa)
    return nokkel


async def hent(nokkel: str, naa: dt.datetime) -> Innlogget | None:
    """The live session with this key (its idle clock restarted), or None: unknown, ended or
    expired (an expired one is deleted)."""
    okt = await Okt.get_or_none(id=_hash(nokkel))
    if okt is None:
        return None
    if _utlopt(okt, naa):
        await Okt.filter(id=okt.id).delete()
        return None
    if naa - okt.sist_brukt >= OPPDATER:
        await Okt.filter(id=okt.id).update(sist_brukt=naa)
    return Innlogget(okt.pid, okt.acr, okt.issuer, okt.csrf, okt.id_token)


async def avslutt(nokkel: str) -> Innlogget | None:
    """Ends the session (logout); returns who it was, for the provider's logout."""
    okt = await Okt.get_or_none(id=_hash(nokkel))
    if okt is None:
        return None
    await Okt.filter(id=okt.id).delete()
    return Innlogget(okt.pid, okt.acr, okt.issuer, okt.csrf, okt.id_token)
