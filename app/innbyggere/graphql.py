"""GraphQL of a resident's own entry: the `meg` query and the mutations that keep the entry.

Every operation reads: resident's token (Context.innbygger) -> scope (authz.scopes) ->
validation (app.residents.validation) -> one transaction (app.residents.store). The entry is
always the token's own `pid`: there is no argument naming a person.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable

import strawberry

from app.api.context import Context
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, error
from app.api.selection import selected_subfields
from app.delegering import store as delegations_store
from app.delegering.graphql import Organisasjon
from app.innbyggere import frister, store
from app.innbyggere import validering as validation
from app.meldinger.models import Kanal as _Kanal
from app.personer.avslag import tilbakeholdt
from app.personer.oppslag import Avslag, PersonSvar, utlever
from app.personer.register import PersonRecord
from app.personer.types import Person
from authz.principal import Innbygger
from authz.scopes import HANDLING_SCOPES, Handling, manglende_scope_for_handling
from authz.scopes import Kategori as _Kategori

Info = strawberry.Info[Context, None]

Kanal = strawberry.enum(_Kanal, name="Kanal", description="A contact channel.")
Postkasseleverandoer = strawberry.enum(
    validation.Leverandoer,
    name="Postkasseleverandoer",
    description="A digital mailbox provider: Digipost (984661185) or e-Boks (922020175).",
)
Kategori = strawberry.enum(
    _Kategori,
    name="Kategori",
    description=(
        "What a lookup disclosed: GRUNNDATA (id, status, reservation), KONTAKTINFORMASJON, "
        "DIGITAL_POST."
    ),
)

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
    tidspunkt: dt.datetime
    organisasjon: Organisasjon = strawberry.field(
        description="Who made the lookup: the vendor when one acted for a public body."
    )
    paa_vegne_av: Organisasjon | None = strawberry.field(
        description="The public body a vendor looked up on behalf of; null when it looked up "
        "itself."
    )
    kategorier: list[Kategori] = strawberry.field(  # type: ignore[valid-type]
        description="What was disclosed."
    )


@strawberry.type
class OppslagEdge:
    node: Oppslag
    cursor: str = strawberry.field(description="Pass as `after` for the lookups after this one.")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Who looked the resident up, newest first.")
class OppslagConnection:
    edges: list[OppslagEdge]
    page_info: PageInfo


@strawberry.type(description="The logged-in resident's own entry.")
class Meg:
    pid: strawberry.Private[str]
    record: strawberry.Private[PersonRecord | None]
    naa: strawberry.Private[dt.datetime]
    se_kontakt: strawberry.Private[bool]  # false only for a spraak.write-only token's answer
    se_post: strawberry.Private[bool]
    maa_bekrefte: bool = strawberry.field(
        description="True when the entry has contact information and it was last confirmed "
        "(bekreftKontaktinformasjon) over three months ago, or never."
    )
    utloper_snart: list[Kanal] = strawberry.field(  # type: ignore[valid-type]
        description="Channels that pass 18 months since last updated or confirmed within two "
        "months; confirm them to keep receiving notices there."
    )
    utlopt: list[Kanal] = strawberry.field(  # type: ignore[valid-type]
        description="Channels past 18 months: public bodies may not send notices there "
        "(eForvaltningsforskriften § 32) until updated or confirmed."
    )

    @strawberry.field(
        description=(
            "The whole entry, never § 32-filtered: contact information however old. The "
            "mailbox fields (digitalPost, sertifikat) need scope krr:user/digitalpost.read; "
            "kontaktinformasjon and varslingsstatus need krr:user/kontaktinformasjon.read or "
            ".write (in velgSpraak's answer to a token with only krr:user/spraak.write)."
        )
    )
    def person(self, info: Info) -> Person:
        apne = {Handling.SE_MEG: self.se_kontakt, Handling.SE_MIN_POSTKASSE: self.se_post}
        _avslaa(info, [h for h, aapen in apne.items() if not aapen])
        svar = _person(self.pid, self.record, self.naa, self.se_post)
        if not self.se_kontakt:
            svar.kontaktinformasjon = None
            svar.varslingsstatus = None
        return svar  # type: ignore[return-value]

    @strawberry.field(description="Who looked me up, newest first, from the audit log.")
    async def oppslag(
        self, first: int | None = OPPSLAG_FIRST, after: str | None = None
    ) -> OppslagConnection:
        if not self.se_kontakt:
            scopes = " or ".join(HANDLING_SCOPES[Handling.SE_MEG])
            raise error(f"The token lacks scope {scopes}", FORBIDDEN, scope=scopes)
        antall = OPPSLAG_FIRST if first is None else first
        if not 1 <= antall <= OPPSLAG_MAKS:
            raise error(f"first must be between 1 and {OPPSLAG_MAKS}", BAD_USER_INPUT)
        before = _fra_cursor(after) if after is not None else None
        rader = await store.oppslag(self.pid, limit=antall + 1, before=before)
        side = rader[:antall]
        navn = await delegations_store.navn(
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
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type(description="Something the resident should know about a change that went through.")
class Advarsel:
    kode: str = strawberry.field(description="Stable code, e.g. DUPLIKAT_MOBIL, PAPIRPOST.")
    melding: str = strawberry.field(description="For the resident, in Norwegian.")


@strawberry.type(description="The entry after a change, and what the resident should know.")
class Endringsresultat:
    meg: Meg
    advarsler: list[Advarsel]


# --- helpers -------------------------------------------------------------------------------


def _person(
    pid: str, record: PersonRecord | None, naa: dt.datetime, se_post: bool
) -> PersonSvar:
    kategorier = frozenset({_Kategori.GRUNNDATA, _Kategori.KONTAKTINFORMASJON})
    if se_post:
        kategorier |= {_Kategori.DIGITAL_POST}
    return utlever(pid, record, kategorier=kategorier, filtrer_paa_varsling=False, now=naa)


def _avslaa(info: Info, stengt: list[Handling]) -> None:
    """A FORBIDDEN error per selected field the token may not see, beside the data (as
    `personer` does)."""
    if not stengt:
        return
    raw = info._raw_info
    felter = selected_subfields(raw.field_nodes, raw.fragments, raw.variable_values)
    avslag = [
        Avslag(felt, " or ".join(HANDLING_SCOPES[handling]))
        for handling in stengt
        for felt in _TILBAKEHOLDT[handling]
    ]
    info.context.errors.extend(tilbakeholdt(avslag, felter, info.path.as_list()))


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
        raise error(
            "after is not a cursor from this connection (pass an edge's cursor or "
            "pageInfo.endCursor as it was given)",
            BAD_USER_INPUT,
        ) from exc


def _innbygger(info: Info, handling: Handling) -> Innbygger:
    """The logged-in resident, when the token opens `handling`; else FORBIDDEN."""
    innbygger = info.context.innbygger
    mangler = manglende_scope_for_handling(innbygger, handling)
    if mangler is not None:
        raise error(f"The token lacks scope {mangler}", FORBIDDEN, scope=mangler)
    return innbygger


async def _meg(innbygger: Innbygger, naa: dt.datetime) -> Meg:
    record = await store.hent(innbygger.pid)
    return Meg(
        pid=innbygger.pid,
        record=record,
        naa=naa,
        se_kontakt=manglende_scope_for_handling(innbygger, Handling.SE_MEG) is None,
        se_post=manglende_scope_for_handling(innbygger, Handling.SE_MIN_POSTKASSE) is None,
        maa_bekrefte=frister.maa_bekrefte(record, naa),
        utloper_snart=frister.utloper_snart(record, naa),
        utlopt=frister.utlopt(record, naa),
    )


Endre = Callable[[str, dt.datetime], Awaitable[list[store.Advarsel]]]


async def _endre(info: Info, handling: Handling, endre: Endre) -> Endringsresultat:
    """Scope, then the change (validation inside `endre`), then the entry as it now is."""
    innbygger = _innbygger(info, handling)
    naa = info.context.clock()
    try:
        advarsler = await endre(innbygger.pid, naa)
    except store.UgyldigKode as exc:
        raise error(str(exc), BAD_USER_INPUT, reason=exc.grunn) from exc
    except validation.UgyldigEndring as exc:
        raise error(str(exc), BAD_USER_INPUT) from exc
    return Endringsresultat(
        meg=await _meg(innbygger, naa),
        advarsler=[Advarsel(kode=a.kode, melding=a.melding) for a in advarsler],
    )


# --- operations ----------------------------------------------------------------------------


@strawberry.type
class MegQuery:
    @strawberry.field(
        description="The logged-in resident's own entry (an ID-porten token with "
        "krr:user/kontaktinformasjon.read). Absent from the register: status IKKE_REGISTRERT."
    )
    async def meg(self, info: Info) -> Meg:
        innbygger = _innbygger(info, Handling.SE_MEG)
        return await _meg(innbygger, info.context.clock())


@strawberry.type
class MegMutation:
    @strawberry.mutation(
        description=(
            "Register or change e-mail and/or mobile. Each new address is marked updated now and "
            "not yet validated, and gets a one-time code (verifiserKode). Creates the entry if "
            "there is none; a SLETTET entry becomes AKTIV. An address another person also has "
            "is a warning (DUPLIKAT_EPOST, DUPLIKAT_MOBIL), not a refusal. Mobile: +47 assumed "
            "without a country code, stored as E.164. E-mail: international domains accepted, "
            "the part before @ must be ASCII."
        )
    )
    async def oppdater_kontaktinformasjon(
        self,
        info: Info,
        epostadresse: str | None = None,
        mobiltelefonnummer: str | None = None,
    ) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            nye = validation.kontaktinformasjon(epostadresse, mobiltelefonnummer)
            return await store.oppdater_kontaktinformasjon(pid, nye, naa)

        return await _endre(info, Handling.ENDRE_MEG, endre)

    @strawberry.mutation(description="Send a new one-time code to the channel's address.")
    async def send_kode(self, info: Info, kanal: Kanal) -> Endringsresultat:  # type: ignore[valid-type]
        return await _endre(
            info, Handling.ENDRE_MEG, lambda pid, naa: store.send_kode(pid, kanal, naa)
        )

    @strawberry.mutation(
        description="Prove a channel with the six-digit code sent to it (valid 10 minutes, "
        "five wrong tries and it is void); sets the channel's validated date."
    )
    async def verifiser_kode(
        self, info: Info, kanal: Kanal, kode: str  # type: ignore[valid-type]
    ) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            return await store.verifiser_kode(pid, kanal, validation.kode(kode), naa)

        return await _endre(info, Handling.ENDRE_MEG, endre)

    @strawberry.mutation(
        description="Confirm that the registered contact information is right: sets the "
        "confirmed date of each present channel, restarting its 18-month clock."
    )
    async def bekreft_kontaktinformasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, Handling.ENDRE_MEG, store.bekreft)

    @strawberry.mutation(
        description="Reserve against digital communication from public bodies (letters come on "
        "paper). Creates the entry if there is none."
    )
    async def reserver(self, info: Info) -> Endringsresultat:
        return await _endre(info, Handling.ENDRE_MEG, store.reserver)

    @strawberry.mutation(description="Lift the reservation against digital communication.")
    async def opphev_reservasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, Handling.ENDRE_MEG, store.opphev_reservasjon)

    @strawberry.mutation(
        description="The language letters should come in: nb, nn, en or se (scope "
        "krr:user/spraak.write or krr:user/kontaktinformasjon.write)."
    )
    async def velg_spraak(self, info: Info, spraak: str) -> Endringsresultat:
        async def endre(pid: str, naa: dt.datetime) -> list[store.Advarsel]:
            return await store.velg_spraak(pid, validation.spraak(spraak), naa)

        return await _endre(info, Handling.VELGE_SPRAAK, endre)

    @strawberry.mutation(
        description="Choose a digital mailbox at DIGIPOST or EBOKS (the provider must be in "
        "the register). Creates the entry if there is none."
    )
    async def velg_digital_postkasse(
        self, info: Info, leverandoer: Postkasseleverandoer  # type: ignore[valid-type]
    ) -> Endringsresultat:
        return await _endre(
            info, Handling.ENDRE_MEG,
            lambda pid, naa: store.velg_postkasse(pid, leverandoer, naa),
        )

    @strawberry.mutation(description="Remove the digital mailbox.")
    async def fjern_digital_postkasse(self, info: Info) -> Endringsresultat:
        return await _endre(info, Handling.ENDRE_MEG, store.fjern_postkasse)

    @strawberry.mutation(
        description="Delete the contact information and mailbox: the entry becomes SLETTET and "
        "letters come on paper (advarsel PAPIRPOST). Reservation and language stay."
    )
    async def slett_kontaktinformasjon(self, info: Info) -> Endringsresultat:
        return await _endre(info, Handling.ENDRE_MEG, store.slett)
