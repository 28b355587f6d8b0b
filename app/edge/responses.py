"""The one builder of an error answer over HTTP (app.errors' shape, app.faults' mapping)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from app.errors import error_document
from app.faults import Answer

JSON = "application/json"


def error_response(answer: Answer, media_type: str = JSON) -> Response:
    """The answer in the one error shape; `media_type` another JSON type where the route's
    client asked for one (GraphQL's `application/graphql-response+json`)."""
    return Response(
        orjson.dumps(error_document(answer.message, answer.extensions)),
        status_code=answer.status,
        media_type=media_type,
        headers=answer.headers,
    )
