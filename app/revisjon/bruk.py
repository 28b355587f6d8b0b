"""The usage report: an organisation's lookups per day, own use and each vendor's, summed in
the database from the request rows (index oppslag_consumer_dag_idx), never from person rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from app import db
from app.errors import BadInput

MAX_DAGER = 366


@dataclass(slots=True)
class Bruk:
    """Requests that disclosed person data, and persons disclosed in them (a person in two
    requests counts twice)."""

    oppslag: int = 0
    personer: int = 0

    def legg_til(self, oppslag: int, personer: int) -> None:
        self.oppslag += oppslag
        self.personer += personer


@dataclass(slots=True)
class Bruksdag:
    dag: dt.date
    egen_bruk: Bruk = field(default_factory=Bruk)
    paa_vegne_av: dict[str, Bruk] = field(default_factory=dict)  # vendor orgnr -> use


@dataclass(slots=True)
class Bruksrapport:
    organisasjon: str
    fra: dt.date
    til: dt.date
    dager: list[Bruksdag]  # only days with use, oldest first
    totalt: Bruk


class UgyldigPeriode(BadInput):
    """fra after til, or a period longer than MAX_DAGER days."""


def sjekk_periode(fra: dt.date, til: dt.date) -> None:
    if fra > til:
        raise UgyldigPeriode(f"fra ({fra}) is after til ({til})")
    dager = (til - fra).days + 1
    if dager > MAX_DAGER:
        raise UgyldigPeriode(f"the period is {dager} days; at most {MAX_DAGER} are allowed")


async def bruksrapport(organisasjon: str, fra: dt.date, til: dt.date) -> Bruksrapport:
    """Use of the register by `organisasjon` (as consumer) on the Oslo days fra..til inclusive.
    Days without use are left out."""
    sjekk_periode(fra, til)
    sql = db.Sql()
    _, rows = await db.connection().execute_query(
        "SELECT dag, supplier, COUNT(*), SUM(antall) FROM oppslag"
        f" WHERE consumer = {sql(organisasjon)} AND dag >= {sql.dato(fra)}"
        f" AND dag <= {sql.dato(til)} GROUP BY dag, supplier ORDER BY dag",
        sql.verdier,
    )

    dager: dict[dt.date, Bruksdag] = {}
    totalt = Bruk()
    for dag_raw, supplier, oppslag_raw, personer_raw in rows:
        dag = db.dato(dag_raw)
        oppslag, personer = int(oppslag_raw), int(personer_raw or 0)
        bruksdag = dager.get(dag) or dager.setdefault(dag, Bruksdag(dag))
        if supplier is None:
            bruksdag.egen_bruk.legg_til(oppslag, personer)
        else:
            bruksdag.paa_vegne_av.setdefault(supplier, Bruk()).legg_til(oppslag, personer)
        totalt.legg_til(oppslag, personer)
    return Bruksrapport(
        organisasjon=organisasjon,
        fra=fra,
        til=til,
        dager=[dager[d] for d in sorted(dager)],
        totalt=totalt,
    )
