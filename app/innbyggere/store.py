"""Writing a resident's own entry: each change is one transaction that locks the person row.

Every change: open the writers' transaction (app.personer.endringsnummer.skrivetransaksjon:
the counter row first, the lock order of every writer of persons), lock the row, decide from
what is stored now, write only the columns that change and a new change number in the same
transaction. Two concurrent changes of one entry therefore run one after the other and the
second sees the first: neither is lost. A change that changes nothing takes no number.
Slow work (hashing a one-time code) is done before the transaction, not while others wait.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.innbyggere.validering import Leverandoer, UgyldigEndring
from app.meldinger import engangskoder
from app.personer import register
from app.personer.endringsnummer import neste_endrings_id, skrivetransaksjon
from app.personer.felt import ADRESSE, Kanal, PersonRecord, Registerstatus
from app.personer.models import Person, Postkasseleverandoer
from app.revisjon import store as revisjon


@dataclass(frozen=True, slots=True)
class Advarsel:
    """Something the resident should know about a change that went through (Norwegian text)."""

    kode: str
    melding: str


class UgyldigKode(UgyldigEndring):
    """A one-time code was refused (wrong, expired, used up) or not issued (too many asked
    for); `grunn` is app.meldinger.engangskoder's reason, the message is Norwegian, for the
    resident."""

    def __init__(self, feil: engangskoder.KodeFeil) -> None:
        super().__init__(feil.melding, reason=feil.kode.value)
        self.grunn = feil.kode.value


@asynccontextmanager
async def _kodefeil() -> AsyncIterator[None]:
    try:
        yield
    except engangskoder.KodeFeil as exc:
        raise UgyldigKode(exc) from exc


_KANALNAVN = {Kanal.EPOST: "e-postadresse", Kanal.MOBIL: "mobiltelefonnummer"}

PAPIRPOST = Advarsel(
    "PAPIRPOST",
    "Kontaktinformasjonen din er slettet. Brev fra det offentlige kommer nå på papir i posten.",
)
RESERVERT = Advarsel(
    "RESERVERT",
    "Du har reservert deg mot digital kommunikasjon. Brev fra det offentlige kommer nå på "
    "papir i posten.",
)
RESERVERT_POSTKASSE = Advarsel(
    "RESERVERT",
    "Du er reservert mot digital kommunikasjon, så brev fra det offentlige kommer fortsatt på "
    "papir selv om du har valgt digital postkasse. Opphev reservasjonen for å få dem digitalt.",
)


def _duplikat(kanal: Kanal, adresse: str) -> Advarsel:
    if kanal is Kanal.EPOST:
        return Advarsel(
            "DUPLIKAT_EPOST",
            f"E-postadressen {adresse} er også registrert på andre. Sjekk at adressen er din "
            "egen: varsler til deg kan bli lest av dem som deler den.",
        )
    return Advarsel(
        "DUPLIKAT_MOBIL",
        f"Mobilnummeret {adresse} er også registrert på andre. Sjekk at nummeret er ditt eget: "
        "varsler til deg kan bli lest av dem som deler det.",
    )


@dataclass(slots=True)
class _Endring:
    """The locked row, and the columns this change writes."""

    conn: BaseDBAsyncClient
    person: Person
    ny: bool  # inserted by this change: it must be written (and numbered) whatever else happens
    felter: dict[str, Any] = field(default_factory=dict)

    def sett(self, **felter: Any) -> None:
        for navn, verdi in felter.items():
            self.felter[navn] = verdi
            setattr(self.person, navn, verdi)

    def aktiver(self) -> None:
        """Adding to an entry makes a SLETTET (or just created) one AKTIV."""
        if self.ny or self.person.status is not Registerstatus.AKTIV:
            self.sett(status=Registerstatus.AKTIV)


async def _laas(conn: BaseDBAsyncClient, pid: str) -> Person | None:
    return await Person.filter(personidentifikator=pid).using_db(conn).select_for_update().first()


@asynccontextmanager
async def _endring(pid: str, *, opprett: bool) -> AsyncIterator[_Endring | None]:
    """One change of `pid`'s entry; yields None when there is no entry and `opprett` is off.

    With `opprett`, a missing entry is inserted first (in a savepoint: a concurrent insert of
    the same id wins, and this one locks that row instead).
    """
    async with skrivetransaksjon() as conn:
        person = await _laas(conn, pid)
        ny = False
        if person is None and opprett:
            try:
                async with in_transaction() as savepoint:
                    await Person.create(
                        using_db=savepoint, personidentifikator=pid,
                        status=Registerstatus.AKTIV, reservasjon=False, endrings_id=0,
                    )
                ny = True
            except IntegrityError:
                pass
            person = await _laas(conn, pid)
        if person is None:
            yield None
            return
        foer = _adresser(person)
        endring = _Endring(conn, person, ny)
        yield endring
        if endring.felter:
            # Others holding the old or new addresses see their duplicate flags change.
            delere = []
            if _ADRESSEFELT & endring.felter.keys():
                etter = _adresser(person)
                delere = await register.laas_andre_innehavere(
                    conn, epost=foer[0] | etter[0], mobil=foer[1] | etter[1], unntatt=[pid]
                )
            endring.felter["endrings_id"] = await neste_endrings_id(conn)
            await Person.filter(personidentifikator=pid).using_db(conn).update(**endring.felter)
            if _ADRESSEFELT & endring.felter.keys():
                await register.oppdater_duplikater(
                    conn, epost=foer[0] | etter[0], mobil=foer[1] | etter[1],
                    personidentifikatorer=[pid],
                )
            await register.renummerer(conn, delere)


_ADRESSEFELT = frozenset({"epostadresse", "mobiltelefonnummer", "status"})


def _adresser(person: Person) -> tuple[set[str], set[str]]:
    return (
        {person.epostadresse} if person.epostadresse else set(),
        {person.mobiltelefonnummer} if person.mobiltelefonnummer else set(),
    )


def _ingen_oppfoering() -> UgyldigEndring:
    return UgyldigEndring("You have no entry in the register; register contact information first")


def _adresse(endring: _Endring, kanal: Kanal) -> str:
    """The channel's stored address, or a refusal naming the channel that is missing."""
    adresse: str | None = getattr(endring.person, ADRESSE[kanal])
    if endring.person.status is not Registerstatus.AKTIV or not adresse:
        raise UgyldigEndring(f"You have no {_KANALNAVN[kanal]} registered ({kanal.value})")
    return adresse


