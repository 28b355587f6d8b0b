"""A deterministic synthetic register, so development, demos and load tests need no real data.

The mix follows the register's published 2017 figures (DOMAIN.md, "Published figures") and the
mailbox share by age from seed 004. Every id is a synthetic (Tenor) number, month + 80, so no
generated person can be a real one; e-mail addresses use reserved example domains only.

Speed matters (`krr seed --persons 1000000`), so rows are built as plain tuples from one
`random.Random(seed)` and written chunk by chunk through the raw driver: one `executemany` per
chunk on SQLite, `COPY` on PostgreSQL. All in one transaction: a failure leaves the old register.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from random import Random
from typing import Any

from dateutil.relativedelta import relativedelta
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.personer import register, sertifikat
from app.personer.endringsnummer import skrivetransaksjon
from app.personer.felt import LAGREDE, Registerstatus
from app.personer.models import Postkasseleverandoer
from app.statistikk.aldersgrupper import AGE_GROUPS
from authz.identifikatorer import make_id

NEVER_REGISTERED = "31819198252"
DIGIPOST_ORGNR = "984661185"
EBOKS_ORGNR = "922020175"

# Example persons for docs, demos and tests; always created (except NEVER_REGISTERED, which is
# listed so the README can show what a lookup of an unknown id gives).
EXAMPLE_IDS: dict[str, str] = {
    "17912099997": "AKTIV, kjell@test.no and +4798765432 both fresh, Digipost mailbox "
    "kjell#digipost with certificate, language nb",
    "24907999374": "AKTIV, e-mail last updated and confirmed 19 months ago (expired), mobile fresh",
    "10846896444": "AKTIV, both channels last updated and confirmed 20 months ago (expired)",
    "04855998918": "AKTIV, reserved (JA), both channels fresh, Digipost mailbox reservert#digipost "
    "(stored, never handed out while reserved), no language set",
    "06925098068": "SLETTET (deleted from the register)",
    "66829700914": "AKTIV, a D-number, both channels fresh, e-Boks mailbox, language se",
    "09911049276": "AKTIV, both channels fresh, shares mobile +4799999999 with 06881599269",
    "06881599269": "AKTIV, both channels fresh, shares mobile +4799999999 with 09911049276",
    NEVER_REGISTERED: "never registered: IKKE_REGISTRERT",
}

# The person row's stored columns, in the declaration's order (app.personer.felt): every row
# built below holds them in this order.
COLUMNS: tuple[str, ...] = LAGREDE
CHUNK = 10_000

# Published 2017 figures: the shares below are derived from them, not tuned by hand.
_TOTAL, _ACTIVE, _DELETED = 4_331_294, 4_214_390, 116_904
_EMAIL, _MOBILE, _RESERVED = 4_132_049, 4_175_764, 136_174
_DIGIPOST, _EBOKS = 1_528_613, 189_135
P_DELETED = _DELETED / _TOTAL  # ~2.7 % of all
P_RESERVED = _RESERVED / _ACTIVE  # ~3.2 % of active
P_EMAIL = _EMAIL / _ACTIVE  # ~98 % of active (~95 % of all)
P_MOBILE = _MOBILE / _ACTIVE  # ~99 % of active (~96 % of all)
P_MAILBOX = (_DIGIPOST + _EBOKS) / _ACTIVE  # ~41 % of active
P_DIGIPOST = _DIGIPOST / (_DIGIPOST + _EBOKS)  # ~89 % of mailboxes

# The mailbox share by age (seed 004's table, app.statistikk.aldersgrupper): residents weight
# the age draw; the percentages are scaled so the overall share matches P_MAILBOX.
_RESIDENTS = sum(g[2] for g in AGE_GROUPS)
_MAILBOX_SCALE = P_MAILBOX / (sum(g[2] * g[3] / 100 for g in AGE_GROUPS) / _RESIDENTS)
_AGE_CUMULATIVE = [sum(g[2] for g in AGE_GROUPS[: i + 1]) / _RESIDENTS for i in
                   range(len(AGE_GROUPS))]
P_MAILBOX_BY_AGE: dict[int, float] = {
    age: share / 100 * _MAILBOX_SCALE
    for lo, hi, _, share in AGE_GROUPS
    for age in range(lo, hi + 1)
}

P_DNUMBER = 0.05
P_STALE = 0.12  # persons with at least one channel not touched for more than 18 months
P_SHARED_MOBILE = 0.003  # each share makes two persons with the same address: ~1 % in all
P_SHARED_EMAIL = 0.002
P_LANGUAGE = 0.8
LANGUAGES = (("nb", 0.84), ("nn", 0.11), ("en", 0.045), ("se", 0.005))
_LANG_CUMULATIVE = [sum(w for _, w in LANGUAGES[: i + 1]) for i in range(len(LANGUAGES))]
EMAIL_DOMAINS = ("example.no", "example.com", "test.no")  # reserved for examples: no real inbox

_DAY = 86_400
FRESH_MAX = 520 * _DAY  # well inside 18 months (>= 545 days), so a fresh channel stays fresh
STALE_MIN = 575 * _DAY  # well past 18 months (<= 553 days)
STALE_MAX = 6 * 365 * _DAY
HISTORY_MAX = 8 * 365 * _DAY  # how far back an address or a choice may have been made

FIRST_NAMES = (
    "kari ingrid anne marit liv hilde nina ida emma nora sara maja ingeborg astrid solveig "
    "ragnhild sigrid eli randi berit tone camilla silje hanne marte thea julie linnea aurora "
    "frida mari lene kristin heidi ola per lars jan knut hans arne kjetil bjorn svein geir "
    "terje jon tor odd rune trond morten espen magnus jonas henrik emil jakob sander filip "
    "kristian andreas mathias eirik sindre even oyvind ali mohammad ahmed anna fatima"
).split()
LAST_NAMES = (
    "nordmann hansen johansen olsen larsen andersen pedersen nilsen kristiansen jensen karlsen "
    "johnsen pettersen eriksen berg haugen hagen johannessen andreassen jacobsen dahl jorgensen "
    "halvorsen henriksen lund sorensen jakobsen moen gundersen iversen strand solberg svendsen "
    "eide knutsen martinsen paulsen bakken kristoffersen mathisen lie amundsen nguyen rasmussen "
    "lunde solheim berge moe nygard bakke kristensen fredriksen holm lien hauge christensen "
    "andresen nielsen knudsen evensen saether aas myhre hanssen haugland thomassen sivertsen "
    "simonsen danielsen berntsen sandvik rustad kvale arnesen solli vik tveit lorentzen"
).split()


@dataclass(frozen=True)
class SeedSummary:
    """What was written; `persons` counts every row, example persons included."""

    persons: int
    active: int
    deleted: int
    reserved: int
    with_email: int
    with_mobile: int
    digipost: int
    eboks: int
    seconds: float


@dataclass(frozen=True)
class _Example:
    pid: str
    status: Registerstatus = Registerstatus.AKTIV
    reserved_ago: int | None = None
    email: str | None = None
    email_ago: int = 0
    mobile: str | None = None
    mobile_ago: int = 0
    mailbox: str | None = None
    provider: str | None = None
    spraak: str | None = None


def _examples(now: dt.datetime) -> list[_Example]:
    """The example persons; ages of channels in seconds before `now`."""

    def months_ago(months: int) -> int:
        return int((now - (now - relativedelta(months=months))).total_seconds())

    fresh = 20 * _DAY
    return [
        _Example("17912099997", email="kjell@test.no", email_ago=fresh, mobile="+4798765432",
                 mobile_ago=fresh, mailbox="kjell#digipost", provider=DIGIPOST_ORGNR,
                 spraak="nb"),
        _Example("24907999374", email="utlopt.epost@example.no", email_ago=months_ago(19),
                 mobile="+4741000001", mobile_ago=fresh, spraak="nn"),
        _Example("10846896444", email="utlopt.begge@example.no", email_ago=months_ago(20),
                 mobile="+4741000002", mobile_ago=months_ago(20), spraak="nb"),
        _Example("04855998918", reserved_ago=30 * _DAY, email="reservert@example.no",
                 email_ago=fresh, mobile="+4741000003", mobile_ago=fresh,
                 mailbox="reservert#digipost", provider=DIGIPOST_ORGNR),
        _Example("06925098068", status=Registerstatus.SLETTET),
        _Example("66829700914", email="dnummer@example.com", email_ago=fresh,
                 mobile="+4741000004", mobile_ago=fresh, mailbox="dnummer#eboks",
                 provider=EBOKS_ORGNR, spraak="se"),
        _Example("09911049276", email="delt.mobil.en@test.no", email_ago=fresh,
                 mobile="+4799999999", mobile_ago=fresh, spraak="en"),
        _Example("06881599269", email="delt.mobil.to@test.no", email_ago=fresh,
                 mobile="+4799999999", mobile_ago=fresh),
    ]


_Ts = Callable[[int | None], Any]


def _example_rows(now: dt.datetime, ts: _Ts, yes: Any, no: Any) -> list[tuple[Any, ...]]:
    def channel(address: str | None, ago: int) -> tuple[Any, ...]:
        """A fresh channel was changed, then confirmed ten days later; an expired one was
        changed and confirmed once, long ago. The one-time code came just before the change."""
        if address is None:
            return (None, None, None, None)
        confirmed = ago - 10 * _DAY if ago < 60 * _DAY else ago
        return (address, ts(ago), ts(confirmed), ts(ago + 300))

    rows = []
    for e in _examples(now):
        reserved = e.reserved_ago is not None
        rows.append((
            e.pid, e.status.value, yes if reserved else no,
            ts(e.reserved_ago), ts(e.reserved_ago),
            *channel(e.email, e.email_ago),
            *channel(e.mobile, e.mobile_ago),
            e.mailbox, e.provider,
            e.spraak, ts(400 * _DAY) if e.spraak else None,
        ))
    return rows


class _Generator:
    """Draws persons from one Random; all state that keeps addresses and ids unique lives here."""

    def __init__(self, seed: int, now: dt.datetime, ts: _Ts, yes: Any, no: Any,
                 reserved_ids: frozenset[str], reserved_mobiles: frozenset[str]) -> None:
        self.rng = Random(seed)
        today = now.date()
        self.today = today.toordinal()
        # Birth dates giving exactly this age today: (first ordinal, number of days).
        self.birth_ranges: dict[int, tuple[int, int]] = {}
        for age in P_MAILBOX_BY_AGE:
            first = (today - relativedelta(years=age + 1)).toordinal() + 1
            last = (today - relativedelta(years=age)).toordinal()
            self.birth_ranges[age] = (first, last - first + 1)
        self.ts, self.yes, self.no = ts, yes, no
        self.reserved_ids = reserved_ids
        self.reserved_mobiles = reserved_mobiles
        # (days since birth, D-number?, individual number) taken, one bit each.
        self.ids_taken = bytearray((101 * 366 + 1) * 2 * 1000 // 8 + 1)
        # Per-bucket counters, turned into unique suffixes by an affine bijection.
        n_names = len(FIRST_NAMES) * len(LAST_NAMES)
        self.email_counts = [0] * (n_names * len(EMAIL_DOMAINS))
        self.mailbox_counts = [0] * (n_names * 2)
        self.salt = self.rng.randrange(1 << 16)
        # Mobiles: an affine permutation of the 2 * 10^7 numbers +479xxxxxxx and +474xxxxxxx.
        self.mobile_mult = self.rng.randrange(11_000_000, 13_000_000) | 1
        while self.mobile_mult % 5 == 0:
            self.mobile_mult += 2
        self.mobile_add = self.rng.randrange(20_000_000)
        self.mobile_next = 0
        self.recent_mobiles: list[str] = []
        self.recent_emails: list[str] = []
        self.active = self.deleted = self.reserved = 0
        self.with_email = self.with_mobile = self.digipost = self.eboks = 0

    def _person_id(self, age: int) -> str:
        r = self.rng.random
        taken = self.ids_taken
        while True:
            first, span = self.birth_ranges[age]
            birth_ordinal = first + int(r() * span)
            days = self.today - birth_ordinal
            birth = dt.date.fromordinal(birth_ordinal)
            year = birth.year
            if year >= 2000:
                individual = 500 + int(r() * 500)
            elif year >= 1940 and r() < 0.1:
                individual = 900 + int(r() * 100)
            else:
                individual = int(r() * 500)
            d_number = r() < P_DNUMBER
            key = (days * 2 + d_number) * 1000 + individual
            if taken[key >> 3] & (1 << (key & 7)):
                continue
            pid = make_id(birth, individual, d_number=d_number, synthetic=True)
            if pid is None or pid in self.reserved_ids:
                continue
            taken[key >> 3] |= 1 << (key & 7)
            return pid

    def _mobile(self) -> str:
        while True:
            v = (self.mobile_next * self.mobile_mult + self.mobile_add) % 20_000_000
            self.mobile_next += 1
            number = f"+479{v:07d}" if v < 10_000_000 else f"+474{v - 10_000_000:07d}"
            if number not in self.reserved_mobiles:
                return number

    def _channel(self, stale: bool) -> tuple[Any, Any, Any]:
        """(oppdatert, sist_verifisert, sist_validert) for one channel."""
        r = self.rng.random
        ts = self.ts
        if stale:
            touched = STALE_MIN + int(r() * (STALE_MAX - STALE_MIN))
        else:
            touched = 3600 + int(r() * FRESH_MAX)
        u = r()
        if u < 0.35:  # changed then, not confirmed since
            updated, confirmed = touched, None
        elif u < 0.6:  # changed and confirmed on the same visit
            updated, confirmed = touched, touched
        else:  # confirmed then; the address itself is older
            updated, confirmed = touched + int(r() * HISTORY_MAX), touched
        # The one-time code is entered just before the change is saved.
        validated = updated + 30 + int(r() * 900) if r() < 0.9 else None
        return ts(updated), ts(confirmed), ts(validated)

    def rows(self, count: int) -> list[tuple[Any, ...]]:
        r = self.rng.random
        ts, yes, no = self.ts, self.yes, self.no
        n_first, n_last, n_dom = len(FIRST_NAMES), len(LAST_NAMES), len(EMAIL_DOMAINS)
        out: list[tuple[Any, ...]] = []
        append = out.append
        for _ in range(count):
            g = AGE_GROUPS[min(bisect.bisect_right(_AGE_CUMULATIVE, r()), len(AGE_GROUPS) - 1)]
            age = g[0] + int(r() * (g[1] - g[0] + 1))
            pid = self._person_id(age)
            if r() < P_DELETED:
                self.deleted += 1
                append((pid, "SLETTET", no) + (None,) * 14)
                continue
            self.active += 1

            if r() < P_RESERVED:
                self.reserved += 1
                at = ts(3600 + int(r() * HISTORY_MAX))
                reservation: tuple[Any, ...] = (yes, at, at)
            elif r() < 0.05:  # reserved once, withdrew it
                reservation = (no, None, ts(3600 + int(r() * HISTORY_MAX)))
            else:
                reservation = (no, None, None)

            fi, li = int(r() * n_first), int(r() * n_last)
            first, last = FIRST_NAMES[fi], LAST_NAMES[li]
            has_email = r() < P_EMAIL
            has_mobile = r() < P_MOBILE or not has_email
            stale_email = stale_mobile = False
            if r() < P_STALE:
                u = r()
                stale_email = u < 0.4 or u >= 0.75
                stale_mobile = u >= 0.4
                if not (has_email and stale_email) and not (has_mobile and stale_mobile):
                    stale_email, stale_mobile = has_email, has_mobile

            email: tuple[Any, ...] = (None, None, None, None)
            if has_email:
                self.with_email += 1
                if self.recent_emails and r() < P_SHARED_EMAIL:
                    address = self.recent_emails[int(r() * len(self.recent_emails))]
                else:
                    dom = int(r() * n_dom)
                    bucket = (fi * n_last + li) * n_dom + dom
                    c = self.email_counts[bucket]
                    self.email_counts[bucket] = c + 1
                    n = (c * 367 + bucket * 131 + self.salt) % 999 + 1 if c < 999 else c + 1
                    address = f"{first}.{last}{n}@{EMAIL_DOMAINS[dom]}"
                    self._remember(self.recent_emails, address)
                email = (address, *self._channel(stale_email))

            mobile: tuple[Any, ...] = (None, None, None, None)
            if has_mobile:
                self.with_mobile += 1
                if self.recent_mobiles and r() < P_SHARED_MOBILE:
                    number = self.recent_mobiles[int(r() * len(self.recent_mobiles))]
                else:
                    number = self._mobile()
                    self._remember(self.recent_mobiles, number)
                mobile = (number, *self._channel(stale_mobile))

            mailbox: tuple[Any, ...] = (None, None)
            if r() < P_MAILBOX_BY_AGE[age]:
                digipost = r() < P_DIGIPOST
                bucket = (fi * n_last + li) * 2 + (not digipost)
                c = self.mailbox_counts[bucket]
                self.mailbox_counts[bucket] = c + 1
                h = (c * 40503 + bucket * 2654435761 + self.salt) & 0xFFFF if c < 0x10000 else c
                if digipost:
                    self.digipost += 1
                    mailbox = (f"{first}.{last}#{h:04X}", DIGIPOST_ORGNR)
                else:
                    self.eboks += 1
                    mailbox = (f"{first}.{last}#EB{h:04X}", EBOKS_ORGNR)

            language: tuple[Any, ...] = (None, None)
            if r() < P_LANGUAGE:
                code = LANGUAGES[min(bisect.bisect_right(_LANG_CUMULATIVE, r()),
                                     len(LANGUAGES) - 1)][0]
                language = (code, ts(3600 + int(r() * HISTORY_MAX)))

            append((pid, "AKTIV", *reservation, *email, *mobile, *mailbox, *language))
        return out

    def _remember(self, recent: list[str], address: str) -> None:
        """Keep a window of recent addresses for others to share (a family, a shared phone)."""
        if len(recent) < 512:
            recent.append(address)
        else:
            recent[int(self.rng.random() * 512)] = address


def _sqlite_ts(now: dt.datetime) -> _Ts:
    """Seconds before `now` as the text tortoise writes for an aware UTC DatetimeField
    ("2026-01-02 03:04:05+00:00", app.db.Sql's text; a test holds the two equal), built from
    cached day and time-of-day parts, since formatting is a large share of a bulk load."""
    epoch = int(now.timestamp())
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00:00" for s in range(_DAY)]
    days: dict[int, str] = {}
    unix = dt.date(1970, 1, 1).toordinal()

    def ts(ago: int | None) -> str | None:
        if ago is None:
            return None
        day, second = divmod(epoch - ago, _DAY)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = dt.date.fromordinal(unix + day).isoformat() + " "
        return prefix + times[second]

    return ts


def _postgres_ts(now: dt.datetime) -> _Ts:
    def ts(ago: int | None) -> dt.datetime | None:
        return None if ago is None else now - dt.timedelta(seconds=ago)

    return ts


def _certificate(name: str) -> str:
    """A provider's certificate from seed_data (PEM, as providers publish them) in the form the
    register stores: bare base64 of DER."""
    pem = (resources.files("app.testdata") / "seed_data" / name).read_text(encoding="ascii")
    return sertifikat.som_base64_der(pem)


def start_of_utc_day(moment: dt.datetime | None = None) -> dt.datetime:
    """The default `now` of seeding: midnight UTC, so runs on the same day agree."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _chunks(gen: _Generator, persons: int) -> Iterator[list[tuple[Any, ...]]]:
    done = 0
    while done < persons:
        size = min(CHUNK, persons - done)
        yield gen.rows(size)
        done += size


async def _insert(conn: BaseDBAsyncClient, dialect: str, rows: list[tuple[Any, ...]],
                  first_change: int) -> None:
    """Write rows, numbering them in the change feed from `first_change` on."""
    if not rows:
        return
    numbered = [(*row, n) for n, row in enumerate(rows, first_change)]
    columns_written = [*COLUMNS, "endrings_id"]
    if dialect == "postgres":
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table("person", records=numbered, columns=columns_written)
    else:
        columns = ", ".join(f'"{c}"' for c in columns_written)
        marks = ", ".join("?" for _ in columns_written)
        await conn.execute_many(f'INSERT INTO "person" ({columns}) VALUES ({marks})',
                                numbered)  # type: ignore[arg-type]  # typed as lists; tuples do


async def _write_generated(conn: BaseDBAsyncClient, dialect: str, gen: _Generator,
                           persons: int, advance: Callable[[int], None],
                           first_change: int) -> None:
    """Write the generated persons chunk by chunk.

    PostgreSQL stores a chunk in its own process while the next one is built here. SQLite does
    not overlap: its driver thread needs the GIL for every row, and the two threads fighting
    over it made seeding slower than one chunk after the other.
    """
    overlap = dialect == "postgres"
    pending: asyncio.Future[None] | None = None
    try:
        for rows in _chunks(gen, persons):
            if pending is not None:
                await pending
                advance(CHUNK)
            pending = asyncio.ensure_future(_insert(conn, dialect, rows, first_change))
            first_change += len(rows)
            if overlap:
                await asyncio.sleep(0)  # let the COPY reach the driver, then build more
            else:
                await pending
        if pending is not None:
            await pending
            advance(persons % CHUNK or CHUNK)
    finally:
        # On failure, let a running COPY end before the transaction rolls back.
        if pending is not None and not pending.done():
            await asyncio.gather(pending, return_exceptions=True)


@asynccontextmanager
async def _sqlite_without_fk_checks(dialect: str) -> AsyncIterator[None]:
    """SQLite empties a table in one step only without foreign-key checks; with them, deleting
    a million persons row by row takes longer than writing them. The pragma cannot change inside
    a transaction, so it is switched around it, and restored even on failure. The rows written
    meanwhile are the seed's own, whose providers are written first."""
    if dialect != "sqlite":
        yield
        return
    conn = db.connection()
    rows = await conn.execute_query_dict("PRAGMA foreign_keys")
    before = int(rows[0]["foreign_keys"]) if rows else 0
    await conn.execute_script("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        await conn.execute_script(f"PRAGMA foreign_keys={'ON' if before else 'OFF'}")


async def seed_register(*, persons: int, seed: int, now: dt.datetime | None = None,
                        progress: bool = False) -> SeedSummary:
    """Replace the register with `persons` synthetic persons plus the example persons.

    The tortoise connection must be open (app.db.connect). Dates are relative to `now`, which
    defaults to the start of the current UTC day, so two runs with the same arguments on the same
    day give identical registers (pass `now` to pin it; it is cut to whole seconds, naive means
    UTC). Everything happens in one transaction: a failure leaves the old register in place.
    """
    if persons < 0:
        raise ValueError("persons must be 0 or more")
    started = time.perf_counter()
    if now is None:
        now = start_of_utc_day()
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    now = now.astimezone(dt.UTC).replace(microsecond=0)

    dialect = db.dialect()
    ts: _Ts
    yes: bool | int
    no: bool | int
    if dialect == "postgres":
        ts, yes, no = _postgres_ts(now), True, False
    else:  # SQLite's driver writes booleans as the integers it stores
        ts, yes, no = _sqlite_ts(now), 1, 0
    examples = _example_rows(now, ts, yes, no)
    gen = _Generator(
        seed, now, ts, yes, no,
        reserved_ids=frozenset(EXAMPLE_IDS),
        reserved_mobiles=frozenset(row[9] for row in examples if row[9]),
    )

    bar: Any = None
    if progress:

        bar = Progress(TextColumn("seeding"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True))
        bar.start()
    try:
        task = bar.add_task("persons", total=persons) if bar else None

        def advance(n: int) -> None:
            if bar:
                bar.advance(task, n)

        # The writers' transaction: the counter row first, so a resident's change in flight
        # ends before the TRUNCATE and none waits on the table while holding the counter.
        async with _sqlite_without_fk_checks(dialect), skrivetransaksjon() as conn:
            if dialect == "postgres":
                await conn.execute_query('TRUNCATE "person", "postkasseleverandoer"')
            else:
                await conn.execute_query('DELETE FROM "person"')
                await conn.execute_query('DELETE FROM "postkasseleverandoer"')
            await Postkasseleverandoer.bulk_create([
                Postkasseleverandoer(orgnr=DIGIPOST_ORGNR, navn="Digipost",
                                     sertifikat=_certificate("digipost.pem")),
                Postkasseleverandoer(orgnr=EBOKS_ORGNR, navn="e-Boks",
                                     sertifikat=_certificate("eboks.pem")),
            ], using_db=conn)
            await _insert(conn, dialect, examples, 1)
            await _write_generated(conn, dialect, gen, persons, advance, len(examples) + 1)
            await register.oppdater_alle_duplikater(conn)
            # The change feed starts over with the new register: 1 .. all persons.
            await conn.execute_query(
                "UPDATE endringsteller SET siste = "
                f"{len(examples) + persons} WHERE id = 1"
            )
            if dialect == "postgres":
                await conn.execute_query('ANALYZE "person"')  # plans for the new table
    finally:
        if bar:
            bar.stop()

    ex_active = [r for r in examples if r[1] == "AKTIV"]
    return SeedSummary(
        persons=persons + len(examples),
        active=gen.active + len(ex_active),
        deleted=gen.deleted + len(examples) - len(ex_active),
        reserved=gen.reserved + sum(1 for r in examples if r[2] == yes),
        with_email=gen.with_email + sum(1 for r in examples if r[5]),
        with_mobile=gen.with_mobile + sum(1 for r in examples if r[9]),
        digipost=gen.digipost + sum(1 for r in examples if r[14] == DIGIPOST_ORGNR),
        eboks=gen.eboks + sum(1 for r in examples if r[14] == EBOKS_ORGNR),
        seconds=time.perf_counter() - started,
    )
