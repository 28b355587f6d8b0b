"""The GraphQL schema the service serves: every feature's queries merged into one Query type,
mutations into one Mutation type (app.api.schema builds it)."""

from __future__ import annotations

import strawberry

from app.api.limits import Personfelt, RequestLimits
from app.api.schema import build
from app.delegering.graphql import DelegeringMutation, DelegeringQuery
from app.endringer.graphql import EndringMutation, EndringQuery
from app.innbyggere.graphql import MegMutation, MegQuery
from app.personer.graphql import PersonQuery
from app.personer.oppslag import GRAPHQL_FELT, MAX_IDS, PERSONIDENTIFIKATORER
from app.revisjon.graphql import BrukQuery
from app.statistikk.graphql import StatistikkQuery
from app.testdata.graphql import TestpersonMutation, TestpersonQuery

# Every feature's root fields; the test-register features (not in prod) are listed apart.
QUERIES: list[type] = [
    PersonQuery, DelegeringQuery, BrukQuery, MegQuery, EndringQuery, StatistikkQuery
]
MUTATIONS: list[type] = [DelegeringMutation, MegMutation, EndringMutation]
TEST_QUERIES: list[type] = [TestpersonQuery]
TEST_MUTATIONS: list[type] = [TestpersonMutation]

# The fields that name persons, and how many one request may name (the lookup's cap).
PERSONFELT = Personfelt(GRAPHQL_FELT, PERSONIDENTIFIKATORER, MAX_IDS)


def build_schema(
    *, prod: bool = False, limits: RequestLimits | None = None, planned: bool = True
) -> strawberry.Schema:
    """The schema for an environment: prod has no introspection and no test features.

    `planned=False` leaves every field to graphql-core's own executor: the differential tests
    compare the two."""
    return build(
        QUERIES if prod else QUERIES + TEST_QUERIES,
        MUTATIONS if prod else MUTATIONS + TEST_MUTATIONS,
        personfelt=PERSONFELT, prod=prod, limits=limits, planned=planned,
    )


def export_sdl() -> str:
    """The SDL outside prod (the full schema; prod's is the same less the test features)."""
    return build_schema().as_str() + "\n"
