"""Each vendor's use of the register on an organisation's behalf per day, as a chart and as the
table beside it: the same figures as GraphQL's `bruk` (app.revisjon.bruk), laid out with no I/O.

The chart is small multiples: one row of day bars per vendor on one shared scale, so vendors
compare at a glance without telling colours apart; the table carries the exact numbers for
screen readers and copying.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.revisjon.bruk import Bruk, Bruksrapport

DAGER = 30

# Geometry in SVG user units.
ETIKETT_B = 230  # the vendor's name
STOLPE_B = 14
MELLOMROM = 4
RAD_H = 64
STOLPE_MAKS = 44
TOPP = 8
AKSE_H = 22


def periode(idag: dt.date) -> tuple[dt.date, dt.date]:
    """The last DAGER days, today included."""
    return idag - dt.timedelta(days=DAGER - 1), idag


@dataclass(frozen=True, slots=True)
class Stolpe:
    x: float
    y: float
    hoeyde: float
    dag: dt.date
    personer: int
    oppslag: int


@dataclass(frozen=True, slots=True)
class Serie:
    """One vendor's row: its days (all DAGER of them, zeros included) and their bars."""

    orgnr: str
    navn: str
    dager: list[Bruk]
    stolper: list[Stolpe]
    y: float  # the row's baseline

    @property
    def personer(self) -> int:
        return sum(b.personer for b in self.dager)

    @property
    def oppslag(self) -> int:
        return sum(b.oppslag for b in self.dager)


@dataclass(frozen=True, slots=True)
class Diagram:
    fra: dt.date
    til: dt.date
    dager: list[dt.date]
    serier: list[Serie]
    storst: int  # the shared scale's top (persons in one day)
    bredde: float
    hoeyde: float

    @property
    def tomt(self) -> bool:
        return not self.serier


def diagram(rapport: Bruksrapport, navn: dict[str, str]) -> Diagram:
    """The vendors' use in `rapport` (its whole period, DAGER days), vendors by name."""
    antall = (rapport.til - rapport.fra).days + 1
    dager = [rapport.fra + dt.timedelta(days=i) for i in range(antall)]
    per_dag = {d.dag: d.paa_vegne_av for d in rapport.dager}
    leverandoerer = sorted({orgnr for d in rapport.dager for orgnr in d.paa_vegne_av},
                           key=lambda orgnr: (navn.get(orgnr, "~"), orgnr))
    bruk = {
        orgnr: [per_dag.get(dag, {}).get(orgnr, Bruk()) for dag in dager]
        for orgnr in leverandoerer
    }
    storst = max((b.personer for rad in bruk.values() for b in rad), default=0)
    serier = []
    for i, orgnr in enumerate(leverandoerer):
        grunnlinje = TOPP + (i + 1) * RAD_H
        stolper = []
        for j, (dag, b) in enumerate(zip(dager, bruk[orgnr], strict=True)):
            hoeyde = 0.0 if storst == 0 else STOLPE_MAKS * b.personer / storst
            if b.personer and hoeyde < 1:
                hoeyde = 1.0  # any use at all stays visible
            stolper.append(Stolpe(x=ETIKETT_B + j * (STOLPE_B + MELLOMROM),
                                  y=grunnlinje - hoeyde, hoeyde=hoeyde, dag=dag,
                                  personer=b.personer, oppslag=b.oppslag))
        serier.append(Serie(orgnr, navn.get(orgnr, orgnr), bruk[orgnr], stolper, grunnlinje))
    return Diagram(
        fra=rapport.fra, til=rapport.til, dager=dager, serier=serier, storst=storst,
        bredde=ETIKETT_B + len(dager) * (STOLPE_B + MELLOMROM),
        hoeyde=TOPP + len(serier) * RAD_H + AKSE_H,
    )
