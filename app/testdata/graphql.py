"""GraphQL of the test register: `opprettTestpersoner` and `sokPersoner` (not in prod).

Persons come back as `personer` gives them: the lookup scopes decide the fields, with one
FORBIDDEN error per withheld field (app.personer.avslag).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, cast

import strawberry

from app.api.context import Info, noekkel, sti, valgte_felt
from app.api.internals import enum
from app.api.limits import Personfelt
from app.api.relay import PageInfo
from app.api.tilgang import felt, mutasjon
from app.errors import BadInput
from app.personer import register
from app.personer.avslag import tilbakeholdt
from app.personer.felt import PersonRecord, Registerstatus
from app.personer.oppslag import tilgang
from app.personer.paragraf32 import Varslingsstatus
from app.personer.types import Person
from app.personer.utlevering import VARSLINGSSTATUS_FELT, JaNei, utlever
from app.testdata import profiles, store
from authz.scopes import Handling

T = profiles.Testprofil
enum(
    T, name="Testprofil",
    description="Kinds of test person, after the real register's static test users.",
    verdier={
        T.FULL: "AKTIV: e-mail and mobile (both fresh), a Digipost mailbox and a language.",
        T.MOBIL_OG_EPOST: "AKTIV: e-mail and mobile, both fresh; no mailbox.",
        T.BARE_MOBIL: "AKTIV: a fresh mobile, no e-mail, no mailbox.",
        T.BARE_EPOST: "AKTIV: a fresh e-mail address, no mobile, no mailbox.",
        T.RESERVERT: "AKTIV and reserved (KAN_IKKE_VARSLES), both channels fresh.",
        T.UTLOPT: "AKTIV, both channels past 18 months (KAN_IKKE_VARSLES).",
        T.SLETTET: "SLETTET: status only.",
    },
)
enum(
    Registerstatus, name="Registerstatus",
    description="A stored entry's status (IKKE_REGISTRERT is no entry, so no search finds it).",
    verdier={
        Registerstatus.AKTIV: "Registered, with contact information.",
        Registerstatus.SLETTET: "Deleted from the register: status only.",
    },
)
SOK_FIRST = 50
SOK = "sokPersoner"  # the connection its cursors are sealed for (app.api.cursors)
# What creating and searching count toward the persons one request may ask for, and the rate
# limit (app.api.limits): the number created, and a page of `first`.
PERSONFELT = (
    Personfelt.antall("opprettTestpersoner", "antall", store.MAKS_ANTALL),
    Personfelt.antall("sokPersoner", "first", store.MAKS_FIRST, SOK_FIRST),
)


@strawberry.input(description="Every given filter must hold (AND); leave one out for any.")
class PersonFilter:
    status: Registerstatus | None = strawberry.field(
        default=None, description="The stored entry's status."
    )
    varslingsstatus: Varslingsstatus | None = strawberry.field(
        default=None, description="§ 32 as a lookup would judge it now (needs the scope that "
        "shows varslingsstatus)."
    )
    spraak: str | None = strawberry.field(
        default=None, description="The language: nb, nn, en or se."
    )
    reservasjon: JaNei | None = strawberry.field(
        default=None, description="An AKTIV entry with (JA) or without (NEI) a reservation: a "
        "SLETTET entry shows none."
    )
    har_mobil: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with a mobile (needs the contact scope)."
    )
    har_epost: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with an e-mail address (contact scope)."
    )
    har_digital_postkasse: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with a mailbox a lookup shows: a reserved "
        "person's never is (needs the mailbox scope)."
    )


def _filter(given: PersonFilter | None) -> store.Personfilter:
    if given is None:
        return store.Personfilter()
    return store.Personfilter(
        status=given.status,
        varslingsstatus=given.varslingsstatus,
        spraak=given.spraak,
        reservasjon=None if given.reservasjon is None else given.reservasjon is JaNei.JA,
        har_mobil=given.har_mobil,
        har_epost=given.har_epost,
        har_digital_postkasse=given.har_digital_postkasse,
    )


@strawberry.type(description="One person in a page of PersonConnection.")
class PersonEdge:
    node: Person = strawberry.field(
        description="The entry, as personer gives it (the lookup scopes decide the fields)."
    )
    cursor: str = strawberry.field(description="Pass as `after` for the persons after this one.")


@strawberry.type(description="Matching entries in personidentifikator order.")
class PersonConnection:
    filter_: strawberry.Private[store.Personfilter]
    now: strawberry.Private[dt.datetime]
    edges: list[PersonEdge] = strawberry.field(description="This page's entries.")
    page_info: PageInfo = strawberry.field(description="Where this page lies.")

    # strawberry types its decorator Any (it returns a StrawberryField), hence the ignore.
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="How many entries match the filter (all pages)."
    )
    async def total_count(self) -> int:
        return await store.tell(self.filter_, self.now)


@strawberry.type
class TestpersonMutation:
    @mutasjon(
        store.OPPRETTE,
        description=(
            f"Create 1 to {store.MAKS_ANTALL} new test persons of a profile (new synthetic ids, "
            "month + 80), in id order. Needs scope "
            + store.scopes_for(Handling.OPPRETTE_TESTPERSONER)
            + "; the lookup scopes decide which fields come back. Not in prod."
        ),
    )
    async def opprett_testpersoner(
        self,
        info: Info,
        antall: Annotated[int, strawberry.argument(
            description=f"How many, 1 to {store.MAKS_ANTALL}."
        )],
        profil: Annotated[profiles.Testprofil, strawberry.argument(
            description="What each new person holds."
        )],
    ) -> list[Person]:
        foresporsel = info.context.foresporsel
        felter = valgte_felt(info)
        synlig = await tilgang(foresporsel, felter)
        now = foresporsel.now
        ids = await store.opprett_testpersoner(antall, profil, now)
        records = await register.hent_personer(ids)
        personer = [
            utlever(i, records.get(i), kategorier=synlig.kategorier,
                    filtrer_paa_varsling=VARSLINGSSTATUS_FELT in felter, now=now)
            for i in ids
        ]
        info.context.errors.extend(
            tilbakeholdt(synlig.avslag, felter, [*sti(info), 0], foresporsel.organisasjon)
        )
        return cast(list[Person], personer)  # utlevering's answers, read alike


@strawberry.type
class TestpersonQuery:
    @felt(
        store.SOKE,
        description=(
            "Search the register (like Tenor): entries matching the filter, by "
            f"personidentifikator, first 1 to {store.MAKS_FIRST} a page. Needs scope "
            + store.scopes_for(Handling.SOKE_PERSONER)
            + "; the lookup scopes decide the fields (and the filters allowed), as in personer."
            " Recorded in the audit log like a lookup. Not in prod."
        ),
    )
    async def sok_personer(
        self,
        info: Info,
        filter: Annotated[PersonFilter | None, strawberry.argument(
            description="What the entries must match; null for every entry."
        )] = None,
        first: Annotated[int | None, strawberry.argument(
            description=f"Entries per page, 1 to {store.MAKS_FIRST}; null for {SOK_FIRST}."
        )] = SOK_FIRST,
        after: Annotated[str | None, strawberry.argument(
            description="An edge's cursor (or pageInfo.endCursor): the entries after it; null "
            "for the first page."
        )] = None,
    ) -> PersonConnection:
        foresporsel = info.context.foresporsel
        antall = SOK_FIRST if first is None else first
        if not 1 <= antall <= store.MAKS_FIRST:
            raise BadInput(f"first must be from 1 to {store.MAKS_FIRST}; got {antall}")
        personfilter = _filter(filter)
        cursors = info.context.cursors
        etter = cursors.open(SOK, after) if after is not None else None
        valgt = valgte_felt(info)
        edges = valgt.get("edges", [])
        noder = valgte_felt(info, edges).get("node", [])
        felter = valgte_felt(info, noder)
        synlig = await store.sokerett(foresporsel, personfilter, felter)
        now = foresporsel.now
        records: list[PersonRecord] = []
        har_flere = har_foer = False
        if edges or "pageInfo" in valgt:
            records, har_flere = await store.side(personfilter, now, antall, etter)
        if etter is not None and "pageInfo" in valgt:
            har_foer = await store.finnes_til(personfilter, now, etter)
        personer = await store.utlever_side(
            records, synlig, foresporsel, filtrer_paa_varsling=VARSLINGSSTATUS_FELT in felter,
        )
        if personer and noder:
            forste = [*sti(info), noekkel(edges[0]), 0, noekkel(noder[0])]
            info.context.errors.extend(
                tilbakeholdt(synlig.avslag, felter, forste, foresporsel.organisasjon)
            )
        kanter = [PersonEdge(node=cast(Person, p),
                             cursor=cursors.seal(SOK, p.personidentifikator))
                  for p in personer]
        return PersonConnection(
            filter_=personfilter,
            now=now,
            edges=kanter,
            page_info=PageInfo(has_next_page=har_flere, has_previous_page=har_foer,
                               start_cursor=kanter[0].cursor if kanter else None,
                               end_cursor=kanter[-1].cursor if kanter else None),
        )
