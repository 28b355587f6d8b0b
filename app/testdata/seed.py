"""A deterministic synthetic register, so development, demos and load tests need no real data.

The mix follows the register's published 2017 figures (DOMAIN.md, "Published figures") and the
mailbox share by age from seed 004. Every id is a synthetic (Tenor) number, month + 80, so no
generated person can be a real one; e-mail addresses use reserved example domains only.

Speed matters (`krr seed --persons 5000000`, a national register, in minutes), so rows are
built as plain tuples of text from one `random.Random(seed)` and written through the raw
driver: one `COPY` on PostgreSQL, fed while the next chunk is built, and one `executemany` per
chunk on SQLite, with the table's indexes and constraints dropped for the load and built after
it. All in one transaction: a failure leaves the old register.
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
from operator import mul
from random import Random
from typing import Any

from dateutil.relativedelta import relativedelta
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.personer import register, sertifikat
from app.personer.endringsnummer import skrivetransaksjon
from app.personer.felt import LAGREDE, Registerstatus
from app.personer.models import Postkasseleverandoer
from app.statistikk import grunnlag
from app.statistikk.aldersgrupper import AGE_GROUPS
from authz.identifikatorer import (
    D_NUMBER_DAY_OFFSET,
    SYNTHETIC_MONTH_OFFSET,
    WEIGHTS_1,
    WEIGHTS_2,
)

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
_COPY_NULL = "\\N"  # COPY text format's NULL

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
# How far back a generated moment can lie: a stale channel confirmed long after its change.
_OLDEST = STALE_MAX + HISTORY_MAX + 2 * _DAY

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


class _Clock:
    """Moments given as seconds before `now`, written as the text tortoise writes for an aware
    UTC DatetimeField ("2026-01-02 03:04:05+00:00", app.db.Sql's text on SQLite; a test holds
    the two equal), which PostgreSQL's COPY parses as timestamptz. Built from precomputed day
    and time-of-day parts: formatting moments is a large share of a bulk load, and building
    datetimes for the driver to encode cost several times more. A moment older than _OLDEST
    is an IndexError."""

    def __init__(self, now: dt.datetime, null: Any) -> None:
        self.null = null
        self.epoch = int(now.timestamp())
        self.top = self.epoch // _DAY  # now's day, counted from 1970-01-01
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00:00"
                      for s in range(_DAY)]
        unix = dt.date(1970, 1, 1).toordinal()
        self.days = [dt.date.fromordinal(unix + self.top - i).isoformat() + " "
                     for i in range(_OLDEST // _DAY + 2)]  # days[i]: i days before now's day

    def text(self, ago: int | None) -> Any:
        """The moment `ago` seconds before now; None gives the null value."""
        if ago is None:
            return self.null
        moment = self.epoch - ago
        return self.days[self.top - moment // _DAY] + self.times[moment % _DAY]


@dataclass(frozen=True)
class _Values:
    """How one database takes the generated values: moments, booleans and NULL."""

    clock: _Clock
    yes: Any
    no: Any
    null: Any


def _values(dialect: str, now: dt.datetime) -> _Values:
    if dialect == "postgres":  # COPY's text format: booleans t/f, NULL \N
        return _Values(_Clock(now, _COPY_NULL), "t", "f", _COPY_NULL)
    return _Values(_Clock(now, None), 1, 0, None)  # SQLite stores booleans as integers


def _example_rows(now: dt.datetime, v: _Values) -> list[tuple[Any, ...]]:
    ts, null = v.clock.text, v.null

    def channel(address: str | None, ago: int) -> tuple[Any, ...]:
        """A fresh channel was changed, then confirmed ten days later; an expired one was
        changed and confirmed once, long ago. The one-time code came just before the change."""
        if address is None:
            return (null, null, null, null)
        confirmed = ago - 10 * _DAY if ago < 60 * _DAY else ago
        return (address, ts(ago), ts(confirmed), ts(ago + 300))

    rows = []
    for e in _examples(now):
        reserved = e.reserved_ago is not None
        rows.append((
            e.pid, e.status.value, v.yes if reserved else v.no,
            ts(e.reserved_ago), ts(e.reserved_ago),
            *channel(e.email, e.email_ago),
            *channel(e.mobile, e.mobile_ago),
            null if e.mailbox is None else e.mailbox, null if e.provider is None else e.provider,
            null if e.spraak is None else e.spraak, ts(400 * _DAY) if e.spraak else null,
        ))
    return rows


_Ts = Callable[[int | None], Any]  # seconds before now -> a moment as a driver takes it
_Endings = list[str | None]


def _endings(sum1: int, sum2: int) -> _Endings:
    """authz.identifikatorer.make_id's last five digits (individual number, two check digits)
    per individual number, for first six digits whose shares of the two mod-11 sums are `sum1`
    and `sum2` (mod 11); None where a check digit would be 10. Only 121 such lists exist."""
    endings: _Endings = []
    for individual in range(1000):
        digits = (individual // 100, individual // 10 % 10, individual % 10)
        k1 = -(sum1 + sum(map(mul, WEIGHTS_1[6:9], digits))) % 11
        k2 = -(sum2 + sum(map(mul, WEIGHTS_2[6:9], digits)) + WEIGHTS_2[9] * k1) % 11
        endings.append(None if 10 in (k1, k2) else f"{individual:03d}{k1}{k2}")
    return endings


class _Draws:
    """Ids, mobiles and channel moments from one Random; all state that keeps ids and addresses
    unique lives here. The seed's persons (_Generator) and test persons
    (app.testdata.profiles) are drawn with it.

    The draws and their order are the data: the same seed gives the same register, so a change
    for speed must keep every call of the Random where it is (a test holds a digest)."""

    def __init__(self, seed: int, now: dt.datetime, *, reserved_ids: frozenset[str],
                 reserved_mobiles: frozenset[str]) -> None:
        self.rng = Random(seed)
        today = now.date()
        self.today = today.toordinal()
        # Birth dates giving exactly this age today: (first ordinal, number of days).
        self.birth_ranges: dict[int, tuple[int, int]] = {}
        for age in P_MAILBOX_BY_AGE:
            first = (today - relativedelta(years=age + 1)).toordinal() + 1
            last = (today - relativedelta(years=age)).toordinal()
            self.birth_ranges[age] = (first, last - first + 1)
        # Per birth date (filled as dates are drawn): its year, and for an ordinary number and
        # a D-number the id's first six digits and the endings that complete them.
        self.birth_days: dict[int, tuple[int, tuple[tuple[str, _Endings], ...]]] = {}
        self.endings: dict[tuple[int, int], _Endings] = {}
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
        # Every address given to more than one person: the only ones that can be shared, since
        # all others are unique by construction (their holders' duplicate flags are set after).
        self.shared_emails: set[str] = set()
        self.shared_mobiles: set[str] = set()
        self.active = self.deleted = self.reserved = 0
        self.with_email = self.with_mobile = self.digipost = self.eboks = 0

    def _birth_day(self, ordinal: int) -> tuple[int, tuple[tuple[str, _Endings], ...]]:
        """A birth date's year and, as an ordinary number and as a D-number (synthetic month
        both), make_id's first six digits with the endings that complete them."""
        birth = dt.date.fromordinal(ordinal)
        forms = []
        for day in (birth.day, birth.day + D_NUMBER_DAY_OFFSET):
            six = f"{day:02d}{birth.month + SYNTHETIC_MONTH_OFFSET:02d}{birth.year % 100:02d}"
            digits = [int(c) for c in six]
            sums = (sum(map(mul, WEIGHTS_1, digits)) % 11, sum(map(mul, WEIGHTS_2, digits)) % 11)
            endings = self.endings.get(sums)
            if endings is None:
                endings = self.endings[sums] = _endings(*sums)
            forms.append((six, endings))
        found = self.birth_days[ordinal] = (birth.year, tuple(forms))
        return found

    def _person_id(self, age: int) -> str:
        r = self.rng.random
        taken = self.ids_taken
        birth_days = self.birth_days
        today = self.today
        first, span = self.birth_ranges[age]
        while True:
            birth_ordinal = first + int(r() * span)
            year, forms = birth_days.get(birth_ordinal) or self._birth_day(birth_ordinal)
            if year >= 2000:
                individual = 500 + int(r() * 500)
            elif year >= 1940 and r() < 0.1:
                individual = 900 + int(r() * 100)
            else:
                individual = int(r() * 500)
            d_number = r() < P_DNUMBER
            key = ((today - birth_ordinal) * 2 + d_number) * 1000 + individual
            if taken[key >> 3] & (1 << (key & 7)):
                continue
            six, endings = forms[d_number]
            ending = endings[individual]
            if ending is None:
                continue
            pid = six + ending
            if pid in self.reserved_ids:
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

    def _channel(self, stale: bool) -> tuple[int, int | None, int | None]:
        """(oppdatert, sist_verifisert, sist_validert) of one channel, in seconds before now."""
        r = self.rng.random
        if stale:
            touched = STALE_MIN + int(r() * (STALE_MAX - STALE_MIN))
        else:
            touched = 3600 + int(r() * FRESH_MAX)
        u = r()
        updated: int
        confirmed: int | None
        if u < 0.35:  # changed then, not confirmed since
            updated, confirmed = touched, None
        elif u < 0.6:  # changed and confirmed on the same visit
            updated, confirmed = touched, touched
        else:  # confirmed then; the address itself is older
            updated, confirmed = touched + int(r() * HISTORY_MAX), touched
        # The one-time code is entered just before the change is saved.
        validated = updated + 30 + int(r() * 900) if r() < 0.9 else None
        return updated, confirmed, validated


