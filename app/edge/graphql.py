"""`POST /graphql` behind the guard, `GET /graphql` (GraphiQL in dev, else 405), and a
WebSocket on it (refused: subscriptions are not offered).

strawberry's view runs the operation with the verified request as its context. Its own
refusals of a malformed request (not JSON, no query) come back in the one error shape; GET
never runs an operation, since personal ids in a URL end up in access logs.

The answer's media type (GraphQL over HTTP): `application/graphql-response+json` when Accept
names it at least as high as `application/json`, with the spec's status codes for it: 400, and
no `data` entry, for a request refused before execution (the document does not parse or
validate or names no one operation, the variables do not coerce, a limit refuses it), 200 once
execution started. Otherwise (no Accept, `*/*`, JSON preferred) `application/json`, 200 for all
of these. The refusals of the HTTP request itself (the guard's 401, 413, 415, 429, the
persisted documents', GET's) keep their status and come in the same media type
(`response_media_type`, the one choice), so a client reading only graphql-response+json's
errors on a 4xx (Apollo Client 4) sees their code.

A signed answer (app.edge.signed) names each field as the schema does and carries only the
register's own words: a document with aliases is refused before it runs, and an answer that
carries any error but a withheld field's (FORBIDDEN) goes out unsigned, as a 406 saying why.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    visit,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from app.api.context import Context
from app.api.cursors import Cursors
from app.api.internals import graphql_schema, strawberry_field
from app.api.parsing import parsed
from app.api.tilgang import tillatelse
from app.api.validation import SUBSCRIPTIONS_NOT_OFFERED
from app.edge.accept import named, quality_of, ranges
from app.edge.persisted import PersistedOperations, sha256_hex
from app.edge.responses import JSON as JSON_MEDIA
from app.edge.responses import error_response
from app.edge.signed import NOT_SIGNED, Asked, prefers_signed, unsignable
from app.errors import (
    NOT_ACCEPTABLE,
    SERVICE_UNAVAILABLE,
    BadRequest,
    BatchNotAllowed,
    ClientError,
    MethodNotAllowed,
    NotAcceptable,
    error_object,
)
from app.faults import Answer, answer_for
from app.foresporsel import Foresporsel
from app.graphiql import side as graphiql
from app.text import NotJson, load_json

JSON = frozenset({JSON_MEDIA})
GRAPHQL_RESPONSE = "application/graphql-response+json"
HTML = "text/html"
# What GET refuses to run: anything that carries an operation in the URL.
OPERATION_PARAMETERS = frozenset(
    {"query", "variables", "operationName", "extensions", "documentId"}
)
GET_REFUSED = ("Send GraphQL operations by POST: a query in a URL would put personal ids in "
               "access logs")
# A WebSocket closed before it opens (RFC 6455 7.4.1: 1008, policy), with a reason: at most
# 123 bytes.
POLICY_VIOLATION = 1008
WEBSOCKET_CLOSED = "Subscriptions are not offered: poll the change feed, endringer(fraEndringsId)"


# What a request without a token may send. Only public fields run for it (the key figures: a
# query of every one of them is 40 tokens and 260 bytes), so a larger body is refused before it
# is read (413), and a document of more tokens needs a token (401) after a parse of at most
# these. With a token's limits (KRR_MAX_BODY_BYTES, KRR_MAX_TOKENS) anyone could make a worker
# read a megabyte and parse thousands of tokens per request.
PUBLIC_MAX_BODY_BYTES = 8 * 1024
PUBLIC_MAX_TOKENS = 500

# What an operationName may be: a GraphQL name (graphql-core echoes one it cannot find).
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


class KrrGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view with our context (the cursors sealed with `cursors`), orjson
    encoding, and JSON read as the rest of the service reads it (app.text: what orjson refuses
    is read again by the standard library, so a bad string in a variable is refused naming its
    argument, not as malformed JSON)."""

    def __init__(self, schema: strawberry.Schema, *, cursors: Cursors, **options: Any) -> None:
        super().__init__(schema, **options)
        self.cursors = cursors

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(request=request, foresporsel=request.state.foresporsel,
                       cursors=self.cursors, response=response)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return load_json(data)
        except NotJson as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc

    async def render_graphql_ide(self, request: Any) -> Response:
        """Our GraphiQL page (app.graphiql), whose assets the service serves itself."""
        return graphiql.side()

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        """The answer's body; for `application/graphql-response+json` without `data` when the
        request was refused before execution. What was decided is left on the request's state
        for `GraphQLEndpoint` (the status) and the persisted operations (what may be stored)."""
        data = await super().process_result(request, result)
        refused = refused_before_execution(result)
        request.state.refused_before_execution = refused
        if refused and response_media_type(request) == GRAPHQL_RESPONSE:
            data.pop("data", None)
        if prefers_signed(request.headers.get("accept")):
            codes = unsignable((e.extensions or {}).get("code") for e in result.errors or ())
            # A failure (503) is answered as one: it is never signed, and the request was fine.
            request.state.not_signable = bool(codes) and SERVICE_UNAVAILABLE not in codes
            if request.state.not_signable:
                message = NOT_SIGNED.format(codes=", ".join(codes))
                data["errors"] = [*(data.get("errors") or []),
                                  error_object(message, {"code": NOT_ACCEPTABLE})]
        return data

    async def parse_http_body(self, request: Any) -> Any:
        """The request, with an operationName that is a GraphQL name or none: an unknown
        name is echoed in the refusal, and a name holding an unpaired surrogate cannot be."""
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            name = item.operation_name
            if name is not None and not (isinstance(name, str) and NAME.fullmatch(name)):
                raise HTTPException(
                    400, "operationName must be the name of an operation in the document"
                )
        return data


