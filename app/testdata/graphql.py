"""GraphQL of the test register: `opprettTestpersoner` and `sokPersoner` (not in prod).

Persons come back as `personer` gives them: the lookup scopes decide the fields, with one
FORBIDDEN error per withheld field (app.persons.refusals).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError

from app.api.context import Context
from app.api.errors import BAD_USER_INPUT, FORBIDDEN, SERVICE_UNAVAILABLE, error
from app.api.selection import selected_subfields
from app.innbyggere.graphql import PageInfo
from app.personer import oppslag as lookup
from app.personer import register
from app.personer.avslag import tilbakeholdt
from app.personer.models import Registerstatus as _Registerstatus
from app.personer.oppslag import (
    VARSLINGSSTATUS_FELT,
    Foresporsel,
    Revisjonsfeil,
    UgyldigInput,
    utlever,
    vurder_tilgang,
)
from app.personer.types import JaNei, Person, Varslingsstatus
from app.testdata import profiles, store
from authz.delegation import Avslag
from authz.principal import Principal
from authz.scopes import Handling

Info = strawberry.Info[Context, None]

Testprofil = strawberry.enum(
    profiles.Testprofil, name="Testprofil",
    description=(
        "The real register's static test users. FULL: e-mail, mobile and a Digipost mailbox; "
        "UTLOPT: both channels past 18 months; RESERVERT: reserved, both channels fresh."
    ),
)
Registerstatus = strawberry.enum(
    _Registerstatus, name="Registerstatus",
    description="A stored entry's status (IKKE_REGISTRERT is no entry, so no search finds it).",
)
SOK_FIRST = 50


@strawberry.input(description="Every given filter must hold (AND); leave one out for any.")
class PersonFilter:
    status: Registerstatus | None = None  # type: ignore[valid-type]
    varslingsstatus: Varslingsstatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="§ 32 as a lookup would judge it now (needs the scope that "
        "shows varslingsstatus)."
    )
    spraak: str | None = strawberry.field(default=None, description="nb, nn, en or se.")
    reservasjon: JaNei | None = None  # type: ignore[valid-type]
    har_mobil: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with a mobile (needs the contact scope)."
    )
    har_epost: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with an e-mail address (contact scope)."
    )
    har_digital_postkasse: bool | None = strawberry.field(
        default=None, description="An AKTIV entry with a mailbox (needs the mailbox scope)."
    )


def _filter(given: PersonFilter | None) -> store.Personfilter:
    if given is None:
        return store.Personfilter()
    return store.Personfilter(
        status=given.status,
        varslingsstatus=given.varslingsstatus,
        spraak=given.spraak,
        reservasjon=None if given.reservasjon is None else given.reservasjon is lookup.JaNei.JA,
        har_mobil=given.har_mobil,
        har_epost=given.har_epost,
        har_digital_postkasse=given.har_digital_postkasse,
    )


@strawberry.type
class PersonEdge:
    node: Person
    cursor: str = strawberry.field(description="Pass as `after` for the persons after this one.")


@strawberry.type(description="Matching entries in personidentifikator order.")
class PersonConnection:
    filter_: strawberry.Private[store.Personfilter]
    now: strawberry.Private[dt.datetime]
    edges: list[PersonEdge]
    page_info: PageInfo

    @strawberry.field(description="How many entries match the filter (all pages).")
    async def total_count(self) -> int:
        return await store.tell(self.filter_, self.now)


def _krev(info: Info, handling: Handling, *, paa_vegne_av: bool) -> Principal:
    try:
        return store.krev(info.context.principal, handling, paa_vegne_av=paa_vegne_av)
    except store.Nektet as exc:
        extensions: dict[str, Any] = {} if exc.scope is None else {"scope": exc.scope}
        raise error(exc.melding, FORBIDDEN, **extensions) from exc


def _key(node: FieldNode) -> str:
    return (node.alias or node.name).value


def _under(info: Info, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
    raw = info._raw_info
    return selected_subfields(nodes, raw.fragments, raw.variable_values)


def _forbidden(exc: Exception) -> GraphQLError:
    if isinstance(exc, store.Nektet):
        return error(exc.melding, FORBIDDEN, scope=exc.scope)
    assert isinstance(exc, Avslag)
    return error(exc.message, FORBIDDEN, reason=exc.code)


@strawberry.type
class TestpersonMutation:
    @strawberry.mutation(
        description=(
            f"Create 1 to {store.MAKS_ANTALL} new test persons of a profile (new synthetic ids, "
            "month + 80), in id order. Needs scope "
            + store.scopes_for(Handling.OPPRETTE_TESTPERSONER)
            + "; the lookup scopes decide which fields come back. Not in prod."
        )
    )
    async def opprett_testpersoner(
        self, info: Info, antall: int, profil: Testprofil  # type: ignore[valid-type]
    ) -> list[Person]:
        principal = _krev(info, Handling.OPPRETTE_TESTPERSONER, paa_vegne_av=False)
        felter = _under(info, list(info._raw_info.field_nodes))
        tilgang = await vurder_tilgang(principal, felter)
        now = info.context.clock()
        try:
            ids = await store.opprett_testpersoner(antall, profiles.Testprofil(profil), now)
        except UgyldigInput as exc:
            raise error(str(exc), BAD_USER_INPUT) from exc
        records = await register.hent_personer(ids)
        personer = [
            utlever(i, records.get(i), kategorier=tilgang.kategorier,
                    filtrer_paa_varsling=VARSLINGSSTATUS_FELT in felter, now=now)
            for i in ids
        ]
        info.context.errors.extend(
            tilbakeholdt(tilgang.avslag, felter, [*info.path.as_list(), 0], principal)
        )
        return personer  # type: ignore[return-value]


@strawberry.type
class TestpersonQuery:
    @strawberry.field(
        description=(
            "Search the register (like Tenor): entries matching the filter, by "
            f"personidentifikator, first 1 to {store.MAKS_FIRST} a page. Needs scope "
            + store.scopes_for(Handling.SOKE_PERSONER)
            + "; the lookup scopes decide the fields (and the filters allowed), as in personer."
            " Recorded in the audit log like a lookup. Not in prod."
        )
    )
    async def sok_personer(
        self,
        info: Info,
        filter: PersonFilter | None = None,
        first: int | None = SOK_FIRST,
        after: str | None = None,
    ) -> PersonConnection:
        principal = _krev(info, Handling.SOKE_PERSONER, paa_vegne_av=True)
        antall = SOK_FIRST if first is None else first
        if not 1 <= antall <= store.MAKS_FIRST:
            raise error(f"first must be from 1 to {store.MAKS_FIRST}; got {antall}",
                        BAD_USER_INPUT)
        try:
            personfilter = _filter(filter)
            etter = store.fra_cursor(after) if after is not None else None
        except UgyldigInput as exc:
            raise error(str(exc), BAD_USER_INPUT) from exc
        valgt = _under(info, list(info._raw_info.field_nodes))
        edges = valgt.get("edges", [])
        noder = _under(info, edges).get("node", [])
        felter = _under(info, noder)
        try:
            tilgang = await store.sokerett(principal, personfilter, felter)
        except (store.Nektet, Avslag) as exc:
            raise _forbidden(exc) from exc
        context = info.context
        now = context.clock()
        records, har_flere = [], False
        if edges or "pageInfo" in valgt:
            records, har_flere = await store.side(personfilter, now, antall, etter)
        try:
            personer = await store.utlever_side(
                records, tilgang, Foresporsel(principal, context.request_id, now),
                filtrer_paa_varsling=VARSLINGSSTATUS_FELT in felter,
            )
        except Revisjonsfeil as exc:
            raise error(str(exc), SERVICE_UNAVAILABLE) from exc
        if personer and noder:
            sti = [*info.path.as_list(), _key(edges[0]), 0, _key(noder[0])]
            context.errors.extend(tilbakeholdt(tilgang.avslag, felter, sti, principal))
        kanter = [PersonEdge(node=p, cursor=store.cursor(p.personidentifikator))  # type: ignore[arg-type]
                  for p in personer]
        return PersonConnection(
            filter_=personfilter,
            now=now,
            edges=kanter,
            page_info=PageInfo(has_next_page=har_flere,
                               end_cursor=kanter[-1].cursor if kanter else None),
        )
