"""A person's stored fields, declared once.

`PersonRecord` is the declaration: each field's type and, in its annotation, what the register
needs to know about it. Everything that lists stored fields is derived from it: the columns the
batch fetch reads (app.personer.register) and how each is converted per database, the columns
the seed writes, the parts of an entry that move together when a person gets a new id
(endreIdentifikator) and the channels § 32 judges. The answer's names (REST, CSV) are the same
names (app.personer.utlevering keeps them so; a test holds the two together).

Adding a field: declare it here, add the column to the table (app.personer.models and a
migration), decide what a lookup discloses of it (app.personer.utlevering, the GraphQL type in
app.personer.types, its category in authz.scopes if it is a new top-level field), and give the
seed a value for it. README "Code map" lists the steps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, NamedTuple, get_args, get_type_hints


class Registerstatus(StrEnum):
    """Stored status. IKKE_REGISTRERT is never stored: it is the absence of a row."""

    AKTIV = "AKTIV"
    SLETTET = "SLETTET"


# The languages of letters an entry can hold (ISO 639-1; se is Northern Sami).
SPRAAK = ("nb", "nn", "en", "se")


class Feltgruppe(StrEnum):
    """Parts of an entry that move together when a person gets a new id (endreIdentifikator),
    each but the mailbox with the date that says which side's value is newer."""

    EPOST = "EPOST"
    MOBIL = "MOBIL"
    RESERVASJON = "RESERVASJON"
    SPRAAK = "SPRAAK"
    POSTKASSE = "POSTKASSE"


@dataclass(frozen=True, slots=True)
class Felt:
    """What the register knows about a stored field beyond its type."""

    gruppe: Feltgruppe | None = None
    # The row it is read from: "p", the person; "l", the mailbox provider (the certificate,
    # which every mailbox of a provider shares).
    tabell: str = "p"
    # Kept by the register itself from other rows (duplicate flags): never written directly.
    avledet: bool = False
    # Decides which side is newer when the group moves (endreIdentifikator).
    gruppedato: bool = False
    # The ORM attribute, where it differs from the column (a foreign key's).
    orm: str | None = None


_GRUNN = Felt()
_EPOST, _MOBIL = Felt(Feltgruppe.EPOST), Felt(Feltgruppe.MOBIL)
_EPOST_DATO = Felt(Feltgruppe.EPOST, gruppedato=True)
_MOBIL_DATO = Felt(Feltgruppe.MOBIL, gruppedato=True)
_RESERVASJON = Felt(Feltgruppe.RESERVASJON)
_SPRAAK = Felt(Feltgruppe.SPRAAK)
_AVLEDET = Felt(avledet=True)


class PersonRecord(NamedTuple):
    """A stored person as read (immutable; a tuple, the cheapest thing to build per row)."""

    personidentifikator: Annotated[str, _GRUNN]
    status: Annotated[Registerstatus, _GRUNN]
    reservasjon: Annotated[bool, _RESERVASJON]
    reservasjonstidspunkt: Annotated[dt.datetime | None, _RESERVASJON]
    reservasjon_oppdatert: Annotated[dt.datetime | None, Felt(Feltgruppe.RESERVASJON,
                                                               gruppedato=True)]
    epostadresse: Annotated[str | None, _EPOST]
    epostadresse_oppdatert: Annotated[dt.datetime | None, _EPOST_DATO]
    epostadresse_sist_verifisert: Annotated[dt.datetime | None, _EPOST]
    epostadresse_sist_validert: Annotated[dt.datetime | None, _EPOST]
    epostadresse_duplisert: Annotated[bool, _AVLEDET]
    mobiltelefonnummer: Annotated[str | None, _MOBIL]
    mobiltelefonnummer_oppdatert: Annotated[dt.datetime | None, _MOBIL_DATO]
    mobiltelefonnummer_sist_verifisert: Annotated[dt.datetime | None, _MOBIL]
    mobiltelefonnummer_sist_validert: Annotated[dt.datetime | None, _MOBIL]
    mobiltelefonnummer_duplisert: Annotated[bool, _AVLEDET]
    postkasseadresse: Annotated[str | None, Felt(Feltgruppe.POSTKASSE)]
    postkasseleverandoeradresse: Annotated[str | None, Felt(Feltgruppe.POSTKASSE,
                                                             orm="postkasseleverandoer_id")]
    sertifikat: Annotated[str | None, Felt(tabell="l")]
    spraak: Annotated[str | None, _SPRAAK]
    spraak_oppdatert: Annotated[dt.datetime | None, Felt(Feltgruppe.SPRAAK, gruppedato=True)]


@dataclass(frozen=True, slots=True)
class Kolonne:
    """One declared field, as the derivations below read it."""

    navn: str
    annotasjon: object  # the type without its metadata, e.g. dt.datetime | None
    felt: Felt

    @property
    def sql(self) -> str:
        """The column in a SELECT over `person p LEFT JOIN postkasseleverandoer l`."""
        return f"{self.felt.tabell}.{self.navn}"

    @property
    def orm(self) -> str:
        return self.felt.orm or self.navn

    def er(self, type_: type) -> bool:
        """Whether values of the field are `type_` (or None)."""
        return type_ in (get_args(self.annotasjon) or (self.annotasjon,))


def _kolonner() -> tuple[Kolonne, ...]:
    hints = get_type_hints(PersonRecord, include_extras=True)
    kolonner = []
    for navn in PersonRecord._fields:
        type_, felt = get_args(hints[navn])
        kolonner.append(Kolonne(navn, type_, felt))
    return tuple(kolonner)


KOLONNER: tuple[Kolonne, ...] = _kolonner()

# What the seed writes to the person row (and the change number after them).
LAGREDE: tuple[str, ...] = tuple(
    k.navn for k in KOLONNER if k.felt.tabell == "p" and not k.felt.avledet
)
# Datetime and yes/no columns (SQLite hands both back as text and integers).
TIDSPUNKTER: frozenset[str] = frozenset(k.navn for k in KOLONNER if k.er(dt.datetime))
JA_NEI: frozenset[str] = frozenset(k.navn for k in KOLONNER if k.er(bool))

# endreIdentifikator: the ORM attributes of each group, and the one that says which is newer.
GRUPPER: dict[Feltgruppe, tuple[str, ...]] = {
    gruppe: tuple(k.orm for k in KOLONNER if k.felt.gruppe is gruppe) for gruppe in Feltgruppe
}
GRUPPEDATO: dict[Feltgruppe, str] = {
    k.felt.gruppe: k.orm for k in KOLONNER if k.felt.gruppedato and k.felt.gruppe is not None
}


class Kanal(StrEnum):
    """A contact channel: what § 32 judges, what a message goes to, what a code proves."""

    EPOST = "EPOST"
    MOBIL = "MOBIL"


# The address column of each channel; its dates are named after it (`<adresse>_oppdatert`...).
ADRESSE: dict[Kanal, str] = {Kanal.EPOST: "epostadresse", Kanal.MOBIL: "mobiltelefonnummer"}
