"""The one shape of an error answer, and the failures a client is told about.

Every refusal, whether the edge gives it (401, 413, 429, ...), GraphQL or REST, is
`{"errors": [{"message": ..., "extensions": {"code": ..., ...}}]}`: clients branch on
`extensions.code`, people read `message`. A failure the client should hear about is raised as a
`ClientError` (or, from authz, as its `Avslag`); app.faults turns any of them, and an unreachable
database, into the answer. Nothing here does I/O, so pure rules can raise these too.
"""

from __future__ import annotations

from typing import Any, ClassVar

# --- codes (extensions.code) ----------------------------------------------------------------
BAD_REQUEST = "BAD_REQUEST"  # the HTTP request itself is malformed (not JSON, no query)
BAD_USER_INPUT = "BAD_USER_INPUT"  # what was asked for is wrong (an id, an argument, a body field)
# GraphQL's own refusals of a document before it runs, by Apollo's names: it does not parse; it
# does not validate against the schema (an unknown field or enum value, an operation type the
# schema does not offer); it parses and validates but names no one operation to run (several
# without an operationName, or an operationName it does not hold). Variables that do not
# coerce are BAD_USER_INPUT, as in Apollo Server.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"  # the request's headers or body came too slowly
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"  # the answer cannot be given in the form Accept asks for
CONFLICT = "CONFLICT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
BATCH_NOT_ALLOWED = "BATCH_NOT_ALLOWED"
RATE_LIMITED = "RATE_LIMITED"
# Persisted operations (app.edge.persisted): a hash this process has not stored (Apollo's APQ:
# the client sends the document with it next), one that is not its document's, and, with
# KRR_TRUSTED_DOCUMENTS, a document that is not in the operator's manifest.
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

RETRY_AFTER_SECONDS = 2  # what a 503 asks the client to wait


def error_object(message: str, extensions: dict[str, Any]) -> dict[str, Any]:
    """One error as every answer writes it."""
    return {"message": message, "extensions": extensions}


def error_document(message: str, extensions: dict[str, Any]) -> dict[str, Any]:
    """A whole answer that is one error."""
    return {"errors": [error_object(message, extensions)]}


class ClientError(Exception):
    """A failure the client is told about: an HTTP status, a code and further extensions.

    graphql-core copies `message` and `extensions` of an exception a resolver raises into the
    response error, so GraphQL needs no mapping of its own for these."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = BAD_USER_INPUT
    default_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extensions}
        self.headers: dict[str, str] = dict(self.default_headers)


class BadRequest(ClientError):
    code = BAD_REQUEST


class BadInput(ClientError):
    """What was asked for cannot be served as asked; nothing was done."""


class NotLoggedIn(ClientError):
    """A page for people asked for without a live session (the pages send them to log in)."""

    status = 401
    code = UNAUTHENTICATED


class Forbidden(ClientError):
    status = 403
    code = FORBIDDEN


class NotFound(ClientError):
    status = 404
    code = NOT_FOUND


class MethodNotAllowed(ClientError):
    status = 405
    code = METHOD_NOT_ALLOWED

    def __init__(self, message: str, allow: str, **extensions: Any) -> None:
        super().__init__(message, **extensions)
        self.headers["Allow"] = allow


class NotAcceptable(ClientError):
    status = 406
    code = NOT_ACCEPTABLE


class RequestTimeout(ClientError):
    """The request's headers or body did not arrive within their deadline (KRR_HEADER_TIMEOUT,
    KRR_BODY_TIMEOUT): the connection is closed after this answer, so what was received is let
    go and the client cannot go on sending."""

    status = 408
    code = REQUEST_TIMEOUT
    default_headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class Conflict(ClientError):
    status = 409
    code = CONFLICT


class PayloadTooLarge(ClientError):
    status = 413
    code = PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ClientError):
    status = 415
    code = UNSUPPORTED_MEDIA_TYPE


class BatchNotAllowed(ClientError):
    code = BATCH_NOT_ALLOWED


class OperationResolutionFailure(ClientError):
    """The document holds no one operation to run (GraphQL's GetOperation): refused before
    anything runs rather than running the first."""

    code = OPERATION_RESOLUTION_FAILURE


class PersistedQueryNotFound(ClientError):
    """A 200, with Apollo's message: what Apollo's clients expect before sending the document."""

    status = 200
    code = PERSISTED_QUERY_NOT_FOUND

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class PersistedQueryHashMismatch(ClientError):
    code = PERSISTED_QUERY_HASH_MISMATCH

    def __init__(self) -> None:
        super().__init__("provided sha does not match query")


class PersistedQueryNotAllowed(ClientError):
    code = PERSISTED_QUERY_NOT_ALLOWED


class RateLimited(ClientError):
    status = 429
    code = RATE_LIMITED

    def __init__(self, retry_after: int, message: str | None = None, **extensions: Any) -> None:
        super().__init__(message or f"Rate limit exceeded; retry after {retry_after} s",
                         retryAfter=retry_after, **extensions)
        self.headers["Retry-After"] = str(retry_after)


class Unavailable(ClientError):
    """The service cannot answer now (database down, audit log not writable); retry shortly."""

    status = 503
    code = SERVICE_UNAVAILABLE
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class DeadlinePassed(Unavailable):
    """The request's deadline (KRR_REQUEST_TIMEOUT) passed before its answer was ready: most
    likely a database that has stopped answering. The work was abandoned and its database
    connections discarded; nothing it wrote in an unfinished transaction stays."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request did not finish within {seconds:g} s; try again shortly")
