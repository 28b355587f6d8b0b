"""The planned executor (app.api.execution) against graphql-core's own, response for response.

Hypothesis writes `personer` queries over the Person types: aliases, repeated fields, inline and
named fragments, @skip/@include with literals and variables, __typename, nested objects, ids of
every kind (fresh, stale, reserved, deleted, unknown, invalid, repeated), tokens with and
without the scopes (withheld fields), with and without varslingsstatus (§ 32 filtering). Both
apps serve the same database over HTTP; status and body must be identical byte for byte, errors
included.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.execution import PlannedExecutionContext
from app.config import Settings
from app.edge import app as app_http
from app.edge.schema import build_schema
from app.personer.models import Registerstatus
from app.revisjon.store import skriv_oppslag
from authz.principal import Principal
from tests.conftest import FIXED_NOW
from tests.factories import DIGIPOST, EBOKS, months_ago, new_id, person, provider

EXAMPLES = 120
CONTACT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"

PERSON_LEAVES = [
    "personidentifikator", "status", "reservasjon", "reservasjonstidspunkt",
    "reservasjonOppdatert", "varslingsstatus", "sertifikat", "spraak", "spraakOppdatert",
]
KONTAKT_LEAVES = [
    "epostadresse", "epostadresseOppdatert", "epostadresseSistVerifisert",
    "epostadresseSistValidert", "epostadresseDuplisert", "mobiltelefonnummer",
    "mobiltelefonnummerOppdatert", "mobiltelefonnummerSistVerifisert",
    "mobiltelefonnummerSistValidert", "mobiltelefonnummerDuplisert",
]
POST_LEAVES = ["postkasseadresse", "postkasseleverandoeradresse"]
NESTED = {"kontaktinformasjon": KONTAKT_LEAVES, "digitalPost": POST_LEAVES}

REGISTERED = [new_id(i) for i in range(700, 707)] + [new_id(7, d_number=True)]
UNKNOWN = new_id(720)
INVALID = "12345678901"


async def _register() -> None:
    await provider(DIGIPOST)
    await provider(EBOKS, "e-Boks")
    fresh, stale, reserved, cut_off, deleted, bare, eboks, d_number = REGISTERED
    await person(fresh, epost="delt@example.no", postkasseadresse="kari#1",
                 postkasseleverandoer_id=DIGIPOST)
    await person(stale, epost="delt@example.no", epost_alder=20)
    await person(reserved, reservasjon=True, reservasjonstidspunkt=months_ago(3),
                 postkasseadresse="ola#2", postkasseleverandoer_id=DIGIPOST)
    await person(cut_off, epost_alder=19, mobil_alder=25, spraak="nn")
    await person(deleted, status=Registerstatus.SLETTET, epost=None, mobil=None)
    await person(bare, epost=None, mobil=None, spraak=None, spraak_oppdatert=None)
    await person(eboks, mobil="+4790000000", postkasseadresse="per@eboks",
                 postkasseleverandoer_id=EBOKS,
                 epostadresse_oppdatert=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    await person(d_number, mobil=None)


# --- query strategy ----------------------------------------------------------------------------


class _Names:
    """Fresh aliases and fragment names for one query, so generated keys never clash."""

    def __init__(self) -> None:
        self.n = 0
        self.fragments: list[str] = []

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


DIRECTIVES = st.sampled_from([
    "", "", "", "@include(if: true)", "@include(if: false)", "@skip(if: true)",
    "@skip(if: false)", "@include(if: $ja)", "@skip(if: $ja)", "@include(if: $nei)",
])


@st.composite
def _field(draw: st.DrawFn, names: _Names, leaves: list[str], nested: dict[str, list[str]],
           type_name: str, depth: int) -> str:
    choices = leaves + list(nested) + ["__typename"]
    name = draw(st.sampled_from(choices))
    alias = f"{names.next('a')}: " if draw(st.integers(0, 3)) == 0 else ""
    directive = draw(DIRECTIVES)
    if name in nested:
        inner = draw(_selection(names, nested[name], {}, _TYPE_OF[name], depth + 1))
        return f"{alias}{name} {directive} {{ {inner} }}"
    return f"{alias}{name} {directive}"


_TYPE_OF = {"kontaktinformasjon": "Kontaktinformasjon", "digitalPost": "DigitalPost"}


@st.composite
def _selection(draw: st.DrawFn, names: _Names, leaves: list[str],
               nested: dict[str, list[str]], type_name: str, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6 if depth == 0 else 3))):
        kind = draw(st.sampled_from(["field", "field", "field", "inline", "spread"]))
        if kind == "field" or depth > 1:
            parts.append(draw(_field(names, leaves, nested, type_name, depth)))
            continue
        inner = draw(_selection(names, leaves, nested, type_name, depth + 1))
        directive = draw(DIRECTIVES)
        if kind == "inline":
            condition = f"on {type_name} " if draw(st.booleans()) else ""
            parts.append(f"... {condition}{directive} {{ {inner} }}")
        else:
            fragment = names.next("F")
            names.fragments.append(f"fragment {fragment} on {type_name} {{ {inner} }}")
            parts.append(f"...{fragment} {directive}")
    return " ".join(parts)


@st.composite
def lookups(draw: st.DrawFn) -> dict[str, Any]:
    """One request: query text, variables and the token's scopes."""
    names = _Names()
    roots = []
    variables: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 2))):
        selection = draw(_selection(names, PERSON_LEAVES, NESTED, "Person"))
        pool = REGISTERED + [UNKNOWN] + ([INVALID] if draw(st.integers(0, 9)) == 0 else [])
        ids = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))
        variables[f"ids{i}"] = ids
        alias = f"{names.next('p')}: " if i or draw(st.booleans()) else ""
        roots.append(f"{alias}personer(personidentifikatorer: $ids{i}) {{ {selection} }}")
    body = " ".join([*roots, *names.fragments])
    declared = [f"$ids{i}: [String!]!" for i in range(len(roots))]
    for flag, value in (("ja", True), ("nei", False)):
        if f"${flag})" in body:  # an unused variable would be a validation error
            declared.append(f"${flag}: Boolean!")
            variables[flag] = value
    query = f"query Q({' '.join(declared)}) {{ {' '.join(roots)} }} " + " ".join(names.fragments)
    scopes = draw(st.sampled_from(["", CONTACT, POST, f"{CONTACT} {POST}", f"{CONTACT} {POST}"]))
    return {"query": query, "variables": variables, "scopes": scopes}


