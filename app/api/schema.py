"""How the service builds a GraphQL schema from the features' root types (app.edge.schema
names them): one Query and one Mutation, the request limits, shared caches, the planned
executor, the one error mapping, and metrics per operation."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from app.api.arguments import TextArguments
from app.api.errors import ErrorAnswers, forget_frames, log_errors
from app.api.execution import (
    AcyclicExecutionContext,
    PlannedExecutionContext,
    without_suggestions,
)
from app.api.internals import GetOperation
from app.api.limits import Personbegrensning, RequestLimits, schema_extensions
from app.api.metrics import OperationMetrics
from app.api.parsing import parsed
from app.api.pending import AwaitPending
from app.api.validation import Validation

# strawberry's DateTime (its serializer too, which the planned executor recognises), with its
# one format written down: REST's dates are the real register's Oslo form instead (app.rest).
DATETIME = dataclasses.replace(
    DateTimeDefinition,
    description="A moment as ISO 8601 / RFC 3339 in UTC, e.g. 2023-06-29T08:14:52+00:00, with a "
    "fraction of a second only where the moment has one (stored moments are UTC). Read with "
    "any RFC 3339 parser. (REST answers write Oslo local time, as the real register does.)",
    specified_by_url="https://scalars.graphql.org/andimarek/date-time.html",
)
# strawberry's Date, likewise written down.
DATE = dataclasses.replace(
    DateDefinition,
    description="A calendar day without a time or zone, as ISO 8601's YYYY-MM-DD (e.g. "
    "2023-06-29); the register's days are Oslo days.",
    specified_by_url="https://scalars.graphql.org/andimarek/local-date.html",
)
# The root types' descriptions.
ROOT_DESCRIPTIONS = {
    "Query": "What a caller may read: lookups of persons, the change feed, the caller's own "
    "entry, delegations, usage, key figures and the print provider. Each field names the scope "
    "it needs.",
    "Mutation": "What a caller may change: a resident their own entry, a public body a "
    "language or its delegations and access managers, the population register an id. Each "
    "field names the scope it needs.",
}


class CachedParse(SchemaExtension):
    """The document from the parses kept across requests (app.api.parsing: bounded in bytes,
    and the edge's parse of the same text and token limit is found there), instead of
    strawberry's ParserCache, bounded in entries only. A query that does not parse is left to
    strawberry's own parse step, which reports it as a response error (ParserCache raises it
    out of the extension hook, past the token limit's code). Only failures are parsed twice."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = parsed(context.query,
                                                  context.parse_options.get("max_tokens"))
        yield


class KrrSchema(strawberry.Schema):
    """Chooses the operation to run as GraphQL does (app.api.internals.GetOperation); logs
    errors without their messages or the query, then lets go of their frames
    (app.api.errors)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        log_errors(errors)
        forget_frames(errors)

    def _create_execution_context(  # strawberry's own signature
        self,
        query: str | None,
        allowed_operation_types: Iterable[OperationType],
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        return GetOperation(
            query=query, schema=self, allowed_operations=allowed_operation_types,
            context=context_value, root_value=root_value, variables=variable_values,
            provided_operation_name=operation_name, operation_extensions=operation_extensions,
        )


def _root(name: str, bases: Sequence[type]) -> type:
    return strawberry.type(type(name, tuple(bases), {}), description=ROOT_DESCRIPTIONS[name])


def build(
    queries: Sequence[type],
    mutations: Sequence[type],
    *,
    personbegrensning: Personbegrensning,
    prod: bool = False,
    limits: RequestLimits | None = None,
    planned: bool = True,
) -> strawberry.Schema:
    """The schema of these root types. prod: no introspection, no suggestions in errors
    (validation's nor the executor's), unexpected errors masked.

    `planned=False` leaves every field to graphql-core's own executor: the differential tests
    compare the two."""
    limits = limits or RequestLimits()
    # Bad text in an argument (NUL, unpaired surrogates), then tokens and persons per request:
    # refused before execution (app.api.arguments, app.api.limits).
    extensions: list[Callable[[], SchemaExtension]] = [TextArguments]
    extensions += schema_extensions(personbegrensning, limits)
    if prod:
        extensions.append(functools.partial(AddValidationRules,
                                            [NoSchemaIntrospectionCustomRule]))
    # Shared across requests (module-level caches bounded in bytes): a client repeating its
    # query skips parsing and validation. Keys are the query text with the token limit, and
    # with the rules, limits and suggestion setting, so a limit never answers for another.
    # Validation measures the document first (size, depth, aliases; app.api.limits) and leaves
    # suggestions out in prod (app.api.validation).
    extensions += [CachedParse,
                   functools.partial(Validation, limits=limits, hide_suggestions=prod)]
    # Work a resolver left running that must succeed before the answer leaves (a lookup's
    # audit record), awaited once execution is done.
    extensions.append(AwaitPending)
    extensions.append(OperationMetrics)  # counts the outcome the client gets
    # Last: answers the errors every other extension left, and masks in prod.
    extensions.append(functools.partial(ErrorAnswers, mask=prod))
    executor = PlannedExecutionContext if planned else AcyclicExecutionContext
    return KrrSchema(
        query=_root("Query", queries),
        mutation=_root("Mutation", mutations),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        scalar_overrides={dt.datetime: DATETIME, dt.date: DATE},
        execution_context_class=without_suggestions(executor) if prod else executor,
    )
