"""The register's key figures, summed in the database in three scans, each giving many figures.

1. One pass over `person` with COUNT(*) FILTER: entries, active, deleted, channels, mailboxes,
   reserved and the § 32 count (against `paragraf32.frist(now)`, the rule's only cutoff).
2. One pass over the active persons grouped by (age, provider): the age comes from the id's
   birth date decoded in SQL, so ~100 ages x providers rows come back, which Python folds into
   seed 004's age groups and the mailboxes per provider.
3. One pass over the audit log's requests grouped by month.

The expressions are the same on SQLite and PostgreSQL (CAST, % and integer division behave
alike); only the month of a date and the optimisation fence differ (app.db.Sql writes the
parameters). The decoding is tested against `authz.identifikatorer.birth_date` on both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app import db
from app.personer import paragraf32
from app.personer.paragraf32 import frist
from app.statistikk import grunnlag
from app.statistikk.aldersgrupper import AGE_GROUPS
from app.statistikk.grunnlag import birth_yyyymmdd, foerste_ni

OSLO = ZoneInfo("Europe/Oslo")
TTL_SEKUNDER = 60.0  # how old the public figures may be (Buffer)


@dataclass(frozen=True, slots=True)
class Aldersgruppe:
    """Seed 004's row: active persons of these ages and how many have a digital mailbox."""

    fra: int
    til: int | None  # None: open upwards ("90+")
    innbyggere: int
    med_postkasse: int

    @property
    def navn(self) -> str:
        return f"{self.fra}-{self.til}" if self.til is not None else f"{self.fra - 1}+"

    @property
    def andel(self) -> float:
        """Share (0..1) with a digital mailbox; 0 for an empty group."""
        return self.med_postkasse / self.innbyggere if self.innbyggere else 0.0


@dataclass(frozen=True, slots=True)
class Leverandoerandel:
    orgnr: str
    navn: str
    antall: int  # active persons with a mailbox at this provider


@dataclass(frozen=True, slots=True)
class Oppslagsmaaned:
    maaned: str  # YYYY-MM (the audit log's Oslo day)
    oppslag: int  # requests
    personer: int  # persons disclosed, summed over requests
    konsumenter: int  # distinct consuming organisations


@dataclass(frozen=True, slots=True)
class Statistikk:
    tidspunkt: dt.datetime
    dato: dt.date  # the Oslo date ages are computed at
    registrerte: int
    aktive: int
    slettede: int
    med_epost: int
    med_mobil: int
    med_postkasse: int
    reserverte: int
    kan_varsles: int
    postkasser: list[Leverandoerandel]
    aldersgrupper: list[Aldersgruppe]
    oppslag: list[Oppslagsmaaned]


_has = paragraf32.har_adresse_sql

_ACTIVE = "p.status = 'AKTIV'"
_MAILBOX = f"({_has('postkasseadresse')} AND p.postkasseleverandoeradresse IS NOT NULL)"
# Channels, mailboxes and reservations count for active entries only: a deleted entry's
# leftovers are nobody's contact information. COUNT(*) FILTER: SQLite >= 3.30, PostgreSQL.
_TOTALS = f"""
SELECT COUNT(*),
       COUNT(*) FILTER (WHERE {_ACTIVE}),
       COUNT(*) FILTER (WHERE p.status = 'SLETTET'),
       COUNT(*) FILTER (WHERE {_ACTIVE} AND {_has('epostadresse')}),
       COUNT(*) FILTER (WHERE {_ACTIVE} AND {_has('mobiltelefonnummer')}),
       COUNT(*) FILTER (WHERE {_ACTIVE} AND {_MAILBOX}),
       COUNT(*) FILTER (WHERE {_ACTIVE} AND p.reservasjon),
       COUNT(*) FILTER (WHERE {paragraf32.kan_varsles_sql('f.frist')})
FROM person p CROSS JOIN (SELECT {{frist}} AS frist) f"""

FIRST_NINE = foerste_ni("p.")


def age_sql(n: str, today: str) -> str:
    """SQL for completed years at `today` (SQL for the integer YYYYMMDD): the difference of two
    YYYYMMDD numbers divided by 10000 (a birthday not reached yet this year borrows the year)."""
    return f"(({today}) - ({birth_yyyymmdd(n)})) / 10000"


