"""GraphQL errors with the `extensions.code` that clients branch on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

BAD_USER_INPUT = "BAD_USER_INPUT"
FORBIDDEN = "FORBIDDEN"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"


def error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


class ContextErrors(SchemaExtension):
    """Adds the errors resolvers collected in the context to the response."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        extra = getattr(context, "errors", None)
        if extra and result is not None:
            result.errors = [*(result.errors or []), *extra]
