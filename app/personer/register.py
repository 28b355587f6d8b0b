"""Reading the register on the hot path: a whole batch of persons in one SQL round trip.

Rows are read raw (no model instances): building tortoise objects costs ten times the fetch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient

from app import db
from app.personer.models import Registerstatus


class PersonRecord(NamedTuple):
    """A stored person as read (immutable; a tuple, the cheapest thing to build per row)."""

    personidentifikator: str
    status: Registerstatus
    reservasjon: bool
    reservasjonstidspunkt: dt.datetime | None
    reservasjon_oppdatert: dt.datetime | None
    epostadresse: str | None
    epostadresse_oppdatert: dt.datetime | None
    epostadresse_sist_verifisert: dt.datetime | None
    epostadresse_sist_validert: dt.datetime | None
    epostadresse_duplisert: bool
    mobiltelefonnummer: str | None
    mobiltelefonnummer_oppdatert: dt.datetime | None
    mobiltelefonnummer_sist_verifisert: dt.datetime | None
    mobiltelefonnummer_sist_validert: dt.datetime | None
    mobiltelefonnummer_duplisert: bool
    postkasseadresse: str | None
    postkasseleverandoeradresse: str | None
    sertifikat: str | None
    spraak: str | None
    spraak_oppdatert: dt.datetime | None


_DATETIME_COLUMNS = frozenset({
    "reservasjonstidspunkt", "reservasjon_oppdatert",
    "epostadresse_oppdatert", "epostadresse_sist_verifisert", "epostadresse_sist_validert",
    "mobiltelefonnummer_oppdatert", "mobiltelefonnummer_sist_verifisert",
    "mobiltelefonnummer_sist_validert", "spraak_oppdatert",
})
_BOOLEAN_COLUMNS = frozenset(
    {"reservasjon", "epostadresse_duplisert", "mobiltelefonnummer_duplisert"}
)

# Another AKTIV person with the same address makes the address "duplisert". The flags are
# stored on the row (a read probing two indexes per person cost the lookup as much as the whole
# fetch); this is the rule, and oppdater_duplikater the one place that applies it.
_DUPLIKAT = (
    "EXISTS (SELECT 1 FROM person o WHERE o.{col} = person.{col} AND o.status = 'AKTIV'"
    " AND o.personidentifikator <> person.personidentifikator)"
)
_ADRESSEKOLONNER = ("epostadresse", "mobiltelefonnummer")


def _select(where: str, extra_columns: str = "") -> str:
    """The PersonRecord columns (then `extra_columns`, e.g. ", p.endrings_id") of matching rows.
    Every column is named, so the statement can also serve as a subquery."""
    return f"""
SELECT p.personidentifikator, p.status, p.reservasjon, p.reservasjonstidspunkt,
       p.reservasjon_oppdatert,
       p.epostadresse, p.epostadresse_oppdatert, p.epostadresse_sist_verifisert,
       p.epostadresse_sist_validert, p.epostadresse_duplisert,
       p.mobiltelefonnummer, p.mobiltelefonnummer_oppdatert,
       p.mobiltelefonnummer_sist_verifisert, p.mobiltelefonnummer_sist_validert,
       p.mobiltelefonnummer_duplisert,
       p.postkasseadresse, p.postkasseleverandoeradresse, l.sertifikat,
       p.spraak, p.spraak_oppdatert{extra_columns}
FROM person p
LEFT JOIN postkasseleverandoer l ON l.orgnr = p.postkasseleverandoeradresse
WHERE {where}"""


async def oppdater_duplikater(
    conn: BaseDBAsyncClient,
    *,
    epost: Iterable[str] = (),
    mobil: Iterable[str] = (),
    personidentifikatorer: Iterable[str] = (),
) -> None:
    """Recompute the stored duplicate flags of everyone holding one of these addresses and of
    these persons (whose own address may just have gone). Call it in the writing transaction,
    after the change, with the addresses before and after it, and after taking a change number:
    the counter row's lock (app.changes) holds every other writer until this one commits, so
    two writers of one address never recompute without seeing each other's rows."""
    pids = sorted(set(personidentifikatorer))
    for kolonne, adresser in zip(_ADRESSEKOLONNER, (sorted(set(epost)), sorted(set(mobil))),
                                 strict=True):
        if not adresser and not pids:
            continue
        sql = db.Sql(conn.capabilities.dialect)
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


def _to_datetime(value: Any) -> dt.datetime | None:
    """SQLite hands back ISO text, PostgreSQL datetimes; both become aware UTC datetimes."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_STATUS = {status.value: status for status in Registerstatus}


def _converters(dialect: str) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(column index, converter) for the columns the driver does not hand over as PersonRecord
    holds them: PostgreSQL only the status; SQLite also datetimes (text) and booleans (0/1)."""
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(PersonRecord._fields):
        if name == "status":  # a dict lookup: calling the enum class costs several times more
            converters.append((index, _STATUS.__getitem__))
        elif dialect != "postgres" and name in _DATETIME_COLUMNS:
            converters.append((index, _to_datetime))
        elif dialect != "postgres" and name in _BOOLEAN_COLUMNS:
            converters.append((index, bool))
    return tuple(converters)


_CONVERTERS = {dialect: _converters(dialect) for dialect in ("postgres", "sqlite")}


def records(rows: Iterable[Sequence[Any]]) -> Iterator[PersonRecord]:
    """PersonRecords from raw rows of `_select`, converted as the connection's driver needs."""
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
    sql = db.Sql(db.dialect())
    statement = _select(sql.inn("p.personidentifikator", ids))
    _, rows = await db.connection().execute_query(statement, sql.verdier)
    return {r.personidentifikator: r for r in records(rows)}


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
    if db.dialect() == "postgres":
        where = "p.endrings_id > $1 ORDER BY p.endrings_id LIMIT $2"
    else:
        where = "p.endrings_id > ? ORDER BY p.endrings_id LIMIT ?"
    inner = _select(where, ", p.endrings_id")
    sql = (
        f"SELECT e.*, t.siste FROM endringsteller t LEFT JOIN ({inner}) e ON 1 = 1"
        " WHERE t.id = 1 ORDER BY e.endrings_id"
    )
    _, rows = await db.connection().execute_query(sql, [fra_endrings_id, antall])
    rader = [tuple(row) for row in rows]
    siste = int(rader[0][-1])
    med_person = [rad for rad in rader if rad[-2] is not None]
    personer = list(zip(
        (int(rad[-2]) for rad in med_person), records(rad[:-2] for rad in med_person),
        strict=True,
    ))
    return Endringsside(personer, siste)