class _Generator(_Draws):
    """Whole persons as rows of COLUMNS, in a database's values (_Values). `rows` is the hot
    loop of `krr seed`, hence the local names and the moments formatted in place."""

    def __init__(self, seed: int, now: dt.datetime, values: _Values,
                 reserved_ids: frozenset[str], reserved_mobiles: frozenset[str]) -> None:
        super().__init__(seed, now, reserved_ids=reserved_ids,
                         reserved_mobiles=reserved_mobiles)
        self.values = values

    def rows(self, count: int) -> list[tuple[Any, ...]]:
        r = self.rng.random
        values, clock = self.values, self.values.clock
        yes, no, null = values.yes, values.no, values.null
        epoch, top, days, times, day = clock.epoch, clock.top, clock.days, clock.times, _DAY
        no_channel, no_pair = (null, null, null, null), (null, null)
        not_reserved = (no, null, null)
        deleted_tail = (null,) * 14
        n_first, n_last, n_dom = len(FIRST_NAMES), len(LAST_NAMES), len(EMAIL_DOMAINS)
        last_group = len(AGE_GROUPS) - 1
        last_language = len(LANGUAGES) - 1
        recent_emails, recent_mobiles = self.recent_emails, self.recent_mobiles
        email_counts, mailbox_counts = self.email_counts, self.mailbox_counts
        salt = self.salt
        person_id = self._person_id
        active = deleted = reserved = with_email = with_mobile = digipost = eboks = 0

        draw_channel = self._channel

        def channel(address: str, stale: bool) -> tuple[Any, Any, Any, Any]:
            """(address, oppdatert, sist_verifisert, sist_validert), formatted in place."""
            updated, confirmed, validated = draw_channel(stale)
            moment = epoch - updated
            updated_text = days[top - moment // day] + times[moment % day]
            if confirmed is None:
                confirmed_text = null
            elif confirmed == updated:
                confirmed_text = updated_text
            else:
                moment = epoch - confirmed
                confirmed_text = days[top - moment // day] + times[moment % day]
            if validated is None:
                return (address, updated_text, confirmed_text, null)
            moment = epoch - validated
            return (address, updated_text, confirmed_text,
                    days[top - moment // day] + times[moment % day])

        out: list[tuple[Any, ...]] = []
        append = out.append
        for _ in range(count):
            g = AGE_GROUPS[min(bisect.bisect_right(_AGE_CUMULATIVE, r()), last_group)]
            age = g[0] + int(r() * (g[1] - g[0] + 1))
            pid = person_id(age)
            if r() < P_DELETED:
                deleted += 1
                append((pid, "SLETTET", no, *deleted_tail))
                continue
            active += 1

            if r() < P_RESERVED:
                reserved += 1
                moment = epoch - (3600 + int(r() * HISTORY_MAX))
                at = days[top - moment // day] + times[moment % day]
                reservation: tuple[Any, ...] = (yes, at, at)
            elif r() < 0.05:  # reserved once, withdrew it
                moment = epoch - (3600 + int(r() * HISTORY_MAX))
                reservation = (no, null, days[top - moment // day] + times[moment % day])
            else:
                reservation = not_reserved

            fi, li = int(r() * n_first), int(r() * n_last)
            has_email = r() < P_EMAIL
            has_mobile = r() < P_MOBILE or not has_email
            stale_email = stale_mobile = False
            if r() < P_STALE:
                u = r()
                stale_email = u < 0.4 or u >= 0.75
                stale_mobile = u >= 0.4
                if not (has_email and stale_email) and not (has_mobile and stale_mobile):
                    stale_email, stale_mobile = has_email, has_mobile

            email: tuple[Any, ...] = no_channel
            if has_email:
                with_email += 1
                if recent_emails and r() < P_SHARED_EMAIL:
                    address = recent_emails[int(r() * len(recent_emails))]
                    self.shared_emails.add(address)
                else:
                    dom = int(r() * n_dom)
                    bucket = (fi * n_last + li) * n_dom + dom
                    c = email_counts[bucket]
                    email_counts[bucket] = c + 1
                    n = (c * 367 + bucket * 131 + salt) % 999 + 1 if c < 999 else c + 1
                    address = f"{FIRST_NAMES[fi]}.{LAST_NAMES[li]}{n}@{EMAIL_DOMAINS[dom]}"
                    # A window of recent addresses for others to share (a family).
                    if len(recent_emails) < 512:
                        recent_emails.append(address)
                    else:
                        recent_emails[int(r() * 512)] = address
                email = channel(address, stale_email)

            mobile: tuple[Any, ...] = no_channel
            if has_mobile:
                with_mobile += 1
                if recent_mobiles and r() < P_SHARED_MOBILE:
                    number = recent_mobiles[int(r() * len(recent_mobiles))]
                    self.shared_mobiles.add(number)
                else:
                    number = self._mobile()
                    if len(recent_mobiles) < 512:  # a shared phone
                        recent_mobiles.append(number)
                    else:
                        recent_mobiles[int(r() * 512)] = number
                mobile = channel(number, stale_mobile)

            mailbox: tuple[Any, ...] = no_pair
            if r() < P_MAILBOX_BY_AGE[age]:
                is_digipost = r() < P_DIGIPOST
                bucket = (fi * n_last + li) * 2 + (not is_digipost)
                c = mailbox_counts[bucket]
                mailbox_counts[bucket] = c + 1
                h = (c * 40503 + bucket * 2654435761 + salt) & 0xFFFF if c < 0x10000 else c
                if is_digipost:
                    digipost += 1
                    mailbox = (f"{FIRST_NAMES[fi]}.{LAST_NAMES[li]}#{h:04X}", DIGIPOST_ORGNR)
                else:
                    eboks += 1
                    mailbox = (f"{FIRST_NAMES[fi]}.{LAST_NAMES[li]}#EB{h:04X}", EBOKS_ORGNR)

            language: tuple[Any, ...] = no_pair
            if r() < P_LANGUAGE:
                code = LANGUAGES[min(bisect.bisect_right(_LANG_CUMULATIVE, r()),
                                     last_language)][0]
                moment = epoch - (3600 + int(r() * HISTORY_MAX))
                language = (code, days[top - moment // day] + times[moment % day])

            append((pid, "AKTIV", *reservation, *email, *mobile, *mailbox, *language))

        self.active += active
        self.deleted += deleted
        self.reserved += reserved
        self.with_email += with_email
        self.with_mobile += with_mobile
        self.digipost += digipost
        self.eboks += eboks
        return out


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


class _PersonsRemaining(TimeRemainingColumn):
    """Time remaining for the persons only: the finishing steps differ too much in length for
    their rate to predict anything."""

    def render(self, task: Task) -> Text:
        return Text("") if task.fields.get("steps") else super().render(task)


class _Progress:
    """What a seed shows while it runs: the persons written, then each finishing step (an index
    built, the duplicate flags, the planner's statistics) by name, so no phase looks like a
    hang. A rich bar on a terminal; anywhere else (a pipe, a log) a plain line per tenth of the
    persons and per step, since a redrawn bar would be noise there."""

    def __init__(self, persons: int, console: Console | None) -> None:
        self.console = console
        self.persons = persons
        self.done = 0
        self.next_line = 0
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.step_task: TaskID | None = None
        self.steps_started = 0
        if console is not None and console.is_terminal:
            self.bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                MofNCompleteColumn(), TimeElapsedColumn(), _PersonsRemaining(),
                console=console,
            )
            self.persons_task = self.bar.add_task("persons", total=persons)
            self.bar.start()

    def _line(self, text: str) -> None:
        if self.console is not None:
            elapsed = time.perf_counter() - self.started
            self.console.print(f"seeding: {text} ({elapsed:.0f} s)", markup=False,
                               highlight=False)

    def written(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.advance(self.persons_task, n)
        elif self.done >= self.next_line and self.persons:
            self._line(f"{self.done:,} of {self.persons:,} persons written")
            self.next_line = self.done + max(self.persons // 10, 1)

    def finishing(self, steps: int) -> None:
        """The persons are written; `steps` steps follow."""
        if self.bar is not None:
            self.step_task = self.bar.add_task("finishing", total=steps, steps=True)

    def step(self, name: str) -> None:
        """Step `name` starts (the one before it is done)."""
        if self.bar is not None and self.step_task is not None:
            self.bar.update(self.step_task, description=name, completed=self.steps_started,
                            refresh=True)  # shown at once: a step may take minutes
        else:
            self._line(name)
        self.steps_started += 1

    def close(self) -> None:
        if self.bar is not None:
            if self.step_task is not None:
                self.bar.update(self.step_task, description="done", completed=self.steps_started)
            self.bar.stop()


@dataclass(frozen=True)
class _Rebuilt:
    """Something of the person table dropped for the load and created after it, from its own
    definition. An index or constraint: building one from all rows is several times cheaper
    than keeping it up to date row by row (and a foreign key is checked by one join instead of
    a query per row). On SQLite, a trigger keeping the key figures' running totals: its two
    upserts per row cost more than filling the totals once after the load
    (app.statistikk.grunnlag.fyll_sql); PostgreSQL's statement triggers aggregate the COPY's
    rows in one pass, cheaper than that fill, and stay."""

    name: str
    drop: str
    create: str


async def _person_indexes(conn: BaseDBAsyncClient, dialect: str) -> list[_Rebuilt]:
    """The person table's indexes and constraints as the schema has them now, so they are built
    again exactly as they were (a test holds the schema unchanged by a seed). On PostgreSQL all
    but a key another table's foreign key references; on SQLite the declared indexes (the
    primary key's index belongs to the table)."""
    if dialect == "postgres":
        rows = await conn.execute_query_dict("""
            SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition, NULL AS index
            FROM pg_constraint c
            WHERE c.conrelid = 'person'::regclass AND c.contype IN ('p', 'u', 'f')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint r
                              WHERE r.contype = 'f' AND r.conindid = c.conindid
                                AND c.contype <> 'f' AND r.conrelid <> c.conrelid)
            UNION ALL
            SELECT i.relname, NULL, pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = 'person'::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid
                              AND c.conrelid = 'person'::regclass)
            ORDER BY 1""")
        return [
            _Rebuilt(r["name"], f'ALTER TABLE "person" DROP CONSTRAINT "{r["name"]}"',
                     f'ALTER TABLE "person" ADD CONSTRAINT "{r["name"]}" {r["definition"]}')
            if r["index"] is None else
            _Rebuilt(r["name"], f'DROP INDEX "{r["name"]}"', r["index"])
            for r in rows
        ]
    rows = await conn.execute_query_dict(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'person'"
        " AND sql IS NOT NULL ORDER BY name")
    return [_Rebuilt(r["name"], f'DROP INDEX "{r["name"]}"', r["sql"]) for r in rows]


async def _totals_triggers(conn: BaseDBAsyncClient, dialect: str) -> list[_Rebuilt]:
    """SQLite: the running totals' row triggers on person (app.statistikk.grunnlag.TRIGGERE) as
    defined now, none before migration 0012. PostgreSQL: none (see _Rebuilt)."""
    if dialect == "postgres":
        return []
    sql = db.Sql.paa(conn)
    rows = await conn.execute_query_dict(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'person'"
        f" AND {sql.inn('name', grunnlag.TRIGGERE)} ORDER BY name", sql.verdier)
    return [_Rebuilt(r["name"], f'DROP TRIGGER "{r["name"]}"', r["sql"]) for r in rows]


_COPY_COLUMNS = [*COLUMNS, "endrings_id"]


def _copy_text(rows: list[tuple[Any, ...]], first_change: int) -> bytes:
    """Rows in COPY's text format, numbered in the change feed from `first_change` on. The
    values are written as they are: generated and example values never hold a tab, a newline
    or a backslash (names, digits, '#', '@', '.', '+', ':' and '-' only), which is what would
    need escaping."""
    return "".join([
        f"{line}\t{n}\n" for n, line in enumerate(map("\t".join, rows), first_change)
    ]).encode()


async def _copy(conn: BaseDBAsyncClient, examples: list[tuple[Any, ...]], gen: _Generator,
                persons: int, progress: _Progress) -> None:
    """All persons in one COPY, each chunk built in a worker thread while the event loop sends
    the one before: PostgreSQL stores rows in its own process meanwhile, so building and storing
    overlap. FREEZE: the table was emptied in this transaction, so the rows are written frozen
    and all-visible, and the first reader (an index build, ANALYZE, a scan) has no hint bits to
    set."""
    chunks = _chunks(gen, persons)

    def build(first_change: int) -> bytes | None:
        rows = next(chunks, None)
        return None if rows is None else _copy_text(rows, first_change)

    async def source() -> AsyncIterator[bytes]:
        yield _copy_text(examples, 1)
        first_change = len(examples) + 1
        pending = asyncio.ensure_future(asyncio.to_thread(build, first_change))
        try:
            while (data := await pending) is not None:
                count = min(CHUNK, persons - (first_change - len(examples) - 1))
                first_change += count
                pending = asyncio.ensure_future(asyncio.to_thread(build, first_change))
                yield data
                progress.written(count)
        finally:
            # Never leave a thread running on the generator when the COPY ends early.
            await asyncio.gather(pending, return_exceptions=True)

    async with conn.acquire_connection() as raw:
        await raw.copy_to_table("person", source=source(), columns=_COPY_COLUMNS,
                                format="text", freeze=True, timeout=LOAD_TIMEOUT)


def _quoted(name: str) -> str:
    return f'"{name}"'


async def _execute(conn: BaseDBAsyncClient, dialect: str, sql: str) -> None:
    """A statement of the load, on PostgreSQL without the pool's per-statement timeout."""
    if dialect == "postgres":
        async with conn.acquire_connection() as raw:
            await raw.execute(sql, timeout=LOAD_TIMEOUT)
    else:
        await conn.execute_query(sql)


async def _insert(conn: BaseDBAsyncClient, dialect: str, rows: list[tuple[Any, ...]],
                  first_change: int) -> None:
    """Write rows of driver values (None for NULL, datetimes on PostgreSQL), numbering them in
    the change feed from `first_change` on: a batch of test persons (app.testdata.store), and
    the seed's chunks on SQLite."""
    if not rows:
        return
    numbered = [(*row, n) for n, row in enumerate(rows, first_change)]
    if dialect == "postgres":
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table("person", records=numbered, columns=_COPY_COLUMNS)
    else:
        columns = ", ".join(f'"{c}"' for c in _COPY_COLUMNS)
        marks = ", ".join("?" for _ in _COPY_COLUMNS)
        await conn.execute_many(f'INSERT INTO "person" ({columns}) VALUES ({marks})',
                                numbered)  # type: ignore[arg-type]  # typed as lists; tuples do


async def _insert_all(conn: BaseDBAsyncClient, examples: list[tuple[Any, ...]],
                      gen: _Generator, persons: int, progress: _Progress) -> None:
    """SQLite: one `executemany` per chunk, numbered in the change feed from 1 on. Not
    overlapped: the driver's thread needs the GIL for every row, and two threads fighting over
    it made seeding slower than one chunk after the other."""
    await _insert(conn, "sqlite", examples, 1)
    first_change = len(examples) + 1
    for rows in _chunks(gen, persons):
        await _insert(conn, "sqlite", rows, first_change)
        first_change += len(rows)
        progress.written(len(rows))


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


# Seconds one statement of the load may take on PostgreSQL (the COPY of all persons, an index
# build): minutes for a national register, where the pool allows a request's statement 30 s
# (app.db.POSTGRES_TIMEOUTS).
LOAD_TIMEOUT = 3600.0
# Memory for each index build on PostgreSQL (SET LOCAL: this transaction only): the sort of a
# national register's ids fits, so no build spills to disk. (work_mem for the running totals'
# trigger was measured too: no gain, its aggregate sorts either way.)
MAINTENANCE_WORK_MEM = "1GB"
# Addresses per statement when the duplicate flags are recomputed (SQLite's limit on bound
# values is 32766).
_FLAG_BATCH = 5000


async def seed_register(*, persons: int, seed: int, now: dt.datetime | None = None,
                        progress: bool = False) -> SeedSummary:
    """Replace the register with `persons` synthetic persons plus the example persons.

    The tortoise connection must be open (app.db.connect). Dates are relative to `now`, which
    defaults to the start of the current UTC day, so two runs with the same arguments on the same
    day give identical registers (pass `now` to pin it; it is cut to whole seconds, naive means
    UTC). Everything happens in one transaction: a failure leaves the old register in place.
    `progress`: report on stderr while it runs (_Progress).

    The load: the table emptied, its indexes and constraints (and SQLite's running-totals
    triggers) dropped (_Rebuilt), the rows written (COPY on PostgreSQL), the indexes and
    constraints built again, the duplicate flags of the addresses the generator gave out twice
    set by the register's own rule, then SQLite's triggers created again and the key figures'
    totals filled from the rows.
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
    values = _values(dialect, now)
    null = values.null
    examples = _example_rows(now, values)
    gen = _Generator(
        seed, now, values,
        reserved_ids=frozenset(EXAMPLE_IDS),
        reserved_mobiles=frozenset(row[9] for row in examples if row[9] != null),
    )
    report = _Progress(persons, Console(stderr=True) if progress else None)
    try:
        # The writers' transaction: the counter row first, so a resident's change in flight
        # ends before the TRUNCATE and none waits on the table while holding the counter.
        async with _sqlite_without_fk_checks(dialect), skrivetransaksjon() as conn:
            # Emptied with the register: the running totals (their trigger on TRUNCATE would
            # leave every row of theirs dead, and a bloated table slows each computation).
            emptied = ["person", "postkasseleverandoer", *grunnlag.TABELLER]
            if dialect == "postgres":
                await conn.execute_query(f"TRUNCATE {', '.join(map(_quoted, emptied))}")
                await conn.execute_query(
                    f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            triggers = await _totals_triggers(conn, dialect)
            for trigger in triggers:  # before the DELETE, which they would run for every row
                await _execute(conn, dialect, trigger.drop)
            if dialect != "postgres":
                for table in emptied:
                    await conn.execute_query(f"DELETE FROM {_quoted(table)}")
            await Postkasseleverandoer.bulk_create([
                Postkasseleverandoer(orgnr=DIGIPOST_ORGNR, navn="Digipost",
                                     sertifikat=_certificate("digipost.pem")),
                Postkasseleverandoer(orgnr=EBOKS_ORGNR, navn="e-Boks",
                                     sertifikat=_certificate("eboks.pem")),
            ], using_db=conn)
            indexes = await _person_indexes(conn, dialect)
            for index in indexes:
                await _execute(conn, dialect, index.drop)
            if dialect == "postgres":
                await _copy(conn, examples, gen, persons, report)
            else:
                await _insert_all(conn, examples, gen, persons, report)

            report.finishing(len(indexes) + 2 + (dialect == "postgres"))
            for index in sorted(indexes, key=lambda i: "FOREIGN KEY" in i.create):
                report.step(f"index {index.name}")
                await _execute(conn, dialect, index.create)
            if dialect == "postgres":
                # Plans for the new table, the duplicate flags' first among them.
                report.step("planner statistics")
                await _execute(conn, dialect, 'ANALYZE "person"')
            report.step("duplicate flags")
            emails = sorted(gen.shared_emails | {r[5] for r in examples if r[5] != null})
            mobiles = sorted(gen.shared_mobiles | {r[9] for r in examples if r[9] != null})
            for i in range(0, max(len(emails), len(mobiles)), _FLAG_BATCH):
                await register.oppdater_duplikater(conn, epost=emails[i:i + _FLAG_BATCH],
                                                   mobil=mobiles[i:i + _FLAG_BATCH])
            report.step("key figures' running totals")
            if triggers:
                for trigger in triggers:
                    await _execute(conn, dialect, trigger.create)
                for statement in grunnlag.fyll_sql(dialect == "postgres"):
                    await _execute(conn, dialect, statement)
            if dialect == "postgres":  # filled by the COPY's trigger: plans for them too
                totals = ", ".join(map(_quoted, grunnlag.TABELLER))
                await _execute(conn, dialect, f"ANALYZE {totals}")
            # The change feed starts over with the new register: 1 .. all persons.
            await conn.execute_query(
                "UPDATE endringsteller SET siste = "
                f"{len(examples) + persons} WHERE id = 1"
            )
    finally:
        report.close()

    ex_active = [r for r in examples if r[1] == "AKTIV"]
    return SeedSummary(
        persons=persons + len(examples),
        active=gen.active + len(ex_active),
        deleted=gen.deleted + len(examples) - len(ex_active),
        reserved=gen.reserved + sum(1 for r in examples if r[2] == values.yes),
        with_email=gen.with_email + sum(1 for r in examples if r[5] != null),
        with_mobile=gen.with_mobile + sum(1 for r in examples if r[9] != null),
        digipost=gen.digipost + sum(1 for r in examples if r[14] == DIGIPOST_ORGNR),
        eboks=gen.eboks + sum(1 for r in examples if r[14] == EBOKS_ORGNR),
        seconds=time.perf_counter() - started,
    )
