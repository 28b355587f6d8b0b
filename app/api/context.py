"""What a resolver knows about its request: `Info`, typed once for every resolver.

The verified request (who calls, request id, the moment) is `info.context.foresporsel`, the
sealing of cursors `info.context.cursors`; which
fields the query selects below a field, with fragments and @skip/@include resolved, comes from
`valgte_felt` (from graphql-core's info, whose nodes the errors point at).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError
from graphql.execution.values import VariableValues
from starlette.requests import Request
from starlette.responses import Response

from app.api.cursors import Cursors
from app.api.internals import resolve_info
from app.api.selection import selected_subfields
from app.foresporsel import Foresporsel


@dataclass(frozen=True, slots=True)
class Pending:
    """Work a resolver started that must succeed before any of the answer leaves (a lookup's
    audit record), with the field it belongs to."""

    work: asyncio.Future[Any]  # a task, say
    nodes: list[FieldNode]
    path: list[str | int]


@dataclass(slots=True)
class Context:
    request: Request | None
    foresporsel: Foresporsel
    cursors: Cursors  # how a connection seals its cursors (app.api.cursors)
    # The sub-response whose status and headers go on the HTTP answer (a 503, say).
    response: Response | None = None
    # Errors that accompany data (e.g. one FORBIDDEN per withheld field, not one per person).
    errors: list[GraphQLError] = field(default_factory=list)
    # Work to await before the answer leaves (app.api.pending).
    pending: list[Pending] = field(default_factory=list)


Info = strawberry.Info[Context, None]


def valgte_felt(
    info: Info, under: Sequence[FieldNode] | None = None
) -> dict[str, list[FieldNode]]:
    """Field name -> the nodes selecting it, below this field (or below `under`: the nodes of
    a field further down, as returned here)."""
    raw = resolve_info(info)
    nodes = raw.field_nodes if under is None else under
    variables = raw.variable_values  # strawberry hands resolvers the coerced dict itself
    coerced = variables.coerced if isinstance(variables, VariableValues) else variables
    return selected_subfields(nodes, raw.fragments, coerced)


def before_answer(info: Info, work: asyncio.Future[Any]) -> None:
    """`work` is awaited once the operation has completed its answer, before any of it leaves;
    its failure is then this field's error, as if the resolver had raised it, and the answer
    holds no data (app.api.pending)."""
    raw = resolve_info(info)
    info.context.pending.append(Pending(work, list(raw.field_nodes), raw.path.as_list()))


def sti(info: Info) -> list[str | int]:
    """The response path of this field."""
    return list(info.path.as_list())


def noekkel(node: FieldNode) -> str:
    """The response key of a selected field: its alias, else its name."""
    return (node.alias or node.name).value
