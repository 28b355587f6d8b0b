"""Test persons in the database: creating a batch, and searching the register in SQL.

Transport-neutral: GraphQL (app.testdata.graphql) and the CSV export (app.testdata.csv_export)
both call these, so a filter, a scope rule or a page means the same in both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app import db
from app.errors import BadInput
from app.foresporsel import Foresporsel
from app.personer import paragraf32, register
from app.personer.endringsnummer import skrivetransaksjon, ta_endrings_ider
from app.personer.felt import SPRAAK, PersonRecord, Registerstatus
from app.personer.oppslag import revider, tilgang
from app.personer.paragraf32 import Varslingsstatus
from app.personer.utlevering import VARSLINGSSTATUS_FELT, PersonSvar, Tilgang, utlever
from app.testdata import seed
from app.testdata.profiles import Row, Testpersoner, Testprofil
from authz.avslag import MANGLER_DELEGERING, MANGLER_SCOPE, Avslag
from authz.scopes import HANDLING_SCOPES, Handling, Kategori, kategori_for_felt
from authz.tillatelse import organisasjon

MAKS_ANTALL = 1000  # opprettTestpersoner, per call
MAKS_FIRST = 1000  # sokPersoner, per page
_KOLLISJONSRUNDER = 20
_FORSOK = 3

try:  # a COPY (seed._insert on PostgreSQL) reports a taken id as the driver's own error
    from asyncpg.exceptions import UniqueViolationError as _PgUnique

    _TATT: tuple[type[Exception], ...] = (IntegrityError, _PgUnique)
except ImportError:  # pragma: no cover - asyncpg is a dependency
    _TATT = (IntegrityError,)


# The operations' declared permissions (authz.tillatelse): a vendor acting for the organisation
# only where the organisation delegated the operation's scope.
SOKE = organisasjon(Handling.SOKE_PERSONER, paa_vegne_av=True)
OPPRETTE = organisasjon(Handling.OPPRETTE_TESTPERSONER, paa_vegne_av=True)


def scopes_for(handling: Handling) -> str:
    return " or ".join(HANDLING_SCOPES[handling])


# --- creating ----------------------------------------------------------------------------------

async def opprett_testpersoner(antall: int, profil: Testprofil, now: dt.datetime) -> list[str]:
    """Create `antall` new test persons of `profil` in one transaction; their ids, in id order.

    In the writers' transaction (the counter row locked first, so every earlier writer has
    committed and a concurrent batch waits); the change numbers are one contiguous block; the
    draws are checked against the register in one query per round and collisions redrawn.
    Should an insert still hit a taken id, the whole batch is drawn again.
    """
    if not 1 <= antall <= MAKS_ANTALL:
        raise BadInput(f"antall must be from 1 to {MAKS_ANTALL}; got {antall}")
    dialect = db.dialect()
    for forsok in range(_FORSOK):
        tegner = Testpersoner(profil, now, dialect)
        try:
            async with skrivetransaksjon() as conn:
                # No address a test person gets is held by anyone (checked below, with the
                # counter row locked), so their stored duplicate flags are rightly false.
                if profil is Testprofil.FULL:
                    await _sikre_leverandoerer(conn)
                forste = await ta_endrings_ider(conn, antall)
                rows = await _uten_kollisjoner(conn, tegner, tegner.rows(antall))
                await seed._insert(conn, dialect, rows, forste)
        except _TATT:
            if forsok == _FORSOK - 1:
                raise
            continue
        return sorted(str(r[0]) for r in rows)
    raise AssertionError("unreachable")


async def _sikre_leverandoerer(conn: BaseDBAsyncClient) -> None:
    """The seed's Digipost and e-Boks rows with its certificates, where missing (a mailbox needs
    its provider row). ON CONFLICT, so concurrent calls do not trip over each other."""
    for orgnr, navn, pem in ((seed.DIGIPOST_ORGNR, "Digipost", "digipost.pem"),
                             (seed.EBOKS_ORGNR, "e-Boks", "eboks.pem")):
        sql = db.Sql.paa(conn)
        await conn.execute_query(
            "INSERT INTO postkasseleverandoer (orgnr, navn, sertifikat) VALUES"
            f" ({sql(orgnr)}, {sql(navn)}, {sql(seed._certificate(pem))})"
            " ON CONFLICT (orgnr) DO NOTHING",
            sql.verdier,
        )


async def _uten_kollisjoner(
    conn: BaseDBAsyncClient, tegner: Testpersoner, rows: list[Row]
) -> list[Row]:
    """Redraw ids and addresses the register already holds (one query per round), so a test
    person is new and never makes anyone's address a duplicate (which would move others in
    the change feed)."""
    for _ in range(_KOLLISJONSRUNDER):
        ids = [str(r[0]) for r in rows]
        epost = [str(r[5]) for r in rows if r[5]]
        mobil = [str(r[9]) for r in rows if r[9]]
        tatt_id, tatt_epost, tatt_mobil = await _tatte(conn, ids, epost, mobil)
        if not (tatt_id or tatt_epost or tatt_mobil):
            return rows
        rows = [
            tegner.redraw(r, pid=r[0] in tatt_id, email=r[5] in tatt_epost,
                          mobile=r[9] in tatt_mobil)
            if r[0] in tatt_id or r[5] in tatt_epost or r[9] in tatt_mobil else r
            for r in rows
        ]
    raise RuntimeError("could not draw test persons that are new to the register")


async def _tatte(
    conn: BaseDBAsyncClient, ids: list[str], epost: list[str], mobil: list[str]
) -> tuple[set[str], set[str], set[str]]:
    """Which of these ids, e-mail addresses and mobiles any stored entry holds."""
    sql = db.Sql()
    vilkaar = [sql.inn(f"p.{kol}", verdier) for kol, verdier in (
        ("personidentifikator", ids), ("epostadresse", epost), ("mobiltelefonnummer", mobil)
    ) if verdier]
    _, rader = await conn.execute_query(
        "SELECT p.personidentifikator, p.epostadresse, p.mobiltelefonnummer FROM person p "
        f"WHERE {' OR '.join(vilkaar)}",
        sql.verdier,
    )
    sids, sepost, smobil = set(ids), set(epost), set(mobil)
    tatt: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for pid, e, m in rader:
        if pid in sids:
            tatt[0].add(pid)
        if e in sepost:
            tatt[1].add(e)
        if m in smobil:
            tatt[2].add(m)
    return tatt


# --- searching ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Personfilter:
    """sokPersoner's filter; None means "any". The has-filters and spraak describe the entry as
    a lookup shows it: only an AKTIV entry has contact information, a mailbox or a language, and
    a reserved person's mailbox is never shown (app.personer.utlevering), so it is not found."""

    status: Registerstatus | None = None
    varslingsstatus: Varslingsstatus | None = None
    spraak: str | None = None
    reservasjon: bool | None = None
    har_mobil: bool | None = None
    har_epost: bool | None = None
    har_digital_postkasse: bool | None = None

    def __post_init__(self) -> None:
        if self.spraak is not None and self.spraak not in SPRAAK:
            raise BadInput(f"spraak must be one of {', '.join(SPRAAK)}; got {self.spraak!r}",
                           parameter="spraak")

    def felter(self) -> list[str]:
        """The Person fields whose category each filter in use reads: filtering on a category
        reveals it, so it needs the same scope as seeing it."""
        felter = []
        if self.varslingsstatus is not None:
            felter.append(VARSLINGSSTATUS_FELT)
        if self.spraak is not None:
            felter.append("spraak")
        if self.har_mobil is not None or self.har_epost is not None:
            felter.append("kontaktinformasjon")
        if self.har_digital_postkasse is not None:
            felter.append("digitalPost")
        return felter


