"""Logins begun, kept in the database between the redirect to the provider and its answer.

The browser holds only the state (which the provider's answer carries anyway); the PKCE
verifier, the nonce and the page to go back to stay here, under the state's hash. The answer
takes its attempt once: a second answer with the same state (a replayed callback, the same
browser or another) finds it used, whatever the provider does with its codes. An attempt lasts
ten minutes; older ones are deleted when the next login begins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from app.innlogging.models import Forsok

VARER = dt.timedelta(minutes=10)  # from the redirect to the provider until its answer


class AlleredeBrukt(Exception):
    """The attempt's answer came before: this one is a replay (or a second click)."""


@dataclass(frozen=True, slots=True)
class Forsoket:
    """What the answer needs of its attempt."""

    verifier: str
    nonce: str
    neste: str


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def begynn(state: str, verifier: str, nonce: str, neste: str, naa: dt.datetime) -> None:
    """A login sent to the provider with `state`. Expired attempts are swept first."""
    await Forsok.filter(opprettet__lte=naa - VARER).delete()
    await Forsok.create(id=_hash(state), verifier=verifier, nonce=nonce, neste=neste,
                        opprettet=naa)


async def ta(state: str, naa: dt.datetime) -> Forsoket | None:
    """The attempt `state` names, taken by this answer: None if there is none (unknown or
    expired); AlleredeBrukt if an answer took it before. One statement marks it, so of two
    answers at once only one gets it."""
    nokkel = _hash(state)
    tatt = await Forsok.filter(id=nokkel, brukt__isnull=True,
                               opprettet__gt=naa - VARER).update(brukt=naa)
    forsok = await Forsok.get_or_none(id=nokkel)
    if forsok is None or forsok.opprettet <= naa - VARER:
        return None
    if not tatt:
        raise AlleredeBrukt
    return Forsoket(forsok.verifier, forsok.nonce, forsok.neste)
