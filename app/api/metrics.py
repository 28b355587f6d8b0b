"""Metrics per GraphQL operation: counted and timed by its top-level fields, never by its
variables or the names a client chose (label values from a bounded set)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from app import metrics
from app.api.internals import graphql_schema

MULTIPLE = "multiple"  # an operation selecting several top-level fields
META_FIELDS = frozenset({"__typename", "__schema", "__type"})


def operation_label(
    document: DocumentNode | None, operation_name: str | None, schema: GraphQLSchema
) -> tuple[str, str]:
    """(the top-level field, operation type) of the operation that runs: the field's name when
    it selects one, MULTIPLE when several. Every label value is from a small fixed set: the
    schema's root fields and these words; never a client's operation name, never a combination
    of fields (a caller could otherwise create a series per request)."""
    if document is None:
        return "invalid", "unknown"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or
              (o.name is not None and o.name.value == operation_name)]
    if len(chosen) != 1:
        return "invalid", "unknown"
    operation = chosen[0]
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    known = set(root.fields) if root is not None else set()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names = {n for n in _field_names(operation.selection_set, fragments, set())
             if n in known or n in META_FIELDS}
    if not names:
        return "invalid", operation.operation.value
    return (names.pop() if len(names) == 1 else MULTIPLE), operation.operation.value


def _field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node.name.value
        elif isinstance(node, InlineFragmentNode):
            yield from _field_names(node.selection_set, fragments, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            if (fragment := fragments.get(node.name.value)) is not None:
                yield from _field_names(fragment.selection_set, fragments, seen)


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its top-level fields (never its variables)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        serving = metrics.current()
        if serving is None:
            return
        ctx = self.execution_context
        operation, kind = operation_label(
            ctx.graphql_document, ctx.operation_name, graphql_schema(ctx.schema)
        )
        outcome = "error" if ctx.result is not None and ctx.result.errors else "ok"
        serving.requests.labels(operation, kind, outcome).inc()
        serving.latency.labels(operation).observe(time.perf_counter() - started)