class GraphQLEndpoint:
    """The guarded handler (POST) and the unguarded GET of /graphql."""

    def __init__(self, view: KrrGraphQL, persisted: PersistedOperations | None = None) -> None:
        self.view = view
        self.persisted = persisted or PersistedOperations()

    async def __call__(self, request: Request, foresporsel: Foresporsel) -> Response:
        try:
            response: Response = await self.view.run(request)
        except HTTPException as exc:  # strawberry's refusal of the HTTP request itself
            if exc.status_code == 405:
                raise MethodNotAllowed(exc.reason, allow="POST") from exc
            raise BadRequest(exc.reason) from exc
        self.persisted.remember(request)
        if getattr(request.state, "not_signable", False) and response.status_code == 200:
            response.status_code = 406  # answered, as JSON: only the signature is refused
        if response_media_type(request) == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if getattr(request.state, "refused_before_execution", False):
                response.status_code = 400
        return response

    async def get(self, request: Request) -> Response:
        """GraphiQL's page (outside prod) for a browser asking for a page; anything else, an
        operation in the URL above all, is refused, and a WebSocket's handshake (a GET asking
        to upgrade, which `krr serve` never does) is told that subscriptions are not offered.
        """
        if websocket_upgrade(request):
            return refused(request, BadRequest(SUBSCRIPTIONS_NOT_OFFERED))
        if (self.view.graphql_ide and not OPERATION_PARAMETERS & request.query_params.keys()
                and wants_page(request.headers.get("accept"))):
            return await self.view.render_graphql_ide(request)
        return refused(request, MethodNotAllowed(GET_REFUSED, allow="POST"))


def websocket_upgrade(request: Request) -> bool:
    """A WebSocket's opening handshake (RFC 6455 4.1: `Upgrade: websocket`)."""
    return "websocket" in request.headers.get("upgrade", "").lower()


def refused(request: Request, refusal: ClientError) -> Response:
    """The refusal in the one error shape, in the media type a GraphQL answer would have."""
    return error_response(answer_of(refusal), response_media_type(request))


def answer_of(refusal: ClientError) -> Answer:
    answer = answer_for(refusal)
    assert answer is not None  # the mapping answers every ClientError
    return answer