# --- reading -------------------------------------------------------------------------------


async def hent(pid: str) -> PersonRecord | None:
    """The whole entry as the lookup reads it (duplicate flags included)."""
    return await register.hent_person(pid)


async def oppslag(
    pid: str, *, limit: int, before: tuple[dt.datetime, int] | None
) -> list[revisjon.OppslagAvPerson]:
    """Who looked the resident up, newest first (the audit log's keyset pages)."""
    return await revisjon.oppslag_av_person(pid, limit=limit, before=before)


async def oppslag_foer(pid: str, after: tuple[dt.datetime, int]) -> bool:
    """Whether lookups come before a page that starts after the cursor `after` (newer ones, or
    the cursor's own)."""
    return await revisjon.oppslag_av_person_fra(pid, after)


# --- changes -------------------------------------------------------------------------------


async def oppdater_kontaktinformasjon(
    pid: str, nye: dict[Kanal, str], naa: dt.datetime
) -> list[Advarsel]:
    """Set the given channels: updated and confirmed now (the resident states the address is
    right), not yet validated, a code sent to each new address.

    An address equal to the stored one is left as it is (no new code; sendKode resends).
    Another active person with the same address is a warning, not a refusal: the duplicate
    flags the change leaves on the entry say so.
    """
    koder = dict(zip(nye, await asyncio.gather(*(engangskoder.lag_kode() for _ in nye)),
                     strict=True))
    async with _kodefeil(), _endring(pid, opprett=True) as endring:
        assert endring is not None
        slettet = endring.person.status is not Registerstatus.AKTIV
        endring.aktiver()
        for kanal, adresse in nye.items():
            kolonne = ADRESSE[kanal]
            if not slettet and getattr(endring.person, kolonne) == adresse:
                continue
            endring.sett(**{
                kolonne: adresse,
                f"{kolonne}_oppdatert": naa,
                f"{kolonne}_sist_verifisert": naa,
                f"{kolonne}_sist_validert": None,
            })
            await engangskoder.opprett_kode(
                endring.conn, personidentifikator=pid, kanal=kanal, adresse=adresse, naa=naa,
                ny=koder[kanal],
            )
    record = await hent(pid)
    assert record is not None  # created above if missing
    return [
        _duplikat(kanal, adresse) for kanal, adresse in nye.items()
        if getattr(record, f"{ADRESSE[kanal]}_duplisert")
    ]


async def send_kode(pid: str, kanal: Kanal, naa: dt.datetime) -> list[Advarsel]:
    """A new one-time code to the channel's stored address (the entry itself is unchanged)."""
    ny = await engangskoder.lag_kode()
    async with _kodefeil(), _endring(pid, opprett=False) as endring:
        if endring is None:
            raise _ingen_oppfoering()
        adresse = _adresse(endring, kanal)
        await engangskoder.opprett_kode(
            endring.conn, personidentifikator=pid, kanal=kanal, adresse=adresse, naa=naa, ny=ny
        )
    return []


