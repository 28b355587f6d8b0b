"""The person table in SQL: the batch fetch of the hot path, the change feed's pages, and what
every writer of addresses or status must keep (duplicate flags, the other holders' numbers).

Rows are read raw (no model instances): building tortoise objects costs ten times the fetch.
The columns and their conversions are derived from the declaration (app.personer.felt).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.personer.endringsnummer import neste_endrings_id
from app.personer.felt import JA_NEI, KOLONNER, TIDSPUNKTER, PersonRecord, Registerstatus

# Another AKTIV person with the same address makes the address "duplisert". The flags are
# stored on the row (a read probing two indexes per person cost the lookup as much as the whole
# fetch); this is the rule, and oppdater_duplikater the one place that applies it.
_DUPLIKAT = (
    "EXISTS (SELECT 1 FROM person o WHERE o.{col} = person.{col} AND o.status = 'AKTIV'"
    " AND o.personidentifikator <> person.personidentifikator)"
)
_ADRESSEKOLONNER = ("epostadresse", "mobiltelefonnummer")
_KOLONNER = ", ".join(k.sql for k in KOLONNER)


def select(where: str, extra_columns: str = "") -> str:
    """The PersonRecord columns (then `extra_columns`, e.g. ", p.endrings_id") of the rows of
    `person p` matching `where`. Every column is named, so it can also serve as a subquery."""
    return (
        f"SELECT {_KOLONNER}{extra_columns} FROM person p"
        f" LEFT JOIN postkasseleverandoer l ON l.orgnr = p.postkasseleverandoeradresse"
        f" WHERE {where}"
    )


_STATUS = {status.value: status for status in Registerstatus}


def _converters(dialect: str) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(column index, converter) for the columns the driver does not hand over as PersonRecord
    holds them: PostgreSQL only the status; SQLite also datetimes (text) and booleans (0/1)."""
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(PersonRecord._fields):
        if name == "status":  # a dict lookup: calling the enum class costs several times more
            converters.append((index, _STATUS.__getitem__))
        elif dialect != "postgres" and name in TIDSPUNKTER:  # None is skipped: text only
            converters.append((index, db.tid_fra_tekst))
        elif dialect != "postgres" and name in JA_NEI:
            converters.append((index, bool))
    return tuple(converters)


_CONVERTERS = {dialect: _converters(dialect) for dialect in ("postgres", "sqlite")}


def records(rows: Iterable[Any]) -> Iterator[PersonRecord]:
    """PersonRecords from raw rows of `select` (the drivers' row objects, sequences of the
    columns), converted as the connection's driver needs."""
    converters = _CONVERTERS[db.dialect()]
    make = PersonRecord._make
    for row in rows:
        values = list(row)
        for index, convert in converters:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        yield make(values)


async def hent_personer(ids: Sequence[str]) -> dict[str, PersonRecord]:
    """The stored persons among `ids`, by id, in one statement. Absent ids are not registered."""
    if not ids:
        return {}
    sql = db.Sql()
    statement = select(sql.inn("p.personidentifikator", ids))
    _, rows = await db.connection().execute_query(statement, sql.verdier)
    return {r.personidentifikator: r for r in records(rows)}


async def hent_person(pid: str) -> PersonRecord | None:
    """One stored person, as the batch reads it (duplicate flags included)."""
    return (await hent_personer([pid])).get(pid)


@dataclass(frozen=True, slots=True)
class Endringsside:
    """A page of the change feed: (endrings_id, person) in change order, and the last change
    number committed when the page was read."""

    personer: list[tuple[int, PersonRecord]]
    siste_endrings_id: int


async def hent_endringer(fra_endrings_id: int, antall: int) -> Endringsside:
    """Persons whose endrings_id is above `fra_endrings_id`, lowest first, at most `antall`,
    with the counter, in one statement: one snapshot, so the page and the last number agree.

    The counter is the outer row (LEFT JOIN), so an empty page still reads it. The inner
    ORDER BY + LIMIT walks person_endrings_id_idx.
    """
    sql = db.Sql()
    inner = select(
        f"p.endrings_id > {sql(fra_endrings_id)} ORDER BY p.endrings_id LIMIT {sql(antall)}",
        ", p.endrings_id",
    )
    statement = (
        f"SELECT e.*, t.siste FROM endringsteller t LEFT JOIN ({inner}) e ON 1 = 1"
        " WHERE t.id = 1 ORDER BY e.endrings_id"
    )
    _, rows = await db.connection().execute_query(statement, sql.verdier)
    rader = [tuple(row) for row in rows]
    siste = int(rader[0][-1])
    med_person = [rad for rad in rader if rad[-2] is not None]
    personer = list(zip(
        (int(rad[-2]) for rad in med_person), records(rad[:-2] for rad in med_person),
        strict=True,
    ))
    return Endringsside(personer, siste)


