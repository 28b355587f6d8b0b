"""Building register entries for tests, with dates relative to the pinned clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dateutil.relativedelta import relativedelta

from app import db
from app.personer import register
from app.personer.models import Person, Postkasseleverandoer, Registerstatus
from app.testdata import seed
from authz.identifikatorer import make_id
from tests.conftest import FIXED_NOW

DIGIPOST = "984661185"
EBOKS = "922020175"
# A real certificate in the stored form (bare base64 of DER), as every way in writes it.
CERT = seed._certificate("digipost.pem")


def months_ago(months: int, days: int = 0) -> dt.datetime:
    return FIXED_NOW - relativedelta(months=months, days=days)


def _id_stream(d_number: bool):
    birth = dt.date(1980, 1, 1)
    while True:
        for individual in range(500):
            number = make_id(birth, individual, d_number=d_number)
            if number is not None:
                yield number
        birth += dt.timedelta(days=1)


_IDS = [n for n, _ in zip(_id_stream(False), range(3000), strict=False)]
_D_IDS = [n for n, _ in zip(_id_stream(True), range(100), strict=False)]


def new_id(n: int, *, d_number: bool = False) -> str:
    """The n-th of a fixed list of distinct valid synthetic ids (D-numbers on request)."""
    return (_D_IDS if d_number else _IDS)[n]


async def provider(orgnr: str = DIGIPOST, navn: str = "Digipost") -> Postkasseleverandoer:
    return await Postkasseleverandoer.create(orgnr=orgnr, navn=navn, sertifikat=CERT)


async def person(
    personidentifikator: str,
    *,
    epost: str | None = "kari@example.no",
    epost_alder: int = 1,
    mobil: str | None = "+4791234567",
    mobil_alder: int = 1,
    **fields: Any,
) -> Person:
    """An AKTIV person whose channels were updated and confirmed `*_alder` months ago."""
    values: dict[str, Any] = {
        "personidentifikator": personidentifikator,
        "status": Registerstatus.AKTIV,
        "reservasjon": False,
        "reservasjon_oppdatert": months_ago(30),
        "spraak": "nb",
        "spraak_oppdatert": months_ago(30),
    }
    if epost:
        values |= {
            "epostadresse": epost,
            "epostadresse_oppdatert": months_ago(epost_alder + 6),
            "epostadresse_sist_verifisert": months_ago(epost_alder),
            "epostadresse_sist_validert": months_ago(epost_alder + 6),
        }
    if mobil:
        values |= {
            "mobiltelefonnummer": mobil,
            "mobiltelefonnummer_oppdatert": months_ago(mobil_alder),
            "mobiltelefonnummer_sist_verifisert": months_ago(mobil_alder, days=3),
            "mobiltelefonnummer_sist_validert": months_ago(mobil_alder),
        }
    values |= fields
    created = await Person.create(**values)
    # As every writer of the register does: the stored duplicate flags of this person and of
    # the others holding its addresses.
    await register.oppdater_duplikater(
        db.connection(),
        epost=[created.epostadresse] if created.epostadresse else [],
        mobil=[created.mobiltelefonnummer] if created.mobiltelefonnummer else [],
        personidentifikatorer=[personidentifikator],
    )
    return created
