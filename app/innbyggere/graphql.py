"""GraphQL of a resident's own entry: the `meg` query and the mutations that keep the entry.

Every operation reads: resident's token and scope (its declared permission) -> validation
(app.innbyggere.validering) -> one transaction (app.innbyggere.store). The entry is always the
token's own `pid`: there is no argument naming a person.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, cast

import strawberry

from app.api.context import Info, sti, valgte_felt
from app.api.internals import enum
from app.api.relay import PageInfo
from app.api.tilgang import felt, mutasjon
from app.delegering import store as delegering
from app.delegering.graphql import Organisasjon
from app.errors import BadInput
from app.innbyggere import frister, store, validering
from app.personer.avslag import tilbakeholdt
from app.personer.felt import Kanal, PersonRecord
from app.personer.types import Person
from app.personer.utlevering import Feltavslag, PersonSvar, utlever
from authz.principal import Innbygger
from authz.scopes import HANDLING_SCOPES, Handling, Kategori, manglende_scope_for_handling
from authz.tillatelse import innbygger

enum(
    Kanal, name="Kanal", description="A contact channel.",
    verdier={Kanal.EPOST: "The e-mail address.", Kanal.MOBIL: "The mobile number."},
)
enum(
    validering.Leverandoer,
    name="Postkasseleverandoer",
    description="A digital mailbox provider.",
    verdier={
        validering.Leverandoer.DIGIPOST: "Digipost (Posten Bring, organisation number "
        "984661185).",
        validering.Leverandoer.EBOKS: "e-Boks (organisation number 922020175).",
    },
)
enum(
    Kategori,
    name="Kategori",
    description="What a lookup disclosed.",
    verdier={
        Kategori.GRUNNDATA: "Id, status and reservation (any lookup scope).",
        Kategori.KONTAKTINFORMASJON: "E-mail, mobile, their dates, varslingsstatus and "
        "language (krr:global/kontaktinformasjon.read).",
        Kategori.DIGITAL_POST: "The digital mailbox and its certificate "
        "(krr:global/digitalpost.read).",
    },
)

# The operations' declared permissions: a resident's own token with the handling's scope.
SE_MEG = innbygger(Handling.SE_MEG)
ENDRE_MEG = innbygger(Handling.ENDRE_MEG)
VELGE_SPRAAK = innbygger(Handling.VELGE_SPRAAK)

OPPSLAG_FIRST = 20
OPPSLAG_MAKS = 100
# Person fields withheld from a token without the handling that opens them. The language stays
# with KONTAKTINFORMASJON's other fields in a lookup, but here spraak.write opens it too.
_TILBAKEHOLDT = {
    Handling.SE_MEG: ("kontaktinformasjon", "varslingsstatus"),
    Handling.SE_MIN_POSTKASSE: ("digitalPost", "sertifikat"),
}


# --- types ---------------------------------------------------------------------------------


@strawberry.type(description="One lookup of the resident by an organisation.")
class Oppslag:
    tidspunkt: dt.datetime = strawberry.field(description="When the lookup was made.")
    organisasjon: Organisasjon = strawberry.field(
        description="Who made the lookup: the vendor when one acted for a public body."
    )
    paa_vegne_av: Organisasjon | None = strawberry.field(
        description="The public body a vendor looked up on behalf of; null when it looked up "
        "itself."
    )
    kategorier: list[Kategori] = strawberry.field(description="What was disclosed.")


@strawberry.type(description="One lookup in a page of OppslagConnection.")
class OppslagEdge:
    node: Oppslag = strawberry.field(description="The lookup.")
    cursor: str = strawberry.field(description="Pass as `after` for the lookups after this one.")


@strawberry.type(description="Who looked the resident up, newest first.")
class OppslagConnection:
    edges: list[OppslagEdge] = strawberry.field(description="This page's lookups.")
    page_info: PageInfo = strawberry.field(description="Where this page lies.")


class Oppfoering:
    """The resident's entry, read from the register at most once per answer, and only when a
    selected field shows it: "who looked me up" needs none of it, and reading it was a round
    trip of its own on every first page."""

    __slots__ = ("_lesing", "pid")

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self._lesing: asyncio.Future[PersonRecord | None] | None = None

    async def les(self) -> PersonRecord | None:
        """The entry, read by whichever field asks first: sibling fields resolve concurrently,
        and the others await the same read."""
        if self._lesing is None:
            self._lesing = asyncio.ensure_future(store.hent(self.pid))
        return await self._lesing


# The fields of `Meg` that show the entry (GraphQL names): `meg` reads it up front when one of
# them is selected, so that a failure to read it stays the error of `meg` itself.
OPPFOERINGSFELT = frozenset({"maaBekrefte", "utloperSnart", "utlopt", "person"})


@strawberry.type(description="The logged-in resident's own entry.")
class Meg:
    pid: strawberry.Private[str]
    oppfoering: strawberry.Private[Oppfoering]
    naa: strawberry.Private[dt.datetime]
    se_kontakt: strawberry.Private[bool]  # false only for a spraak.write-only token's answer
    se_post: strawberry.Private[bool]

    @strawberry.field(
        description="True when the entry has contact information and it was last confirmed "
        "(bekreftKontaktinformasjon) over three months ago, or never."
    )  # type: ignore[untyped-decorator]  # strawberry types its decorator Any
    async def maa_bekrefte(self) -> bool:
        return frister.maa_bekrefte(await self.oppfoering.les(), self.naa)

    @strawberry.field(
        description="Channels that pass 18 months since last updated or confirmed within two "
        "months; confirm them to keep receiving notices there."
    )  # type: ignore[untyped-decorator]  # strawberry types its decorator Any
    async def utloper_snart(self) -> list[Kanal]:
        return frister.utloper_snart(await self.oppfoering.les(), self.naa)

    @strawberry.field(
        description="Channels past 18 months: public bodies may not send notices there "
        "(eForvaltningsforskriften § 32) until updated or confirmed."
    )  # type: ignore[untyped-decorator]  # strawberry types its decorator Any
    async def utlopt(self) -> list[Kanal]:
        return frister.utlopt(await self.oppfoering.les(), self.naa)

    @strawberry.field(
        description=(
            "The whole entry, never § 32-filtered: contact information however old. The "
            "mailbox fields (digitalPost, sertifikat) need scope krr:user/digitalpost.read; "
            "kontaktinformasjon and varslingsstatus need krr:user/kontaktinformasjon.read or "
            ".write (in velgSpraak's answer to a token with only krr:user/spraak.write)."
        )
    )  # type: ignore[untyped-decorator]  # strawberry types its decorator Any
    async def person(self, info: Info) -> Person:
        apne = {Handling.SE_MEG: self.se_kontakt, Handling.SE_MIN_POSTKASSE: self.se_post}
        _avslaa(info, [h for h, aapen in apne.items() if not aapen])
        svar = _person(self.pid, await self.oppfoering.les(), self.naa, self.se_post)
        if not self.se_kontakt:
            svar.kontaktinformasjon = None
            svar.varslingsstatus = None
        return cast(Person, svar)  # utlevering's answer; Person reads the same attributes

    @felt(SE_MEG, description="Who looked me up, newest first, from the audit log.")
    async def oppslag(
        self,
        first: Annotated[int | None, strawberry.argument(
            description=f"Lookups per page, 1 to {OPPSLAG_MAKS}; null for {OPPSLAG_FIRST}."
        )] = OPPSLAG_FIRST,
        after: Annotated[str | None, strawberry.argument(
            description="An edge's cursor (or pageInfo.endCursor): the lookups after it; null "
            "for the newest."
        )] = None,
    ) -> OppslagConnection:
        antall = OPPSLAG_FIRST if first is None else first
        if not 1 <= antall <= OPPSLAG_MAKS:
            raise BadInput(f"first must be between 1 and {OPPSLAG_MAKS}")
        before = _fra_cursor(after) if after is not None else None
        if before is None:  # a first page: nothing comes before it
            rader, foer = await store.oppslag(self.pid, limit=antall + 1, before=None), False
        else:  # both need only the cursor: one round trip's wait instead of two
            rader, foer = await asyncio.gather(
                store.oppslag(self.pid, limit=antall + 1, before=before),
                store.oppslag_foer(self.pid, before),
            )
        side = rader[:antall]
        navn = await delegering.navn(
            {r.consumer for r in side} | {r.supplier for r in side if r.supplier}
        )

        def org(orgnr: str) -> Organisasjon:
            return Organisasjon(orgnr=orgnr, navn=navn.get(orgnr))

        edges = [
            OppslagEdge(
                node=Oppslag(
                    tidspunkt=r.tidspunkt,
                    organisasjon=org(r.supplier or r.consumer),
                    paa_vegne_av=org(r.consumer) if r.supplier else None,
                    kategorier=list(r.kategorier),
                ),
                cursor=_cursor(r.cursor),
            )
            for r in side
        ]
        return OppslagConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rader) > antall,
                has_previous_page=foer,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type(description="Something the resident should know about a change that went through.")
class Advarsel:
    kode: str = strawberry.field(description="Stable code, e.g. DUPLIKAT_MOBIL, PAPIRPOST.")
    melding: str = strawberry.field(description="For the resident, in Norwegian.")


@strawberry.type(description="The entry after a change, and what the resident should know.")
class Endringsresultat:
    meg: Meg = strawberry.field(description="The resident's entry as it is after the change.")
    advarsler: list[Advarsel] = strawberry.field(
        description="Warnings about the change (empty when there are none)."
    )


# --- helpers -------------------------------------------------------------------------------


def _person(
    pid: str, record: PersonRecord | None, naa: dt.datetime, se_post: bool
) -> PersonSvar:
    kategorier = frozenset({Kategori.GRUNNDATA, Kategori.KONTAKTINFORMASJON})
    if se_post:
        kategorier |= {Kategori.DIGITAL_POST}
    return utlever(pid, record, kategorier=kategorier, filtrer_paa_varsling=False, now=naa,
                   egen_oppfoering=True)


def _avslaa(info: Info, stengt: list[Handling]) -> None:
    """A FORBIDDEN error per selected field the token may not see, beside the data (as
    `personer` does)."""
    if not stengt:
        return
    avslag = [
        Feltavslag(felt_, " or ".join(HANDLING_SCOPES[handling]))
        for handling in stengt
        for felt_ in _TILBAKEHOLDT[handling]
    ]
    info.context.errors.extend(tilbakeholdt(avslag, valgte_felt(info), sti(info)))


def _cursor(keyset: tuple[dt.datetime, int]) -> str:
    tidspunkt, rad = keyset
    tekst = f"{tidspunkt.astimezone(dt.UTC).isoformat()}|{rad}"
    return base64.urlsafe_b64encode(tekst.encode()).decode()


def _fra_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        tidspunkt, _, rad = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = dt.datetime.fromisoformat(tidspunkt)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(rad)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadInput(
            "after is not a cursor from this connection (pass an edge's cursor or "
            "pageInfo.endCursor as it was given)"
        ) from exc


async def _meg(beboer: Innbygger, naa: dt.datetime, *, les: bool = True) -> Meg:
    """The resident's `Meg`; with `les`, the entry read now (else when a field asks for it)."""
    oppfoering = Oppfoering(beboer.pid)
    if les:
        await oppfoering.les()
    return Meg(
        pid=beboer.pid,
        oppfoering=oppfoering,
        naa=naa,
        se_kontakt=manglende_scope_for_handling(beboer, Handling.SE_MEG) is None,
        se_post=manglende_scope_for_handling(beboer, Handling.SE_MIN_POSTKASSE) is None,
    )


