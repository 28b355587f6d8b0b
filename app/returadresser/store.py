"""Storage of the return addresses: each in its one spelling (app.returadresser.regler), with
one owner (a unique column), so that an address always says which organisation the resident
goes back to. Removing deletes the row. Nothing is cached: a removal bites on the next request,
on every instance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import BadInput
from app.returadresser import regler
from app.returadresser.models import Returadresse

ANNEN_EIER = "ANNEN_EIER"  # the address is registered for another organisation
IKKE_REGISTRERT = "IKKE_REGISTRERT"  # removing an address that is not registered for it


@dataclass(frozen=True, slots=True)
class Rad:
    """One registered return address."""

    orgnr: str
    adresse: str
    lagt_til: dt.datetime
    lagt_til_av: str | None


class AnnenEier(BadInput):
    """The address belongs to another organisation already; nothing was done."""

    def __init__(self, adresse: str, eier: str) -> None:
        super().__init__(f"{adresse} is registered for {eier} already (an address has one "
                         "organisation; remove it there first)", reason=ANNEN_EIER)


class IkkeRegistrert(BadInput):
    """Removing an address the organisation has not registered; nothing was done."""

    def __init__(self, orgnr: str, adresse: str) -> None:
        super().__init__(f"{adresse} is not a return address registered for {orgnr}",
                         reason=IKKE_REGISTRERT)


def _rad(row: Returadresse) -> Rad:
    return Rad(row.orgnr, row.adresse, row.lagt_til, row.lagt_til_av)


async def _registrert(adresse: str) -> Returadresse | None:
    """The row of `adresse` (in its one spelling), whoever it belongs to."""
    return await Returadresse.get_or_none(adresse=adresse)


async def legg_til(orgnr: str, adresse: str, av: str | None, naa: dt.datetime, *, prod: bool
                   ) -> tuple[Rad, bool]:
    """Register `adresse` for `orgnr` (UgyldigReturadresse when the policy refuses either):
    the row, and whether it is new; one there already is returned as it is (the original
    adder stays on record), one of another organisation's is AnnenEier.

    Two adds at the same moment both pass the first read; the unique column lets one insert
    through and the other returns that row (or AnnenEier)."""
    lest = regler.registrerbar(orgnr, adresse, prod=prod)
    eksisterende = await _registrert(lest.tekst)
    if eksisterende is None:
        try:
            async with in_transaction():  # a savepoint: a failed insert spoils nothing around it
                row = await Returadresse.create(orgnr=orgnr, adresse=lest.tekst,
                                                opphav=lest.opphav, lagt_til=naa, lagt_til_av=av)
            return _rad(row), True
        except IntegrityError:  # a concurrent add came first
            eksisterende = await _registrert(lest.tekst)
            if eksisterende is None:
                raise
    if eksisterende.orgnr != orgnr:
        raise AnnenEier(lest.tekst, eksisterende.orgnr)
    return _rad(eksisterende), False


async def fjern(orgnr: str, adresse: str) -> Rad:
    """Remove `orgnr`'s registered `adresse`, written in any spelling of it; IkkeRegistrert
    when it has none such. Read outside prod's policy, so that an address registered in
    development (http://localhost) can be removed anywhere."""
    lest = regler.registrerbar(orgnr, adresse, prod=False)
    async with in_transaction():
        row = await Returadresse.get_or_none(orgnr=orgnr, adresse=lest.tekst)
        if row is None or not await Returadresse.filter(id=row.id).delete():
            raise IkkeRegistrert(orgnr, lest.tekst)
    return _rad(row)


async def liste(orgnr: str | None = None) -> list[Rad]:
    """The registered addresses, of one organisation or all, by organisation and address."""
    if orgnr is not None:
        regler.valider_orgnr(orgnr)
    rows = Returadresse.all() if orgnr is None else Returadresse.filter(orgnr=orgnr)
    return [_rad(row) for row in await rows.order_by("orgnr", "adresse")]


async def vurder(onsket: object, *, prod: bool) -> regler.Tillatt | regler.Avvist:
    """app.returadresser.regler.vurder against the registered addresses of the asked-for
    address's origin (one indexed read)."""
    try:
        opphav = regler.les(onsket, prod=prod).opphav
    except regler.UgyldigReturadresse as exc:
        return regler.Avvist(regler.Grunn(exc.grunn))
    rows = await Returadresse.filter(opphav=opphav)
    return regler.vurder(onsket, [regler.Registrert(r.orgnr, r.adresse) for r in rows],
                         prod=prod)
