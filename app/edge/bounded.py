"""Every route not behind a `Guard` (the login, the development provider, the statistics page,
the published keys, the probes, GraphiQL's page, the style sheets) under the same deadline as
the guarded ones, KRR_REQUEST_TIMEOUT (app.edge.deadline).

The app wraps each such route when it is composed (app.edge.app), so a route added later is
bounded without asking for it; a route that keeps a deadline of its own says so with
`OwnDeadline` (the readiness probe, whose timeout is the load balancer's), and a Guard bounds
itself. As in the guard, the body is read first (within the body limit: a slow upload is the
server's to bound, not a slow database), then the route runs with it under the deadline. Its
answer is collected and sent once whole, so that a deadline passing half-way through is a
clean 503 (app.faults; a page under /admin) rather than half a page: these answers are small.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.edge.deadline import within
from app.edge.guard import read_body


class Bounded:
    """An ASGI app under a deadline of `seconds`, its body at most `max_body_bytes`. Past the
    deadline DeadlinePassed is raised (the app's one mapping answers it), nothing sent yet."""

    def __init__(self, app: ASGIApp, seconds: float, max_body_bytes: int) -> None:
        self.app = app
        self.seconds = seconds
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, self.max_body_bytes)
        answer: list[Message] = []

        async def collect(message: Message) -> None:
            answer.append(message)

        await within(self.seconds, self.app(scope, _then(body, receive), collect))
        for message in answer:
            await send(message)


def _then(body: bytes, receive: Receive) -> Receive:
    """The body read already, then what the client sends next (its disconnect, which a
    response may listen for while it is made)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class OwnDeadline:
    """A route that keeps a deadline of its own, which the app leaves as it is: said where the
    route is made, so that no route is left unbounded by leaving it out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