# --- the two apps ------------------------------------------------------------------------------


@pytest.fixture
async def clients(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    await _register()
    apps = []
    for planned in (True, False):
        monkeypatch.setattr(app_http, "build_schema", functools.partial(build_schema,
                                                                         planned=planned))
        apps.append(app_http.create_app(db, clock=lambda: FIXED_NOW, manage_db=False))
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url="http://p") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]), base_url="http://s") as b,
    ):
        yield a, b


async def _both(clients: tuple[httpx.AsyncClient, httpx.AsyncClient], token: str,
                payload: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    planned, standard = clients
    return (await planned.post("/graphql", json=payload, headers=headers),
            await standard.post("/graphql", json=payload, headers=headers))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=lookups())
async def test_planned_and_standard_executors_answer_alike(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], mint: Any, case: dict[str, Any]
) -> None:
    token = mint(case["scopes"])
    payload = {"query": case["query"], "variables": case["variables"]}
    planned, standard = await _both(clients, token, payload)
    assert planned.status_code == standard.status_code, case
    # bytes, not parsed JSON: the order of keys (the query's order) must agree too
    assert planned.content == standard.content, case


# --- the planned path is taken, and falls back where it must -----------------------------------

FULL_QUERY = """query($ids: [String!]!) { personer(personidentifikatorer: $ids) {
  __typename personidentifikator status reservasjon reservasjonstidspunkt reservasjonOppdatert
  varslingsstatus spraak spraakOppdatert sertifikat
  digitalPost { postkasseadresse postkasseleverandoeradresse }
  kontaktinformasjon { epostadresse epostadresseOppdatert epostadresseDuplisert
    mobiltelefonnummer mobiltelefonnummerSistVerifisert mobiltelefonnummerDuplisert } } }"""


