"""The one builder of an error answer over HTTP (app.errors' shape, app.faults' mapping)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from app.errors import error_document
from app.faults import Answer


def error_response(answer: Answer) -> Response:
    return Response(
        orjson.dumps(error_document(answer.message, answer.extensions)),
        status_code=answer.status,
        media_type="application/json",
        headers=answer.headers,
    )
