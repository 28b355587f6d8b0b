"""GraphQL's side of the one error mapping (app.faults).

A resolver raises what went wrong (a `ClientError`, an authz `Avslag`, or whatever the database
driver raised) and never builds a GraphQL error for it: graphql-core already copies a
`ClientError`'s message and code, and `ErrorAnswers` gives every other error the mapping knows
its answer once the operation has run. Every error carries a code (`code_of`), GraphQL's own
refusals too, by Apollo's names, so a client branches on `extensions.code` alone: a document
that does not parse is GRAPHQL_PARSE_FAILED, one that does not validate
GRAPHQL_VALIDATION_FAILED (set by app.api.validation), variables that do not coerce (or are
missing) BAD_USER_INPUT, and a field's failure no rule answers INTERNAL_SERVER_ERROR. Any
error the mapping answers with SERVICE_UNAVAILABLE (an unreachable database, an audit record
that could not be written) makes the HTTP answer 503 with Retry-After, as over REST; in prod,
an unexpected error says only "internal error" with the request id, its detail going to the
log (`log_errors`) and nowhere else.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from app.errors import (
    BAD_USER_INPUT,
    GRAPHQL_PARSE_FAILED,
    INTERNAL_SERVER_ERROR,
    SERVICE_UNAVAILABLE,
)
from app.faults import answer_for

log = logging.getLogger("krr.graphql")


def _code(err: GraphQLError) -> str | None:
    code = (err.extensions or {}).get("code")
    return None if code is None else str(code)


def _unexpected(err: GraphQLError) -> bool:
    """A resolver's own failure that no rule answers for (not a syntax or validation error)."""
    original = err.original_error
    return (
        _code(err) is None
        and original is not None
        and not isinstance(original, GraphQLError)
        and answer_for(original) is None
    )


def code_of(err: GraphQLError) -> str:
    """The code `err` answers with: its own (a `ClientError`'s, a limit's, validation's); the
    one mapping's for what a resolver raised; else by where GraphQL refused it. Before any
    field runs graphql-core gives, beside parse and validation errors (coded by then), only
    its refusal of the variables (they do not coerce, or one required is missing): those have
    no path. A field's error without a code is a failure no rule answers: a bug."""
    code = _code(err)
    if code is not None:
        return code
    original = err.original_error
    answer = None if original is None else answer_for(original)
    if answer is not None:
        return answer.code
    if _unexpected(err):
        return INTERNAL_SERVER_ERROR
    if isinstance(err, GraphQLSyntaxError):
        return GRAPHQL_PARSE_FAILED
    return BAD_USER_INPUT if err.path is None else INTERNAL_SERVER_ERROR


def log_errors(errors: list[GraphQLError]) -> None:
    """Errors are logged without their messages or the query: both can hold personal ids and
    addresses, which never go into a log line. An unexpected one is logged with its frames."""
    for err in errors:
        path = ".".join(str(p) for p in err.path or ()) or "-"
        if _unexpected(err):
            original = err.original_error
            assert original is not None
            frames = "".join(traceback.format_tb(original.__traceback__))
            log.error("unexpected %s at path=%s\n%s", type(original).__name__, path, frames)
            continue
        log.info("graphql error code=%s path=%s", code_of(err), path)


def forget_frames(errors: Iterable[BaseException]) -> None:
    """Drops the tracebacks of logged errors, their original errors', causes' and contexts'.

    A traceback holds every frame the error passed through, with its locals: graphql-core's
    executor, which keeps the error among its collected errors, and the frame that raised a
    located error, which holds that error. Kept, these are reference cycles reaching the whole
    request (context, body, variables), which only a full collection frees, and a serving
    worker practically never runs one (app.edge.runtime). Once logged, nothing reads them."""
    seen: set[int] = set()
    stack = list(errors)
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        error.__traceback__ = None
        original = getattr(error, "original_error", None)
        stack.extend(linked for linked in (original, error.__cause__, error.__context__)
                     if isinstance(linked, BaseException))


class ErrorAnswers(SchemaExtension):
    """After the operation: the errors resolvers collected in the context (one FORBIDDEN per
    withheld field, say) join the response in field order; every error without a code gets the
    answer the one mapping gives it, or else its code (`code_of`); and, with `mask` (prod),
    a failure no rule answers (INTERNAL_SERVER_ERROR) is masked. Listed last, so it sees the
    errors every other extension left."""

    def __init__(self, *, mask: bool = False) -> None:
        self.mask = mask

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        if result is None:
            return
        extra = getattr(context, "errors", None)
        if extra:
            # Root fields resolve concurrently, so they add their errors in whichever order
            # they finish; the response lists them in the order of the fields instead.
            order = {key: i for i, key in enumerate(result.data or {})}
            extra = sorted(extra, key=lambda e: order.get(e.path[0], len(order)) if e.path else -1)
            result.errors = [*(result.errors or []), *extra]
        if not result.errors:
            return
        request_id = getattr(getattr(context, "foresporsel", None), "request_id", None) or "-"
        unavailable: dict[str, str] | None = None  # the headers of a 503 answer, when one is
        answered = []
        for err in result.errors:
            original = err.original_error
            answer = None if original is None else answer_for(original)
            if answer is not None and answer.code == SERVICE_UNAVAILABLE:
                # Whether the driver raised it or a resolver raised `Unavailable` (an audit
                # record that could not be written): 503 with Retry-After, as over REST.
                unavailable = answer.headers
            code = code_of(err)
            if _code(err) is not None:
                answered.append(err)
            elif answer is not None:
                answered.append(_with(err, answer.message, answer.extensions))
            elif self.mask and code == INTERNAL_SERVER_ERROR:
                answered.append(_with(err, f"internal error (request id {request_id})",
                                      {"code": code, "request_id": request_id}))
            else:
                answered.append(_with(err, err.message, {**(err.extensions or {}), "code": code}))
        result.errors = answered
        response = getattr(context, "response", None)
        if unavailable is not None and response is not None:
            response.status_code = 503
            response.headers.update(unavailable)


def _with(err: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    """`err` (where it points, its original error) with this message and these extensions: a
    new error, since one may be shared (a cached validation's)."""
    return GraphQLError(message, nodes=err.nodes, source=err.source, positions=err.positions,
                        path=err.path, original_error=err.original_error,
                        extensions=extensions)
