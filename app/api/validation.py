"""Validation of a GraphQL document, ours instead of strawberry's, cached across requests.

In this order, and each step only when the one before it passed:

1. the document's size, depth and aliases (app.api.limits), measured in one linear pass: an
   attack that makes the rules expand fragments again and again is refused before any rule
   runs;
2. graphql-core's rules (the specified ones, those the schema adds, strawberry's own), with
   suggestions ("Did you mean 'personer'?") left out in prod, where they would tell an
   anonymous caller what turning introspection off hides. graphql-core meters its costliest
   rule, the merging of overlapping fields (quadratic in fields of one name), and here that
   budget is set low enough for milliseconds; an exhausted budget is QUERY_TOO_COMPLEX.
   An operation type the schema does not offer (a subscription: there is no Subscription
   type) is refused saying so and where changes are found instead (`ServedOperationTypes`).

Every error a rule gives without a code of its own is GRAPHQL_VALIDATION_FAILED, set here, so
the log line (app.api.errors) and the answer name the same code. A valid document that names no
one operation to run (several without an `operationName`, or an `operationName` it does not
hold) is then refused with OPERATION_RESOLUTION_FAILURE in graphql-js's words, before anything
runs (app.api.internals.GetOperation: strawberry would run the first).

Strawberry validates only when no extension has (`pre_execution_errors` still None), so the
result set here, errors or none, is the validation. The cache is keyed by the query text (the
document is parsed from it: app.api.parsing), the rules, the limits and the suggestion setting,
so a limit never answers for another; errors are shared between the requests that hit it. It is
bounded in bytes (app.cache), the errors counted with the whole document, whose tokens they
keep. Nothing relies on the cache: a comment of another length makes another text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    validate,
)
from graphql.validation import (
    ASTValidationRule,
    KnownOperationTypesRule,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from app.api.internals import STRAWBERRY_RULES, GetOperation, graphql_schema
from app.api.limits import QUERY_TOO_COMPLEX, RequestLimits, document_limits
from app.api.parsing import document_bytes
from app.cache import BoundedCache
from app.errors import GRAPHQL_VALIDATION_FAILED, OPERATION_RESOLUTION_FAILURE

# The budget of the overlapping-fields rule, in graphql-core's units (a field comparison is
# two); graphql-core's own default, 500,000, is about a second of work. Thirty aliases of a
# full lookup spend none of it; thirty copies of the same lookup field about 31,000.
OVERLAP_BUDGET = 20_000


class BudgetedOverlap(OverlappingFieldsCanBeMergedRule):
    """graphql-core's rule, with a budget of OVERLAP_BUDGET for this validation."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = OVERLAP_BUDGET


# Said to a subscription, over POST or as a WebSocket (app.edge.graphql).
SUBSCRIPTIONS_NOT_OFFERED = ("Subscriptions are not offered, over POST or a WebSocket: follow "
                             "changes by polling the change feed, endringer(fraEndringsId: ...)")


class ServedOperationTypes(KnownOperationTypesRule):
    """graphql-core's rule (an operation's root type must exist), saying what is not offered
    and, for a subscription, where changes are found instead."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if not self.context.schema.get_root_type(node.operation):
            self.report_error(GraphQLError(
                SUBSCRIPTIONS_NOT_OFFERED if node.operation is OperationType.SUBSCRIPTION
                else f"The {node.operation.value} operation is not offered by this schema",
                node))


# Our rules in place of graphql-core's.
REPLACED: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
    OverlappingFieldsCanBeMergedRule: BudgetedOverlap,
    KnownOperationTypesRule: ServedOperationTypes,
}

Rules = tuple[type[ASTValidationRule], ...]

VALIDATED_BYTES = 16 * 1024 * 1024  # what the validations kept hold, together
VALIDATED_ENTRY_BYTES = 1024 * 1024  # ... and one of them (as app.api.parsing's documents)
# What one error holds beside the document's nodes it names: its message, locations and
# extensions (measured under 1 KB for graphql-core's longest messages).
ERROR_BYTES = 2048

VALIDATED: BoundedCache[tuple[GraphQLSchema, str, Rules, RequestLimits, bool],
                        tuple[GraphQLError, ...]] = BoundedCache(VALIDATED_BYTES,
                                                                 VALIDATED_ENTRY_BYTES)


def validated(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Rules,
    limits: RequestLimits,
    hide_suggestions: bool,
) -> tuple[GraphQLError, ...]:
    """The document's validation errors (none: valid)."""
    refused = document_limits(document, limits)
    if refused:
        return tuple(refused)
    rules = tuple(REPLACED.get(r, r) for r in (*rules, *STRAWBERRY_RULES))
    errors = validate(schema, document, rules, hide_suggestions=hide_suggestions)
    for error in errors:
        # A budget spent, or too many errors: QUERY_TOO_COMPLEX.
        code = (QUERY_TOO_COMPLEX if isinstance(error, ValidationAbortedError)
                else (error.extensions or {}).get("code", GRAPHQL_VALIDATION_FAILED))
        error.extensions = {**(error.extensions or {}), "code": code}
    return tuple(errors)


def validated_once(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode,
    rules: Rules,
    limits: RequestLimits,
    hide_suggestions: bool,
) -> tuple[GraphQLError, ...]:
    """`validated`, kept for the query text `document` was parsed from. A valid document
    keeps only its text (and the key's rules); errors keep every token of the document their
    nodes point into, so they are counted with it."""
    key = (schema, query, rules, limits, hide_suggestions)
    errors = VALIDATED.get(key)
    if errors is None:
        errors = validated(schema, document, rules, limits, hide_suggestions)
        size = sys.getsizeof(query) + sys.getsizeof(rules)
        if errors:
            size += document_bytes(query, document) + ERROR_BYTES * len(errors)
        VALIDATED.put(key, errors, size)
    return errors


def unresolved(document: DocumentNode, name: str | None) -> GraphQLError:
    """The refusal of a document that names no one operation, as graphql-js words it."""
    operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    message = (f'Unknown operation named "{name}".' if name is not None
               else "Must provide operation name if query contains multiple operations."
               if operations > 1 else "Must provide an operation.")
    return GraphQLError(message, extensions={"code": OPERATION_RESOLUTION_FAILURE})


class Validation(SchemaExtension):
    """Validates in on_validate, before strawberry would (see the module's docstring)."""

    def __init__(self, *, limits: RequestLimits, hide_suggestions: bool) -> None:
        self.limits = limits
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            schema = graphql_schema(context.schema)
            rules = tuple(context.validation_rules)
            errors = list(
                validated(schema, document, rules, self.limits, self.hide_suggestions)
                if context.query is None else
                validated_once(schema, context.query, document, rules, self.limits,
                               self.hide_suggestions))
            if not errors and isinstance(context, GetOperation) and context.operation is None:
                errors = [unresolved(document, context.requested_operation_name)]
            context.pre_execution_errors = errors
        yield
