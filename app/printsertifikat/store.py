"""Storage of the print provider: each setting a row of its own, the newest handed out, none ever
deleted (who set what, and when, stays answerable). Nothing is cached: a change is handed out
from the next request on, on every instance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.printsertifikat.models import PrintSertifikatRad
from app.printsertifikat.regler import Printsertifikat


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of the print provider: what, and who set it when."""

    printsertifikat: Printsertifikat
    satt: dt.datetime
    satt_av: str


def _setting(rad: PrintSertifikatRad) -> Setting:
    return Setting(Printsertifikat.av(rad.postkasseleverandoer_adresse, rad.x509_sertifikat),
                   rad.satt, rad.satt_av)


async def gjeldende() -> Printsertifikat | None:
    """What is handed out: the newest setting's, or None before the operator has set one."""
    rad = await PrintSertifikatRad.all().order_by("-id").first()
    return None if rad is None else Printsertifikat.av(rad.postkasseleverandoer_adresse,
                                                      rad.x509_sertifikat)


async def historikk() -> list[Setting]:
    """Every setting, newest first."""
    return [_setting(rad) for rad in await PrintSertifikatRad.all().order_by("-id")]


async def sett(ny: Printsertifikat, av: str, naa: dt.datetime) -> bool:
    """`ny` handed out from now on, recorded as set by `av`; False (nothing recorded) when it is
    what is handed out already (`make run` sets the demo provider at every start). Two
    operators setting at once each get their row; the later one is handed out."""
    naavaerende = await gjeldende()
    if naavaerende is not None and (
        naavaerende.postkasseleverandoer_adresse, naavaerende.x509_sertifikat
    ) == (ny.postkasseleverandoer_adresse, ny.x509_sertifikat):
        return False
    await PrintSertifikatRad.create(
        postkasseleverandoer_adresse=ny.postkasseleverandoer_adresse,
        x509_sertifikat=ny.x509_sertifikat, satt=naa, satt_av=av)
    return True