# --- what every writer of addresses or status keeps ------------------------------------------


async def oppdater_duplikater(
    conn: BaseDBAsyncClient,
    *,
    epost: Iterable[str] = (),
    mobil: Iterable[str] = (),
    personidentifikatorer: Iterable[str] = (),
) -> None:
    """Recompute the stored duplicate flags of everyone holding one of these addresses and of
    these persons (whose own address may just have gone). Call it in the writers' transaction
    (app.personer.endringsnummer.skrivetransaksjon), after the change, with the addresses before
    and after it: the counter row's lock holds every other writer until this one commits, so
    two writers of one address never recompute without seeing each other's."""
    pids = sorted(set(personidentifikatorer))
    for kolonne, adresser in zip(_ADRESSEKOLONNER, (sorted(set(epost)), sorted(set(mobil))),
                                 strict=True):
        if not adresser and not pids:
            continue
        sql = db.Sql.paa(conn)
        hvem = [sql.inn(k, v) for k, v in ((kolonne, adresser), ("personidentifikator", pids)) if v]
        await conn.execute_query(
            f"UPDATE person SET {kolonne}_duplisert = {_DUPLIKAT.format(col=kolonne)}"
            f" WHERE {' OR '.join(hvem)}",
            sql.verdier,
        )


async def oppdater_alle_duplikater(conn: BaseDBAsyncClient) -> None:
    """Every stored duplicate flag recomputed (`krr seed`, `krr oppdater-duplikater`). A flag
    can only be true where some other row holds the same address: those rows are recomputed,
    the rest set false only where they are not already, so a bulk load rewrites few rows."""
    for kolonne in _ADRESSEKOLONNER:
        delt = (
            f"{kolonne} IN (SELECT {kolonne} FROM person WHERE {kolonne} IS NOT NULL"
            f" GROUP BY {kolonne} HAVING COUNT(*) > 1)"
        )
        await conn.execute_script(
            f"UPDATE person SET {kolonne}_duplisert = {_DUPLIKAT.format(col=kolonne)}"
            f" WHERE {delt}"
        )
        await conn.execute_script(
            f"UPDATE person SET {kolonne}_duplisert = FALSE"
            f" WHERE {kolonne}_duplisert AND NOT ({delt} AND {kolonne} IS NOT NULL)"
        )


async def laas_andre_innehavere(
    conn: BaseDBAsyncClient, *, epost: Iterable[str], mobil: Iterable[str],
    unntatt: Sequence[str],
) -> list[str]:
    """Lock and name the AKTIV persons (other than `unntatt`) holding any of these addresses:
    their duplicate flags change with ours, so they take new change numbers too (renummerer).
    Call it in the writers' transaction (app.personer.endringsnummer.skrivetransaksjon): every
    earlier writer has committed, so no holder is missed, and no other writer holds a person
    row, so the locks are uncontended (taken in id order all the same)."""
    epost, mobil = sorted(set(epost)), sorted(set(mobil))
    if not epost and not mobil:
        return []
    sql = db.Sql.paa(conn)
    holder = " OR ".join(sql.inn(k, v) for k, v in (("epostadresse", epost),
                                                      ("mobiltelefonnummer", mobil)) if v)
    unntak = f" AND NOT {sql.inn('personidentifikator', unntatt)}" if unntatt else ""
    lock = " FOR UPDATE" if sql.postgres else ""
    _, rows = await conn.execute_query(
        f"SELECT personidentifikator FROM person WHERE ({holder}) AND status = 'AKTIV'{unntak}"
        f" ORDER BY personidentifikator{lock}",
        sql.verdier,
    )
    return [row[0] for row in rows]


async def renummerer(conn: BaseDBAsyncClient, personidentifikatorer: Iterable[str]) -> None:
    """Give these rows new change numbers though their own columns did not change.

    The feed shows duplicate flags, which depend on other rows: when the AKTIV holders of an
    address change, each remaining holder must reappear in the feed for a copy to stay exact.
    Any writer that changes addresses or status calls this for the other holders.
    """
    for pid in personidentifikatorer:
        nummer = await neste_endrings_id(conn)
        sql = db.Sql.paa(conn)
        await conn.execute_query(
            f"UPDATE person SET endrings_id = {sql(nummer)}"
            f" WHERE personidentifikator = {sql(pid)}",
            sql.verdier,
        )