async def test_a_full_lookup_completes_persons_without_the_field_executor(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], mint: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed: list[str] = []
    original = PlannedExecutionContext.complete_object_value

    def spy(self: Any, return_type: Any, *args: Any) -> Any:
        completed.append(return_type.name)
        return original(self, return_type, *args)

    monkeypatch.setattr(PlannedExecutionContext, "complete_object_value", spy)
    payload = {"query": FULL_QUERY, "variables": {"ids": [*REGISTERED, UNKNOWN]}}
    planned, standard = await _both(clients, mint(f"{CONTACT} {POST}"), payload)
    assert planned.content == standard.content
    body = orjson.loads(planned.content)
    assert len(body["data"]["personer"]) == 9 and "errors" not in body
    assert body["data"]["personer"][6]["kontaktinformasjon"]["epostadresseOppdatert"] == (
        "2026-01-02T03:04:05+00:00"
    )
    # graphql-core completed Person objects only for the standard app's request
    assert completed.count("Person") == 0


# A tiny schema whose resolvers return what the register never does, to see the fallback.
@strawberry.type
class Indre:
    navn: str
    tall: int | None


@strawberry.type
class Ytre:
    navn: str
    naar: dt.datetime | None
    indre: Indre | None
    paakrevd: Indre


def _ytre(navn: Any = "x", naar: Any = None, indre: Any = None, paakrevd: Any = None) -> Any:
    return Ytre(navn=navn, naar=naar, indre=indre, paakrevd=paakrevd or Indre(navn="i", tall=1))


CASES: dict[str, list[Any]] = {
    "regular": [_ytre(naar=FIXED_NOW), _ytre(indre=Indre(navn="n", tall=None))],
    "null in a non-null leaf": [_ytre(), _ytre(navn=None)],
    "null in a non-null object": [_ytre(), Ytre(navn="y", naar=None, indre=None,
                                                paakrevd=None)],  # type: ignore[arg-type]
    "a value the scalar refuses": [_ytre(indre=Indre(navn="n", tall="many"))],  # type: ignore
    "a naive datetime": [_ytre(naar=dt.datetime(2026, 1, 1))],
    "an offset datetime": [_ytre(naar=dt.datetime(2026, 1, 1,
                                                  tzinfo=dt.timezone(dt.timedelta(hours=2))))],
    "null items": [None, _ytre()],
    "an exception as an item": [ValueError("boom"), _ytre()],
    "int for a string": [_ytre(navn=7)],
}


@strawberry.type
class Query:
    @strawberry.field
    def ytre(self, tilfelle: str) -> list[Ytre | None]:
        return CASES[tilfelle]

    @strawberry.field
    def ytre_paakrevd(self, tilfelle: str) -> list[Ytre]:
        return CASES[tilfelle]


def _schema(planned: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=PlannedExecutionContext if planned else None
    )


@pytest.mark.parametrize("tilfelle", list(CASES))
@pytest.mark.parametrize("felt", ["ytre", "ytrePaakrevd"])
async def test_irregular_values_get_graphql_cores_answer(tilfelle: str, felt: str) -> None:
    query = (
        f'{{ {felt}(tilfelle: "{tilfelle}") {{ navn n2: navn naar __typename '
        "indre { tall navn } paakrevd { ... on Indre { navn } } } }"
    )
    planned = await _schema(True).execute(query)
    standard = await _schema(False).execute(query)
    assert planned.errors == standard.errors
    assert [e.path for e in planned.errors or []] == [e.path for e in standard.errors or []]
    assert orjson.dumps(planned.data) == orjson.dumps(standard.data)


# Lists of leaves below the item (a lookup's `kategorier`): planned, with the same fallback.
@strawberry.enum
class Farge(enum.Enum):
    ROED = "roed"
    BLAA = "blaa"


@strawberry.type
class Liste:
    farger: list[Farge]
    kanskje: list[Farge | None] | None
    ord: list[str]
    tider: list[dt.datetime | None]
    tall: list[int]


def _liste(**endret: Any) -> Any:
    verdier: dict[str, Any] = {"farger": [Farge.ROED, Farge.BLAA], "kanskje": [None, Farge.ROED],
                               "ord": ["a", "b"], "tider": [FIXED_NOW, None], "tall": [1, 2]}
    return Liste(**(verdier | endret))