async def verifiser_kode(pid: str, kanal: Kanal, kode: str, naa: dt.datetime) -> list[Advarsel]:
    """A right code marks the channel validated now. A wrong one is refused, and the failed try
    is committed (so five wrong tries void the code even though each request fails)."""
    feil: engangskoder.KodeFeil | None = None
    forhaand = await engangskoder.sjekk_paa_forhaand(
        personidentifikator=pid, kanal=kanal, kode=kode, naa=naa
    )
    async with _endring(pid, opprett=False) as endring:
        if endring is None:
            raise _ingen_oppfoering()
        adresse = _adresse(endring, kanal)
        try:
            await engangskoder.verifiser_kode(
                endring.conn, personidentifikator=pid, kanal=kanal, kode=kode,
                adresse=adresse, naa=naa, forhaand=forhaand,
            )
        except engangskoder.KodeFeil as exc:
            feil = exc
        else:
            endring.sett(**{f"{ADRESSE[kanal]}_sist_validert": naa})
    if feil is not None:
        raise UgyldigKode(feil) from feil
    return []


async def bekreft(pid: str, naa: dt.datetime) -> list[Advarsel]:
    """The resident confirms the present channels are right: restarts their 18-month clock."""
    async with _endring(pid, opprett=False) as endring:
        if endring is None:
            raise _ingen_oppfoering()
        present = [
            k for k in Kanal
            if endring.person.status is Registerstatus.AKTIV
            and getattr(endring.person, ADRESSE[k])
        ]
        if not present:
            raise UgyldigEndring("You have no contact information registered to confirm")
        for kanal in present:
            endring.sett(**{f"{ADRESSE[kanal]}_sist_verifisert": naa})
    return []


async def reserver(pid: str, naa: dt.datetime) -> list[Advarsel]:
    """Reserve against digital communication (creating the entry when there is none)."""
    async with _endring(pid, opprett=True) as endring:
        assert endring is not None
        endring.aktiver()
        if not endring.person.reservasjon:
            endring.sett(reservasjon=True, reservasjonstidspunkt=naa, reservasjon_oppdatert=naa)
    return [RESERVERT]


async def opphev_reservasjon(pid: str, naa: dt.datetime) -> list[Advarsel]:
    """Lift the reservation; without one there is nothing to change."""
    async with _endring(pid, opprett=False) as endring:
        if endring is not None and endring.person.reservasjon:
            endring.sett(reservasjon=False, reservasjonstidspunkt=None, reservasjon_oppdatert=naa)
    return []


async def velg_spraak(pid: str, spraak: str, naa: dt.datetime) -> list[Advarsel]:
    """The language letters should come in (creating the entry when there is none)."""
    async with _endring(pid, opprett=True) as endring:
        assert endring is not None
        endring.aktiver()
        if endring.person.spraak != spraak:
            endring.sett(spraak=spraak, spraak_oppdatert=naa)
    return []


async def velg_postkasse(pid: str, leverandoer: Leverandoer, naa: dt.datetime) -> list[Advarsel]:
    """Choose a digital mailbox; the provider must be in the register (it holds the
    certificate senders encrypt with)."""
    async with _endring(pid, opprett=True) as endring:
        assert endring is not None
        finnes = (
            await Postkasseleverandoer.filter(orgnr=leverandoer.orgnr)
            .using_db(endring.conn)
            .exists()
        )
        if not finnes:
            raise UgyldigEndring(
                f"{leverandoer.visningsnavn} ({leverandoer.orgnr}) is not a mailbox provider in "
                "this register, so no mailbox can be chosen there"
            )
        endring.aktiver()
        adresse = leverandoer.postkasseadresse(pid)
        if (
            endring.person.postkasseadresse != adresse
            or getattr(endring.person, "postkasseleverandoer_id", None) != leverandoer.orgnr
        ):
            endring.sett(postkasseadresse=adresse, postkasseleverandoer_id=leverandoer.orgnr)
        reservert = endring.person.reservasjon
    return [RESERVERT_POSTKASSE] if reservert else []


async def fjern_postkasse(pid: str, naa: dt.datetime) -> list[Advarsel]:
    """Remove the digital mailbox; without one there is nothing to change."""
    async with _endring(pid, opprett=False) as endring:
        if endring is not None and endring.person.postkasseadresse:
            endring.sett(postkasseadresse=None, postkasseleverandoer_id=None)
    return []


_SLETTET_FELTER: dict[str, Any] = {
    "epostadresse": None,
    "epostadresse_oppdatert": None,
    "epostadresse_sist_verifisert": None,
    "epostadresse_sist_validert": None,
    "mobiltelefonnummer": None,
    "mobiltelefonnummer_oppdatert": None,
    "mobiltelefonnummer_sist_verifisert": None,
    "mobiltelefonnummer_sist_validert": None,
    "postkasseadresse": None,
    "postkasseleverandoer_id": None,
}


async def slett(pid: str, naa: dt.datetime) -> list[Advarsel]:
    """Become SLETTET: contact information and mailbox removed. Reservation and language stay
    (they are choices, not contact information); letters now come on paper."""
    async with _endring(pid, opprett=False) as endring:
        if endring is not None and (
            endring.person.status is not Registerstatus.SLETTET
            or any(getattr(endring.person, f) is not None for f in _SLETTET_FELTER)
        ):
            endring.sett(status=Registerstatus.SLETTET, **_SLETTET_FELTER)
    return [PAPIRPOST]
