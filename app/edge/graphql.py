"""`POST /graphql` behind the guard, and `GET /graphql` (GraphiQL in dev, else 405).

strawberry's view runs the operation with the verified request as its context. Its own
refusals of a malformed request (not JSON, no query) come back in the one error shape; GET
never runs an operation, since personal ids in a URL end up in access logs.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL

from app.api.context import Context
from app.api.internals import graphql_schema, strawberry_field
from app.api.tilgang import tillatelse
from app.errors import BadRequest, BatchNotAllowed, MethodNotAllowed
from app.foresporsel import Foresporsel
from app.graphiql import side as graphiql
from app.text import NotJson, load_json

JSON = frozenset({"application/json"})


# What an operationName may be: a GraphQL name (graphql-core echoes one it cannot find).
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


class KrrGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view with our context, orjson encoding, and JSON read as the rest of
    the service reads it (app.text: what orjson refuses is read again by the standard library,
    so a bad string in a variable is refused naming its argument, not as malformed JSON)."""

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(request=request, foresporsel=request.state.foresporsel,
                       response=response)

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

    def __init__(self, view: KrrGraphQL) -> None:
        self.view = view

    async def __call__(self, request: Request, foresporsel: Foresporsel) -> Response:
        try:
            response: Response = await self.view.run(request)
        except HTTPException as exc:  # strawberry's refusal of the HTTP request itself
            if exc.status_code == 405:
                raise MethodNotAllowed(exc.reason, allow="POST") from exc
            raise BadRequest(exc.reason) from exc
        return response

    async def get(self, request: Request) -> Response:
        if self.view.graphql_ide and "text/html" in request.headers.get("accept", ""):
            return await self.view.render_graphql_ide(request)
        raise MethodNotAllowed(
            "GraphQL operations must be sent with POST (application/json)", allow="POST"
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


def bare_offentlig(body: bytes, offentlige: frozenset[str]) -> bool:
    """True when the request is one query whose top-level fields are all public (no token
    needed). Anything unparsable or mixed is not: it then needs a token like everything else."""
    try:
        payload = load_json(body)
        document = parse(payload["query"], no_location=True, max_tokens=2000)
    except (NotJson, KeyError, TypeError, GraphQLError):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    if any(isinstance(d, FragmentDefinitionNode) for d in document.definitions):
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(node, FieldNode) and node.name.value in offentlige
               for node in selections)
