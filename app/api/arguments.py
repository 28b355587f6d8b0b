"""Every string an operation hands a resolver is text the service accepts (app.text).

A NUL character would reach PostgreSQL and fail there; an unpaired surrogate (which only a
variable can carry: the GraphQL lexer refuses one in the query text) would fail the encoder
the moment an error echoed it. Both are refused before execution, as BAD_USER_INPUT naming the
argument (and the field or directive it belongs to), for literals and variables alike, nested
in lists and input objects, in every operation and fragment of the document, whatever the
argument's type: a variable of an enum or Int type echoes its value when coercion refuses it.
The bad value itself is never echoed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from app.errors import BAD_USER_INPUT
from app.text import first_bad, problem

ALLOWED = "text must not hold NUL characters or unpaired surrogates"


def _arguments(document: DocumentNode) -> Iterator[tuple[str, ArgumentNode]]:
    """(field or @directive, argument) for every argument in the document, each once (fragments
    are walked where they are defined, not where they are spread)."""
    pending: list[Node] = list(reversed(document.definitions))
    while pending:
        node = pending.pop()
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments or ():
                yield f"@{directive.name.value}", argument
        if isinstance(node, FieldNode):
            for argument in node.arguments or ():
                yield node.name.value, argument
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            pending.extend(reversed(selection_set.selections))


def _literal(value: ValueNode, where: str) -> Iterator[tuple[str, str | VariableNode]]:
    """(where, problem) for a bad string in a literal, (where, variable) for a variable in it.
    Recursive: the parser bounds how deep a literal nests."""
    if isinstance(value, StringValueNode):
        if (wrong := problem(value.value)) is not None:
            yield where, wrong
    elif isinstance(value, VariableNode):
        yield where, value
    elif isinstance(value, ListValueNode):
        for i, item in enumerate(value.values):
            yield from _literal(item, f"{where}[{i}]")
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _literal(field.value, f"{where}.{field.name.value}")


def _refusal(owner: str, where: str, wrong: str, node: Node) -> GraphQLError:
    return GraphQLError(
        f"Argument {where!r} of {owner!r} {wrong}; {ALLOWED}", node,
        extensions={"code": BAD_USER_INPUT, "argument": where, "field": owner},
    )


def bad_text(document: DocumentNode, variables: Mapping[str, Any]) -> GraphQLError | None:
    """The refusal of the first bad string among the document's arguments, or None."""
    usages: dict[str, tuple[str, str, Node]] = {}  # variable -> its first use
    for owner, argument in _arguments(document):
        for where, found in _literal(argument.value, argument.name.value):
            if isinstance(found, VariableNode):
                usages.setdefault(found.name.value, (owner, where, argument))
            else:
                return _refusal(owner, where, found, argument)
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            owner, where, node = usages.get(name, ("", f"${name}", definition))
            bad: tuple[str, str] | None = None
            if name in variables:
                bad = first_bad(variables[name], where)
            elif definition.default_value is not None:  # a constant: no variables in it
                for at, wrong in _literal(definition.default_value, where):
                    if isinstance(wrong, str):
                        bad = (at, wrong)
                        break
            if bad is None:
                continue
            if not owner:  # used by no argument (validation refuses that): named by itself
                return GraphQLError(
                    f"Variable {bad[0]!r} {bad[1]}; {ALLOWED}", definition,
                    extensions={"code": BAD_USER_INPUT, "variable": name},
                )
            return _refusal(owner, bad[0], bad[1], node)
    return None


class TextArguments(SchemaExtension):
    """Refuses an operation with a bad string in an argument before it executes (before its
    variables are even coerced, since coercion errors echo values)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            error = bad_text(document, context.variables or {})
            if error is not None:
                context.result = ExecutionResult(data=None, errors=[error])
        yield