_AKTIV = "p.status = 'AKTIV'"
_har = paragraf32.har_adresse_sql


def _ja_nei(vilkaar: str, ja: bool) -> str:
    return vilkaar if ja else f"NOT {vilkaar}"


def _where(filter: Personfilter, now: dt.datetime, sql: db.Sql) -> str:
    """The filter as one NULL-safe condition (NOT of a part is its exact complement)."""
    deler = []
    if filter.status is not None:
        deler.append(f"p.status = {sql(filter.status.value)}")
    if filter.reservasjon is not None:
        deler.append(f"({_AKTIV} AND p.reservasjon = {sql(filter.reservasjon)})")
    if filter.spraak is not None:
        deler.append(f"({_AKTIV} AND p.spraak = {sql(filter.spraak)})")
    if filter.har_epost is not None:
        deler.append(_ja_nei(f"({_AKTIV} AND {_har('epostadresse')})", filter.har_epost))
    if filter.har_mobil is not None:
        deler.append(_ja_nei(f"({_AKTIV} AND {_har('mobiltelefonnummer')})", filter.har_mobil))
    if filter.har_digital_postkasse is not None:
        postkasse = (f"({_AKTIV} AND NOT p.reservasjon AND {_har('postkasseadresse')}"
                     " AND p.postkasseleverandoeradresse IS NOT NULL)")
        deler.append(_ja_nei(postkasse, filter.har_digital_postkasse))
    if filter.varslingsstatus is not None:
        frist = sql.tid(paragraf32.frist(now))
        kan = paragraf32.kan_varsles_sql(frist)
        deler.append(_ja_nei(kan, filter.varslingsstatus is Varslingsstatus.KAN_VARSLES))
    return " AND ".join(deler) or "1 = 1"