async def refuse_websocket(websocket: WebSocket) -> None:
    """A WebSocket on /graphql, where a server that speaks WebSocket hands one over (`krr
    serve` does not: app.cli): refused before it opens with the answer a handshake gets over
    HTTP (`GraphQLEndpoint.get`), or, where the server cannot send an HTTP answer to a
    handshake, closed with the reason (1008, policy)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        refusal = answer_of(BadRequest(SUBSCRIPTIONS_NOT_OFFERED))
        await websocket.send_denial_response(error_response(refusal))
    else:
        await websocket.close(POLICY_VIOLATION, WEBSOCKET_CLOSED)


def wants_page(accept: str | None) -> bool:
    """Accept prefers a page (a browser's `text/html,...,*/*;q=0.8`) to either JSON answer."""
    accepted = ranges(accept or "")
    html = quality_of(HTML, accepted)
    return html > 0 and html > max(quality_of(JSON_MEDIA, accepted),
                                   quality_of(GRAPHQL_RESPONSE, accepted))


def response_media_type(request: Request) -> str:
    """`application/graphql-response+json` when Accept names it at least as high as JSON (and
    does not ask for a signed answer, which signs the JSON); else `application/json`."""
    accept = request.headers.get("accept")
    if not accept or prefers_signed(accept):
        return JSON_MEDIA
    accepted = ranges(accept)
    if named(GRAPHQL_RESPONSE, accepted) and (
        quality_of(GRAPHQL_RESPONSE, accepted) >= quality_of(JSON_MEDIA, accepted)
    ):
        return GRAPHQL_RESPONSE
    return JSON_MEDIA


def refused_before_execution(result: ExecutionResult) -> bool:
    """Whether the request was refused before execution started. strawberry marks a document
    that did not parse or validate; graphql-core gives every error of a started execution the
    path of its field, so an answer without data whose errors have no path never started
    (variables that do not coerce, an unknown operationName, the persons cap)."""
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(
        error.path is None for error in result.errors or ()
    )


def refuse_batch(body: bytes) -> None:
    """A JSON array body: strawberry would refuse it too (batching is off), but without a code."""
    if body.lstrip()[:1] == b"[":
        raise BatchNotAllowed(
            "Batched (array) operations are not accepted: send one operation per request"
        )


def offentlige_felt(schema: strawberry.Schema) -> frozenset[str]:
    """The Query fields that need no token: those declared public (authz.tillatelse)."""
    query = graphql_schema(schema).query_type
    assert query is not None
    navn = {"__typename"}
    for name, field in query.fields.items():
        definition = strawberry_field(field)
        declared = tillatelse(definition) if definition is not None else None
        if declared is not None and declared.offentlig:
            navn.add(name)
    return frozenset(navn)


def offentlig(query: str, offentlige: frozenset[str]) -> bool:
    """True when the document is one query whose top-level fields are all public (no token
    needed). Anything unparsable or mixed is not: it then needs a token like everything else."""
    try:
        document = parsed(query, PUBLIC_MAX_TOKENS)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    if any(isinstance(d, FragmentDefinitionNode) for d in document.definitions):
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(node, FieldNode) and node.name.value in offentlige
               for node in selections)


def signed_operation(body: bytes, max_tokens: int) -> Asked:
    """What a signed answer binds of a GraphQL request beyond its body's hash: the document
    that runs (`query_sha256`, hashed as persisted operations are, so a trusted document's
    hash names it) and the operation's name. A document with an alias is refused (406): an
    alias names a field's value as the caller likes (`epostadresseOppdatert:
    mobiltelefonnummerOppdatert`), and a signed answer is read by people who see only its
    keys. A body that is not a GraphQL request binds what it has: it is refused later."""
    try:
        payload = load_json(body)
    except NotJson:
        payload = None
    query = payload.get("query") if isinstance(payload, dict) else None
    name = payload.get("operationName") if isinstance(payload, dict) else None
    if isinstance(query, str):
        try:
            renamed = aliases(parsed(query, max_tokens))
        except GraphQLError:
            renamed = []  # strawberry refuses it, unsigned
        if renamed:
            shown = ", ".join(f"{alias} ({field})" for alias, field in renamed[:5])
            raise NotAcceptable(
                "A signed answer names every field as the schema does, so its document may "
                f"not rename one; this one has aliases: {shown}. Ask without aliases, or for "
                f"{JSON_MEDIA}", aliases=[alias for alias, _ in renamed],
            )
    return {"query_sha256": sha256_hex(query) if isinstance(query, str) else None,
            "operation_name": name if isinstance(name, str) else None}


def aliases(document: DocumentNode) -> list[tuple[str, str]]:
    """Every (alias, field) in the document, fragments included."""
    found: list[tuple[str, str]] = []

    class Aliases(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                found.append((node.alias.value, node.name.value))

    visit(document, Aliases())
    return found
