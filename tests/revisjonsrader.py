"""The audit log's person rows as tests read them: the table has no key or model of its own
(app.revisjon.models says why), so they are read with SQL, after filing what the queue holds
(app.revisjon.fordeling: a served app's filer does that in the background)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from app import db
from app.revisjon import fordeling


class Personrad(NamedTuple):
    oppslag_id: int
    personidentifikator: str
    tidspunkt: dt.datetime
    kategorier: int


async def personrader(oppslag_id: int | None = None) -> list[Personrad]:
    """Every person row (of one request, if given), by request and person."""
    await fordeling.fordel_alt()
    sql = db.Sql()
    where = f" WHERE oppslag_id = {sql(oppslag_id)}" if oppslag_id is not None else ""
    _, rows = await db.connection().execute_query(
        "SELECT oppslag_id, personidentifikator, tidspunkt, kategorier FROM oppslag_person"
        f"{where} ORDER BY oppslag_id, personidentifikator",
        sql.verdier,
    )
    return [Personrad(int(r[0]), r[1], db.tid(r[2]) or dt.datetime.min, int(r[3])) for r in rows]
