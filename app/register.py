"""Reading the register on the hot path: a whole batch of persons in one SQL round trip.

Rows are read raw (no model instances): building tortoise objects costs ten times the fetch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from app import db
from app.models import Registerstatus


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

# Another AKTIV person with the same address makes the address "duplisert".
_DUPLICATE = (
    "EXISTS (SELECT 1 FROM person o WHERE o.{col} = p.{col} AND o.status = 'AKTIV'"
    " AND o.personidentifikator <> p.personidentifikator)"
)
_NO_DUPLICATE = "(1 = 0)"


def _select(with_duplicates: bool, where: str, extra_columns: str = "") -> str:
    """The PersonRecord columns (then `extra_columns`, e.g. ", p.endrings_id") of matching rows.
    Every column is named, so the statement can also serve as a subquery."""
    dup_epost = _DUPLICATE.format(col="epostadresse") if with_duplicates else _NO_DUPLICATE
    dup_mobil = _DUPLICATE.format(col="mobiltelefonnummer") if with_duplicates else _NO_DUPLICATE
    return f"""
SELECT p.personidentifikator, p.status, p.reservasjon, p.reservasjonstidspunkt,
       p.reservasjon_oppdatert,
       p.epostadresse, p.epostadresse_oppdatert, p.epostadresse_sist_verifisert,
       p.epostadresse_sist_validert, {dup_epost} AS epostadresse_duplisert,
       p.mobiltelefonnummer, p.mobiltelefonnummer_oppdatert,
       p.mobiltelefonnummer_sist_verifisert, p.mobiltelefonnummer_sist_validert,
       {dup_mobil} AS mobiltelefonnummer_duplisert,
       p.postkasseadresse, p.postkasseleverandoeradresse, l.sertifikat,
       p.spraak, p.spraak_oppdatert{extra_columns}
FROM person p
LEFT JOIN postkasseleverandoer l ON l.orgnr = p.postkasseleverandoeradresse
WHERE {where}"""


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
    converters = _CONVERTERS[db.dialect()]
    make = PersonRecord._make
    for row in rows:
        values = list(row)
        for index, convert in converters:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        yield make(values)


async def hent_personer(
    ids: Sequence[str], *, with_duplicates: bool = True
) -> dict[str, PersonRecord]:
    """The stored persons among `ids`, by id, in one statement. Absent ids are not registered."""
    if not ids:
        return {}
    conn = db.connection()
    if db.dialect() == "postgres":
        sql = _select(with_duplicates, "p.personidentifikator = ANY($1::varchar[])")
        values: list[Any] = [list(ids)]
    else:
        placeholders = ",".join("?" * len(ids))
        sql = _select(with_duplicates, f"p.personidentifikator IN ({placeholders})")
        values = list(ids)
    _, rows = await conn.execute_query(sql, values)
    return {r.personidentifikator: r for r in records(rows)}


@dataclass(frozen=True, slots=True)
class Endringsside:
    """A page of the change feed: (endrings_id, person) in change order, and the last change
    number committed when the page was read."""

    personer: list[tuple[int, PersonRecord]]
    siste_endrings_id: int


async def hent_endringer(
    fra_endrings_id: int, antall: int, *, with_duplicates: bool = True
) -> Endringsside:
    """Persons whose endrings_id is above `fra_endrings_id`, lowest first, at most `antall`,
    with the counter, in one statement: one snapshot, so the page and the last number agree.

    The counter is the outer row (LEFT JOIN), so an empty page still reads it. The inner
    ORDER BY + LIMIT walks person_endrings_id_idx.
    """
    if db.dialect() == "postgres":
        where = "p.endrings_id > $1 ORDER BY p.endrings_id LIMIT $2"
    else:
        where = "p.endrings_id > ? ORDER BY p.endrings_id LIMIT ?"
    inner = _select(with_duplicates, where, ", p.endrings_id")
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
