"""Which fields a query selects below a field, with fragments and @skip/@include resolved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)


def _directive_if(node: Any, name: str, variables: dict[str, Any]) -> bool | None:
    """The `if` of @skip/@include on `node` (validation has already checked its type)."""
    for directive in node.directives or ():
        if directive.name.value != name:
            continue
        for argument in directive.arguments:
            if argument.name.value != "if":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                return bool(variables.get(value.name.value))
            if isinstance(value, BooleanValueNode):
                return value.value
    return None


def _included(node: Any, variables: dict[str, Any]) -> bool:
    return (
        _directive_if(node, "skip", variables) is not True
        and _directive_if(node, "include", variables) is not False
    )


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    into: dict[str, list[FieldNode]],
) -> None:
    if selection_set is None:
        return
    for node in selection_set.selections:
        if not _included(node, variables):
            continue
        if isinstance(node, FieldNode):
            into.setdefault(node.name.value, []).append(node)
        elif isinstance(node, InlineFragmentNode):
            _collect(node.selection_set, fragments, variables, into)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, variables, into)


def selected_subfields(
    field_nodes: Iterable[FieldNode],
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any] | None,
) -> dict[str, list[FieldNode]]:
    """Field name -> the nodes selecting it, below `field_nodes` (introspection names excluded)."""
    found: dict[str, list[FieldNode]] = {}
    for node in field_nodes:
        _collect(node.selection_set, fragments, variables or {}, found)
    found.pop("__typename", None)
    return found
