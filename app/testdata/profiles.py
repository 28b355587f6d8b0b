"""Rows for test persons by profile, drawn with the seed's generator (app.testdata.seed) so a
test person looks like a seeded one: synthetic ids (month + 80), reserved example domains,
Norwegian mobiles, channel dates on the same fresh/expired spans.

Each call gets its own generator seeded from `secrets`, so concurrent calls draw different
numbers; the store still checks every draw against the register and redraws collisions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import secrets
from enum import StrEnum
from typing import Any

from app import db
from app.statistikk.aldersgrupper import AGE_GROUPS
from app.testdata import seed
from app.testdata.seed import (
    _AGE_CUMULATIVE,
    DIGIPOST_ORGNR,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    _Draws,
)

Row = tuple[Any, ...]  # the columns of app.testdata.seed.COLUMNS, in that order


class Testprofil(StrEnum):
    """The real register's static test users."""

    FULL = "FULL"  # e-mail, mobile (both fresh), Digipost mailbox, language
    MOBIL_OG_EPOST = "MOBIL_OG_EPOST"
    BARE_MOBIL = "BARE_MOBIL"
    BARE_EPOST = "BARE_EPOST"
    RESERVERT = "RESERVERT"  # reserved, both channels fresh
    UTLOPT = "UTLOPT"  # both channels past 18 months (KAN_IKKE_VARSLES)
    SLETTET = "SLETTET"


def _ts_for(dialect: str, now: dt.datetime) -> seed._Ts:
    """Seconds before `now` as the driver wants them (app.db.Sql's values; the seed's cached
    formatter costs more to build than a batch of 1000 needs)."""
    sql = db.Sql(dialect)

    def ts(ago: int | None) -> dt.datetime | str | None:
        return None if ago is None else sql.tidsverdi(now - dt.timedelta(seconds=ago))

    return ts


class Testpersoner:
    """Draws test persons of one profile; `redraw` replaces draws the register already holds."""

    def __init__(self, profil: Testprofil, now: dt.datetime, dialect: str) -> None:
        self.profil = profil
        self.now = now.astimezone(dt.UTC).replace(microsecond=0)
        yes, no = (True, False) if dialect == "postgres" else (1, 0)
        self.yes, self.no = yes, no
        self.ts = _ts_for(dialect, self.now)
        self.gen = _Draws(secrets.randbits(128), self.now,
                          reserved_ids=frozenset(seed.EXAMPLE_IDS), reserved_mobiles=frozenset())
        self.rng = self.gen.rng

    def _age(self) -> int:
        r = self.rng.random
        g = AGE_GROUPS[min(bisect.bisect_right(_AGE_CUMULATIVE, r()), len(AGE_GROUPS) - 1)]
        return g[0] + int(r() * (g[1] - g[0] + 1))

    def person_id(self) -> str:
        return self.gen._person_id(self._age())

    def mobile(self) -> str:
        return self.gen._mobile()

    def email(self, first: str, last: str) -> str:
        """Unique by a random tag: a test person never shares an address by accident."""
        domain = EMAIL_DOMAINS[int(self.rng.random() * len(EMAIL_DOMAINS))]
        return f"{first}.{last}.{self.rng.getrandbits(32):08x}@{domain}"

    def rows(self, antall: int) -> list[Row]:
        return [self.row() for _ in range(antall)]

    def row(self) -> Row:
        p = self.profil
        pid = self.person_id()
        if p is Testprofil.SLETTET:
            return (pid, "SLETTET", self.no) + (None,) * 14
        r = self.rng.random
        first = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(r() * len(LAST_NAMES))]
        stale = p is Testprofil.UTLOPT
        reservation: Row = (self.no, None, None)
        if p is Testprofil.RESERVERT:
            at = self.ts(3600 + int(r() * seed.HISTORY_MAX))
            reservation = (self.yes, at, at)
        email: Row = (None,) * 4
        if p is not Testprofil.BARE_MOBIL:
            email = (self.email(first, last), *map(self.ts, self.gen._channel(stale)))
        mobile: Row = (None,) * 4
        if p is not Testprofil.BARE_EPOST:
            mobile = (self.mobile(), *map(self.ts, self.gen._channel(stale)))
        mailbox: Row = (None, None)
        if p is Testprofil.FULL:
            mailbox = (f"{first}.{last}#{self.rng.getrandbits(32):08X}", DIGIPOST_ORGNR)
        language: Row = (None, None)
        if p is Testprofil.FULL or r() < seed.P_LANGUAGE:
            code = seed.LANGUAGES[min(bisect.bisect_right(seed._LANG_CUMULATIVE, r()),
                                      len(seed.LANGUAGES) - 1)][0]
            language = (code, self.ts(3600 + int(r() * seed.HISTORY_MAX)))
        return (pid, "AKTIV", *reservation, *email, *mobile, *mailbox, *language)

    def redraw(self, row: Row, *, pid: bool, email: bool, mobile: bool) -> Row:
        """The row with the named parts drawn again (the rest kept)."""
        out = list(row)
        if pid:
            out[0] = self.person_id()
        if email and out[5] is not None:
            first, last = str(out[5]).split("@")[0].split(".")[:2]
            out[5] = self.email(first, last)
        if mobile and out[9] is not None:
            out[9] = self.mobile()
        return tuple(out)


__all__ = ["Row", "Testpersoner", "Testprofil"]
