"""The GraphQL schema the service serves: every feature's queries merged into one Query type,
mutations into one Mutation type (app.api.schema builds it)."""

from __future__ import annotations

import strawberry

from app.api.limits import Personbegrensning, Personfelt, RequestLimits
from app.api.schema import build
from app.delegering.graphql import DelegeringMutation, DelegeringQuery
from app.endringer import graphql as endringer
from app.endringer.graphql import EndringMutation, EndringQuery
from app.innbyggere.graphql import MegMutation, MegQuery
from app.personer import graphql as personer
from app.personer import oppslag
from app.personer.graphql import PersonQuery
from app.printsertifikat.graphql import PrintSertifikatQuery
from app.revisjon.graphql import BrukQuery
from app.statistikk.graphql import StatistikkQuery
from app.testdata import graphql as testdata
from app.testdata.graphql import TestpersonMutation, TestpersonQuery
from app.tilgangsstyrere.graphql import TilgangsstyrerMutation, TilgangsstyrerQuery

# Every feature's root fields; the test-register features (not in prod) are listed apart.
QUERIES: list[type] = [
    PersonQuery, DelegeringQuery, BrukQuery, MegQuery, EndringQuery, StatistikkQuery,
    TilgangsstyrerQuery, PrintSertifikatQuery,
]
MUTATIONS: list[type] = [DelegeringMutation, MegMutation, EndringMutation, TilgangsstyrerMutation]
TEST_QUERIES: list[type] = [TestpersonQuery]
TEST_MUTATIONS: list[type] = [TestpersonMutation]

# The fields that return persons, each counted as its feature declares; the test register's
# apart. One request may ask for as many persons as one lookup may.
PERSONFELT: list[Personfelt] = [personer.PERSONFELT, endringer.PERSONFELT]
TEST_PERSONFELT: list[Personfelt] = list(testdata.PERSONFELT)
MAKS_PERSONER = oppslag.MAX_IDS


def personbegrensning(*, prod: bool = False) -> Personbegrensning:
    """The persons cap of an environment's schema (prod has no test fields)."""
    return Personbegrensning(
        tuple(PERSONFELT if prod else PERSONFELT + TEST_PERSONFELT), MAKS_PERSONER
    )


def build_schema(
    *, prod: bool = False, limits: RequestLimits | None = None, planned: bool = True
) -> strawberry.Schema:
    """The schema for an environment: prod has no introspection and no test features.

    `planned=False` leaves every field to graphql-core's own executor: the differential tests
    compare the two."""
    return build(
        QUERIES if prod else QUERIES + TEST_QUERIES,
        MUTATIONS if prod else MUTATIONS + TEST_MUTATIONS,
        personbegrensning=personbegrensning(prod=prod), prod=prod, limits=limits,
        planned=planned,
    )


def export_sdl() -> str:
    """The SDL outside prod (the full schema; prod's is the same less the test features)."""
    return build_schema().as_str() + "\n"
