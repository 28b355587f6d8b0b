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
            # Root fields resolve concurrently, so they add their errors in whichever order they
            # finish; the response lists them in the order of the fields instead.
            order = {key: i for i, key in enumerate(result.data or {})}
            extra = sorted(extra, key=lambda e: order.get(e.path[0], len(order)) if e.path else -1)
            result.errors = [*(result.errors or []), *extra]


INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


def unexpected(err: GraphQLError) -> bool:
    """A resolver's own failure: not a GraphQL (syntax, validation) error, no code of ours."""
    original = err.original_error
    return (
        (err.extensions or {}).get("code") is None
        and original is not None
        and not isinstance(original, GraphQLError)
    )


class MaskUnexpectedErrors(SchemaExtension):
    """Prod: an unexpected error says only "internal error" with the request id; the detail is
    in the log (KrrSchema.process_errors runs before this). Listed last: errors that other
    extensions give a code (e.g. SERVICE_UNAVAILABLE) are not masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors or not any(map(unexpected, result.errors)):
            return
        request_id = getattr(self.execution_context.context, "request_id", None) or "-"
        result.errors = [
            GraphQLError(
                f"internal error (request id {request_id})",
                nodes=err.nodes, source=err.source, positions=err.positions, path=err.path,
                extensions={"code": INTERNAL_SERVER_ERROR, "request_id": request_id},
            )
            if unexpected(err) else err
            for err in result.errors
        ]