Endre = Callable[[str, dt.datetime], Awaitable[list[store.Advarsel]]]


async def _endre(info: Info, endre: Endre) -> Endringsresultat:
    """The change (validation inside `endre`), then the entry as it now is."""
    foresporsel = info.context.foresporsel
    beboer = foresporsel.innbygger
    advarsler = await endre(beboer.pid, foresporsel.now)
    return Endringsresultat(
        meg=await _meg(beboer, foresporsel.now),
        advarsler=[Advarsel(kode=a.kode, melding=a.melding) for a in advarsler],
    )


# --- operations ----------------------------------------------------------------------------


@strawberry.type
class MegQuery:
    @felt(
        SE_MEG,
        description="The logged-in resident's own entry (an ID-porten token with "
        "krr:user/kontaktinformasjon.read). Absent from the register: status IKKE_REGISTRERT.",
    )
    async def meg(self, info: Info) -> Meg:
        foresporsel = info.context.foresporsel
        les = not OPPFOERINGSFELT.isdisjoint(valgte_felt(info))
        return await _meg(foresporsel.innbygger, foresporsel.now, les=les)


@strawberry.type
class MegMutation:
    @mutasjon(
        ENDRE_MEG,
        description=(
            "Register or change e-mail and/or mobile. Each new address is marked updated now and "
            "not yet validated, and gets a one-time code (verifiserKode). Creates the entry if "
            "there is none; a SLETTET entry becomes AKTIV. An address another person also has "
            "is a warning (DUPLIKAT_EPOST, DUPLIKAT_MOBIL), not a refusal. Mobile: +47 assumed "
            "without a country code, stored as E.164. E-mail: international domains accepted, "
            "the part before @ must be ASCII."
        ),
    )
    async def oppdater_kontaktinformasjon(
        self,
        info: Info,
        epostadresse: Annotated[str | None, strawberry.argument(
            description="The new e-mail address; null leaves it as it is."
        )] = None,
        mobiltelefonnummer: Annotated[str | None, strawberry.argument(
            description="The new mobile number; null leaves it as it is."
        )] = None,
    ) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            nye = validering.kontaktinformasjon(epostadresse, mobiltelefonnummer)
            return await store.oppdater_kontaktinformasjon(pid, nye, naa)

        return await _endre(info, endre)

    @mutasjon(ENDRE_MEG, description="Send a new one-time code to the channel's address.")
    async def send_kode(
        self, info: Info,
        kanal: Annotated[Kanal, strawberry.argument(description="The channel to send it to.")],
    ) -> Endringsresultat:
        return await _endre(info, lambda pid, naa: store.send_kode(pid, kanal, naa))

    @mutasjon(
        ENDRE_MEG,
        description="Prove a channel with the six-digit code sent to it (valid 10 minutes, "
        "five wrong tries and it is void); sets the channel's validated date.",
    )
    async def verifiser_kode(
        self,
        info: Info,
        kanal: Annotated[Kanal, strawberry.argument(description="The channel the code went to.")],
        kode: Annotated[str, strawberry.argument(description="The six digits received.")],
    ) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            return await store.verifiser_kode(pid, kanal, validering.kode(kode), naa)

        return await _endre(info, endre)

    @mutasjon(
        ENDRE_MEG,
        description="Confirm that the registered contact information is right: sets the "
        "confirmed date of each present channel, restarting its 18-month clock.",
    )
    async def bekreft_kontaktinformasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, store.bekreft)

    @mutasjon(
        ENDRE_MEG,
        description="Reserve against digital communication from public bodies (letters come on "
        "paper). Creates the entry if there is none.",
    )
    async def reserver(self, info: Info) -> Endringsresultat:
        return await _endre(info, store.reserver)

    @mutasjon(ENDRE_MEG, description="Lift the reservation against digital communication.")
    async def opphev_reservasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, store.opphev_reservasjon)

    @mutasjon(
        VELGE_SPRAAK,
        description="The language letters should come in: nb, nn, en or se (scope "
        "krr:user/spraak.write or krr:user/kontaktinformasjon.write).",
    )
    async def velg_spraak(
        self, info: Info,
        spraak: Annotated[str, strawberry.argument(description="The language: nb, nn, en or se.")],
    ) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            return await store.velg_spraak(pid, validering.spraak(spraak), naa)

        return await _endre(info, endre)

    @mutasjon(
        ENDRE_MEG,
        description="Choose a digital mailbox at DIGIPOST or EBOKS (the provider must be in "
        "the register). Creates the entry if there is none.",
    )
    async def velg_digital_postkasse(
        self,
        info: Info,
        leverandoer: Annotated[validering.Leverandoer, strawberry.argument(
            description="The provider to have the mailbox at."
        )],
    ) -> Endringsresultat:
        return await _endre(info, lambda pid, naa: store.velg_postkasse(pid, leverandoer, naa))

    @mutasjon(ENDRE_MEG, description="Remove the digital mailbox.")
    async def fjern_digital_postkasse(self, info: Info) -> Endringsresultat:
        return await _endre(info, store.fjern_postkasse)

    @mutasjon(
        ENDRE_MEG,
        description="Delete the contact information and mailbox: the entry becomes SLETTET and "
        "letters come on paper (advarsel PAPIRPOST). Reservation and language stay.",
    )
    async def slett_kontaktinformasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, store.slett)