async def tell(filter: Personfilter, now: dt.datetime) -> int:
    """How many entries match (one statement)."""
    sql = db.Sql()
    where = _where(filter, now, sql)
    _, rows = await db.connection().execute_query(
        f"SELECT COUNT(*) FROM person p WHERE {where}", sql.verdier
    )
    return int(rows[0][0])


async def side(
    filter: Personfilter, now: dt.datetime, first: int, etter: str | None,
) -> tuple[list[PersonRecord], bool]:
    """Up to `first` matching entries after id `etter`, in id order (one statement, keyset on the
    primary key), and whether more follow."""
    sql = db.Sql()
    where = _where(filter, now, sql)
    if etter is not None:
        where += f" AND p.personidentifikator > {sql(etter)}"
    stmt = register.select(f"{where} ORDER BY p.personidentifikator LIMIT {sql(first + 1)}")
    _, rows = await db.connection().execute_query(stmt, sql.verdier)
    records = list(register.records(rows))
    return records[:first], len(records) > first


async def finnes_til(filter: Personfilter, now: dt.datetime, til: str) -> bool:
    """Whether a matching entry has an id up to and including `til` (entries before a page that
    starts after it: `hasPreviousPage`). One probe on the primary key."""
    sql = db.Sql()
    where = _where(filter, now, sql) + f" AND p.personidentifikator <= {sql(til)}"
    _, rows = await db.connection().execute_query(
        f"SELECT 1 FROM person p WHERE {where} LIMIT 1", sql.verdier
    )
    return bool(rows)


async def sokerett(
    foresporsel: Foresporsel, filter: Personfilter, felter: Iterable[str]
) -> Tilgang:
    """What a search may show of the selected `felter` (the lookup's own rules, with what a
    vendor's delegation covers). Raises Avslag when a filter reads a category the caller may
    not see: the filter would reveal what the field hides."""
    filterfelter = filter.felter()
    felter = list(felter)
    synlig = await tilgang(foresporsel, [*felter, *filterfelter])
    for nektet in synlig.avslag:
        if nektet.felt in filterfelter:
            grunn, hvorfor = (
                (MANGLER_DELEGERING, "the delegation does not cover") if nektet.ikke_delegert
                else (MANGLER_SCOPE, "the token lacks")
            )
            raise Avslag(
                grunn,
                f"Filtering on {nektet.felt} needs what seeing it needs: {hvorfor} scope "
                f"{nektet.scope}",
                nektet.scope,
            )
    synlige = [f for f in synlig.synlige if f in felter]
    kategorier = frozenset(kategori_for_felt(f) for f in synlige) | {Kategori.GRUNNDATA}
    return Tilgang([a for a in synlig.avslag if a.felt in felter], synlige, kategorier)


async def utlever_side(
    records: Sequence[PersonRecord], synlig: Tilgang, foresporsel: Foresporsel,
    *, filtrer_paa_varsling: bool,
) -> list[PersonSvar]:
    """Disclose a page exactly as `personer` would, and record it in the audit log (raises
    app.personer.oppslag.Revisjonsfeil when it cannot be: then nothing is disclosed)."""
    personer = [
        utlever(r.personidentifikator, r, kategorier=synlig.kategorier,
                filtrer_paa_varsling=filtrer_paa_varsling, now=foresporsel.now)
        for r in records
    ]
    if personer:
        await revider(foresporsel, synlig, personer, varslingsstatus=filtrer_paa_varsling)
    return personer