# The inner query converts each id once; {fence} keeps the planner from inlining `n` into each
# of its uses in the outer expression (which made it 1.5x slower on both databases).
_BY_AGE = f"""
SELECT {age_sql('a.n', '{idag}')} AS alder, a.leverandoer, COUNT(*)
FROM (SELECT {FIRST_NINE} AS n,
             CASE WHEN {_MAILBOX} THEN p.postkasseleverandoeradresse END AS leverandoer
      FROM person p WHERE {_ACTIVE} {{fence}}) a
GROUP BY 1, 2"""

_PROVIDERS = "SELECT orgnr, navn FROM postkasseleverandoer ORDER BY navn, orgnr"

_MONTHS = """
SELECT {month} AS maaned, COUNT(*), SUM(antall), COUNT(DISTINCT consumer)
FROM oppslag GROUP BY 1 ORDER BY 1"""


def _yyyymmdd(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def gruppe_for(alder: int) -> int | None:
    """Index into AGE_GROUPS for an age; the last group is open upwards, under 15 is none."""
    for i, (lo, hi, _, _) in enumerate(AGE_GROUPS):
        if alder >= lo and (alder <= hi or i == len(AGE_GROUPS) - 1):
            return i
    return None


async def _rows(sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    _, rows = await db.connection().execute_query(sql, values)
    return [tuple(row) for row in rows]


async def statistikk(now: dt.datetime) -> Statistikk:
    """The key figures at `now` (aware), from the running totals (app.statistikk.grunnlag):
    two small tables and one day's persons through an index, whatever the register's size."""
    today = now.astimezone(OSLO).date()
    cutoff = frist(now)
    cutoff_day = cutoff.astimezone(dt.UTC).date()
    midnight = dt.datetime.combine(cutoff_day + dt.timedelta(days=1), dt.time(), dt.UTC)
    # Summed by age in the database: a few thousand rows leave it, not one per birth date.
    sql = db.Sql()
    idag = sql(_yyyymmdd(today)) + ("::integer" if sql.postgres else "")
    rows = await _rows(
        f"SELECT status, epost, mobil, reservert, leverandoer,"
        f" CASE WHEN fodt = 0 THEN NULL ELSE ({idag} - fodt) / 10000 END AS alder, sum(antall)"
        " FROM nokkeltall_person GROUP BY 1, 2, 3, 4, 5, 6",
        sql.verdier,
    )
    sql = db.Sql()
    (fresh_days,) = await _rows(
        f"SELECT coalesce(sum(antall), 0) FROM nokkeltall_fersk WHERE dag > {sql.dato(cutoff_day)}",
        sql.verdier,
    )
    sql = db.Sql()
    ferskeste = grunnlag.ferskeste_sql()
    (fresh_on_the_day,) = await _rows(
        f"SELECT count(*) FROM person WHERE {grunnlag.varslbar_sql()}"
        f" AND {ferskeste} > {sql.tid(cutoff)} AND {ferskeste} < {sql.tid(midnight)}",
        sql.verdier,
    )
    providers = await _rows(_PROVIDERS, [])
    months = await _oppslagsmaaneder()

    totals = dict.fromkeys(("registrerte", "aktive", "slettede", "epost", "mobil", "postkasser",
                            "reserverte"), 0)
    residents = [0] * len(AGE_GROUPS)
    with_mailbox = [0] * len(AGE_GROUPS)
    per_provider: dict[str, int] = {}
    for status, epost, mobil, reservert, leverandoer, alder, antall_raw in rows:
        antall = int(antall_raw)
        totals["registrerte"] += antall
        if status == "SLETTET":
            totals["slettede"] += antall
        if status != "AKTIV":
            continue
        totals["aktive"] += antall
        totals["epost"] += antall if int(epost) else 0
        totals["mobil"] += antall if int(mobil) else 0
        totals["reserverte"] += antall if int(reservert) else 0
        if leverandoer:
            totals["postkasser"] += antall
            per_provider[leverandoer] = per_provider.get(leverandoer, 0) + antall
        if alder is not None and (gruppe := gruppe_for(int(alder))) is not None:
            residents[gruppe] += antall
            if leverandoer:
                with_mailbox[gruppe] += antall
    return _figures(
        now, today, totals, int(fresh_days[0]) + int(fresh_on_the_day[0]), providers,
        per_provider, residents, with_mailbox, months,
    )


async def _oppslagsmaaneder() -> list[tuple[Any, ...]]:
    month = "to_char(dag, 'YYYY-MM')" if db.dialect() == "postgres" else "substr(dag, 1, 7)"
    return await _rows(_MONTHS.format(month=month), [])


def _figures(
    now: dt.datetime, today: dt.date, totals: dict[str, int], kan_varsles: int,
    providers: list[tuple[Any, ...]], per_provider: dict[str, int], residents: list[int],
    with_mailbox: list[int], months: list[tuple[Any, ...]],
) -> Statistikk:
    last = len(AGE_GROUPS) - 1
    return Statistikk(
        tidspunkt=now,
        dato=today,
        registrerte=totals["registrerte"],
        aktive=totals["aktive"],
        slettede=totals["slettede"],
        med_epost=totals["epost"],
        med_mobil=totals["mobil"],
        med_postkasse=totals["postkasser"],
        reserverte=totals["reserverte"],
        kan_varsles=kan_varsles,
        postkasser=sorted(
            (Leverandoerandel(orgnr, navn, per_provider.get(orgnr, 0))
             for orgnr, navn in providers),
            key=lambda p: (-p.antall, p.navn),
        ),
        aldersgrupper=[
            Aldersgruppe(lo, None if i == last else hi, residents[i], with_mailbox[i])
            for i, (lo, hi, _, _) in enumerate(AGE_GROUPS)
        ],
        oppslag=[
            Oppslagsmaaned(str(m), int(n), int(p or 0), int(k)) for m, n, p, k in months
        ],
    )


async def statistikk_ved_skanning(now: dt.datetime) -> Statistikk:
    """The same figures from the persons themselves (two scans): what the running totals are
    held to, and the way to check them on a live register."""
    today = now.astimezone(OSLO).date()
    sql = db.Sql()
    cast = "::timestamptz" if sql.postgres else ""
    (totals,) = await _rows(_TOTALS.format(frist=sql.tid(frist(now)) + cast), sql.verdier)
    sql = db.Sql()
    idag = sql(_yyyymmdd(today)) + ("::integer" if sql.postgres else "")
    fence = "OFFSET 0" if sql.postgres else "LIMIT -1 OFFSET 0"
    by_age = await _rows(_BY_AGE.format(idag=idag, fence=fence), sql.verdier)
    providers = await _rows(_PROVIDERS, [])
    months = await _oppslagsmaaneder()

    residents = [0] * len(AGE_GROUPS)
    with_mailbox = [0] * len(AGE_GROUPS)
    per_provider: dict[str, int] = {}
    for alder, leverandoer, antall in by_age:
        antall = int(antall)
        if leverandoer is not None:
            per_provider[leverandoer] = per_provider.get(leverandoer, 0) + antall
        gruppe = None if alder is None else gruppe_for(int(alder))
        if gruppe is not None:
            residents[gruppe] += antall
            if leverandoer is not None:
                with_mailbox[gruppe] += antall

    registrerte, aktive, slettede, epost, mobil, postkasser, reserverte, kan_varsles = (
        int(v or 0) for v in totals
    )
    counted = {"registrerte": registrerte, "aktive": aktive, "slettede": slettede,
               "epost": epost, "mobil": mobil, "postkasser": postkasser,
               "reserverte": reserverte}
    return _figures(now, today, counted, kan_varsles, providers, per_provider, residents,
                    with_mailbox, months)


class Buffer:
    """The figures are public (no token) and take a second or two on a million rows, so a
    process computes them at most once per `ttl` seconds; concurrent callers share that one
    computation instead of each starting a scan."""

    def __init__(self, ttl: float = TTL_SEKUNDER) -> None:
        self.ttl = ttl
        self._value: Statistikk | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> Statistikk | None:
        if self._value is not None and time.monotonic() - self._at < self.ttl:
            return self._value
        return None

    async def hent(self, now: dt.datetime) -> Statistikk:
        if (value := self._fresh()) is not None:
            return value
        async with self._lock:
            if (value := self._fresh()) is not None:
                return value
            self._value = await statistikk(now)
            self._at = time.monotonic()
            return self._value


async def hent(state: object, now: dt.datetime) -> Statistikk:
    """Through the application's buffer (`app.state.statistikk`, set by create_app) when it has
    one, else computed now."""
    buffer = getattr(state, "statistikk", None)
    if isinstance(buffer, Buffer):
        return await buffer.hent(now)
    return await statistikk(now)
