"""Around every request: its id, the log context, the app's metrics handle, one JSON access log
line (uvicorn's own is off) and X-Request-ID on every response."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs, metrics

access_log = logging.getLogger("krr.access")
error_log = logging.getLogger("krr.edge")
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(request: Request) -> str:
    """The caller's X-Request-ID when it is a sane token that holds no personal data (it goes
    into the logs and the audit log), else a new one.
    Kept on the request so the access log, the audit log and the response name the same id."""
    known = getattr(request.state, "request_id", None)
    if isinstance(known, str):
        return known
    given = request.headers.get("x-request-id", "")
    # An id that looks like personal data (a national id, say) is not taken: it would go into
    # every log line and the audit log as given.
    sane = _REQUEST_ID.fullmatch(given) and logs.redact(given) == given
    # Ours: 22 url-safe characters, letters mixed with digits, so never read as a personal id.
    request.state.request_id = given if sane else secrets.token_urlsafe(16)
    return str(request.state.request_id)


class Observed:
    """ASGI middleware, outermost: every route, protected or not, is observed alike."""

    def __init__(self, app: ASGIApp, metrics: metrics.Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(Request(scope))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        with metrics.serving(self.metrics), logs.request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                # Logged here, inside the request's context, so the traceback carries the request
                # id the 500 names; Starlette answers it outside, then the server logs it again.
                error_log.exception("unhandled %s %s", scope["method"], scope["path"])
                raise
            finally:
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                path: str = scope["path"]
                access_log.log(
                    logging.DEBUG if path in PROBES else logging.INFO,
                    "%s %s %s %.1fms", scope["method"], path, status, duration_ms,
                    extra={"method": scope["method"], "path": path, "status": status,
                           "duration_ms": duration_ms},
                )
