"""The schema: every domain's queries merged into one Query type, mutations into one
Mutation type."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from app.api.errors import ContextErrors, MaskUnexpectedErrors
from app.api.execution import PlannedExecutionContext
from app.api.limits import RequestLimits, schema_extensions
from app.delegering.graphql import DelegeringMutation, DelegeringQuery
from app.endringer.graphql import EndringMutation, EndringQuery
from app.faults import DatabaseUnavailable
from app.innbyggere.graphql import MegMutation, MegQuery
from app.observability import OperationMetrics
from app.personer.graphql import PersonQuery
from app.revisjon.graphql import BrukQuery
from app.statistikk.graphql import StatistikkQuery
from app.testdata.graphql import TestpersonMutation, TestpersonQuery

# Every domain's root fields; the test-register features (not in prod) are listed apart.
QUERIES: list[type] = [
    PersonQuery, DelegeringQuery, BrukQuery, MegQuery, EndringQuery, StatistikkQuery
]
MUTATIONS: list[type] = [DelegeringMutation, MegMutation, EndringMutation]
TEST_QUERIES: list[type] = [TestpersonQuery]
TEST_MUTATIONS: list[type] = [TestpersonMutation]


def _root(name: str, bases: list[type]) -> type:
    return strawberry.type(type(name, tuple(bases), {}))


log = logging.getLogger("krr.graphql")
PARSE_CACHE_SIZE = 256  # distinct query texts kept parsed and validated


class CachedParse(ParserCache):
    """strawberry's shared parse cache, except that a query which does not parse is left to
    strawberry's own parse step, which reports it as a response error (ParserCache raises it out
    of the extension hook, past the token limit's code). Only failures are parsed twice."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class KrrSchema(strawberry.Schema):
    """Logs errors without their messages or the query: both can hold personal ids and
    addresses, which never go into a log line."""

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        for err in errors:
            code = (err.extensions or {}).get("code")
            path = ".".join(str(p) for p in err.path or ()) or "-"
            original = err.original_error
            if code is not None or original is None or isinstance(original, GraphQLError):
                log.info("graphql error code=%s path=%s", code or "GRAPHQL_VALIDATION", path)
            else:
                frames = "".join(traceback.format_tb(original.__traceback__))
                log.error("unexpected %s at path=%s\n%s", type(original).__name__, path, frames)


def build_schema(
    *, prod: bool = False, limits: RequestLimits | None = None, planned: bool = True
) -> strawberry.Schema:
    """The schema for an environment: prod has no introspection and no test features.

    `planned=False` leaves every field to graphql-core's own executor: the differential tests
    compare the two."""
    extensions: list = [ContextErrors, DatabaseUnavailable]
    # Depth, aliases, tokens and person ids: refused before execution (app.limits).
    extensions.extend(schema_extensions(limits or RequestLimits()))
    if prod:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    # Shared across requests (module-level LRU caches): a client repeating its query skips
    # parsing and validation. Keys are the query text with the parse options (token limit) and
    # the document with the rule classes, so a limit never answers for another.
    extensions += [lambda: CachedParse(maxsize=PARSE_CACHE_SIZE),
                   lambda: ValidationCache(maxsize=PARSE_CACHE_SIZE)]
    extensions.append(OperationMetrics)  # counts the outcome the client gets
    if prod:  # last: sees the errors after every other extension gave its code
        extensions.append(MaskUnexpectedErrors)
    queries = QUERIES if prod else QUERIES + TEST_QUERIES
    mutations = MUTATIONS if prod else MUTATIONS + TEST_MUTATIONS
    return KrrSchema(
        query=_root("Query", queries),
        mutation=_root("Mutation", mutations),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=PlannedExecutionContext if planned else None,
    )


def export_sdl() -> str:
    """The SDL outside prod (the full schema; prod's is the same less the test features)."""
    return build_schema().as_str() + "\n"