LISTE_CASES: dict[str, list[Any]] = {
    "regular": [_liste(), _liste(farger=[], kanskje=None, ord=[], tider=[], tall=[])],
    "null in a list of non-null items": [_liste(), _liste(farger=[Farge.ROED, None])],
    "a value the enum refuses": [_liste(farger=["groenn"])],
    "int for a string item": [_liste(ord=["a", 7])],
    "a string for an int item": [_liste(tall=[1, "to"])],
    "a naive datetime item": [_liste(tider=[dt.datetime(2026, 1, 1)])],
    "an offset datetime item": [_liste(tider=[dt.datetime(
        2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))])],
    "a tuple for a list": [_liste(farger=(Farge.BLAA,))],
    "a set for a list": [_liste(ord={"a"})],
    "a string for a list": [_liste(ord="ab")],
    "null for a non-null list": [_liste(farger=None)],
    "an unhashable enum value": [_liste(farger=[[Farge.ROED]])],
}


@strawberry.type
class ListeQuery:
    @strawberry.field
    def lister(self, tilfelle: str) -> list[Liste]:
        return LISTE_CASES[tilfelle]


@pytest.mark.parametrize("tilfelle", list(LISTE_CASES))
async def test_lists_of_leaves_get_graphql_cores_answer(tilfelle: str) -> None:
    query = (
        f'{{ lister(tilfelle: "{tilfelle}") {{ farger f2: farger kanskje ord tider tall '
        "__typename } }"
    )
    answers = []
    for planned in (True, False):
        schema = strawberry.Schema(
            query=ListeQuery, execution_context_class=PlannedExecutionContext if planned else None
        )
        answers.append(await schema.execute(query))
    planned_answer, standard = answers
    assert planned_answer.errors == standard.errors
    assert [e.path for e in planned_answer.errors or []] == [
        e.path for e in standard.errors or []
    ]
    assert orjson.dumps(planned_answer.data) == orjson.dumps(standard.data)


MEG_OPPSLAG = """query($first: Int, $after: String) { meg { oppslag(first: $first, after: $after) {
  edges { cursor node { __typename tidspunkt kategorier k2: kategorier
    organisasjon { orgnr navn } paaVegneAv { navn orgnr } } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def test_a_residents_lookups_are_planned_and_answer_alike(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], mint: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`meg { oppslag }`: its edges (with their list of categories) completed by the plan,
    byte for byte what graphql-core answers, on the first page and the next."""
    pid = REGISTERED[0]
    for i, (consumer, supplier, bits) in enumerate([
        ("991825827", None, 1), ("974760673", "889640782", 7), ("991825827", None, 3),
    ]):
        principal = Principal(consumer=consumer, scopes=frozenset(), issuer="test",
                              supplier=supplier)
        await skriv_oppslag(tidspunkt=FIXED_NOW - dt.timedelta(hours=i), request_id=f"r{i}",
                            principal=principal, scopes=(), varslingsstatus=False,
                            personer=[(pid, bits)])
    completed: list[str] = []
    original = PlannedExecutionContext.complete_object_value

    def spy(self: Any, return_type: Any, *args: Any) -> Any:
        completed.append(return_type.name)
        return original(self, return_type, *args)

    monkeypatch.setattr(PlannedExecutionContext, "complete_object_value", spy)
    token = mint("krr:user/kontaktinformasjon.read", consumer=None, pid=pid)
    after = None
    for first in (2, 2):
        payload = {"query": MEG_OPPSLAG, "variables": {"first": first, "after": after}}
        planned, standard = await _both(clients, token, payload)
        assert planned.status_code == standard.status_code == 200
        assert planned.content == standard.content
        body = orjson.loads(planned.content)
        assert "errors" not in body, body
        after = body["data"]["meg"]["oppslag"]["pageInfo"]["endCursor"]
    assert orjson.loads(planned.content)["data"]["meg"]["oppslag"]["edges"][0]["node"][
        "kategorier"] == ["GRUNNDATA", "KONTAKTINFORMASJON"]
    # graphql-core completed no edge, node or organisation for the planned app's requests
    assert completed.count("OppslagEdge") == completed.count("Oppslag") == 0
    assert completed.count("Organisasjon") == 0


@settings(max_examples=500, derandomize=True, database=None)
@given(value=st.datetimes(timezones=st.just(dt.UTC)))
def test_the_encoder_writes_utc_datetimes_as_isoformat_does(value: dt.datetime) -> None:
    """The plan leaves aware UTC datetimes to orjson: the text must be the DateTime scalar's."""
    assert orjson.dumps(value) == orjson.dumps(value.isoformat())
