"""Reading a request has deadlines of its own: its headers, then its body.

uvicorn bounds neither. A connection that sends nothing, or sends its headers a byte at a time,
is held for as long as the client likes (uvicorn's keep-alive timeout runs only between
requests, and stops at the next request's first byte); a body that stalls one byte short of
its end holds the connection, and everything received of it, just as long. So:

- headers: `HeaderDeadline`, the connection's protocol (uvicorn's h11 one, which `krr serve`
  names instead of uvicorn's automatic choice), closes a connection whose request's headers are
  not complete within KRR_HEADER_TIMEOUT of the connection being opened or, on a kept-alive
  connection, of the next request's first byte (the time before it is uvicorn's keep-alive's).
  If part of a request arrived, it is answered 408 first, in the one error shape.
- body: `BodyDeadline`, around the app, bounds every `receive` until the body is complete to
  KRR_BODY_TIMEOUT from the headers' arrival: past it whoever reads the body (the guard, a
  page's form) gets `RequestTimeout`, answered 408 with `Connection: close`, so uvicorn closes
  the connection and what was received of the body is let go.

After the body, the request's own deadline (KRR_REQUEST_TIMEOUT, app.edge.deadline) runs.

A connection closed while its client may still be sending (a 408 to a body or headers still
coming) is closed lingering (RFC 9112 9.6): the answer and then the end of the server's side
sent, what still arrives read and dropped until the client closes too or LINGER passes. An
immediate close with bytes unread or arriving makes the kernel reset the connection, and a
client can lose the answer to the reset (or read it and then fail on the reset).
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import h11
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle
from uvicorn.server import ServerState

from app import metrics
from app.edge.headers import EVERY_ANSWER, NOT_KEPT
from app.errors import RequestTimeout, error_document


def _answer(exc: RequestTimeout) -> bytes:
    """`exc` as a whole HTTP/1.1 response, written by the protocol where no app answers."""
    body = orjson.dumps(error_document(exc.message, exc.extensions))
    headers = {**NOT_KEPT, **EVERY_ANSWER, **exc.headers}  # as the app's answers (no HSTS:
    # the scheme a trusted proxy forwarded is in headers that did not all arrive)
    head = [f"HTTP/1.1 {exc.status} {http.HTTPStatus(exc.status).phrase}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


LINGER = 2.0  # seconds a connection closed while its client sends still reads (and drops)


class Lingering:
    """A connection's transport as uvicorn and its request cycles see it (everything passed
    on), whose `close()` is a lingering close while `sending()` says the client may still be
    sending (above), and the plain close otherwise."""

    def __init__(self, transport: asyncio.Transport, sending: Callable[[], bool],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._sending = sending
        self._loop = loop
        self.lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def close(self) -> None:
        if self.lingering or self._transport.is_closing():
            return
        if not (self._sending() and self._transport.can_write_eof()):
            self._transport.close()
            return
        self.lingering = True
        self._transport.write_eof()  # the answer, then FIN
        self._transport.resume_reading()  # drained, not left to fill the kernel's buffer
        self._loop.call_later(LINGER, self._transport.close)


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers (above)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *,
                 header_timeout: float) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._awaiting = False  # a request's headers are awaited ...
        self._after: RequestResponseCycle | None = None  # ... the request after this one's
        self._heard = False  # bytes arrived since

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._lingering = Lingering(transport, self._sending, self.loop)
        super().connection_made(cast("asyncio.Transport", self._lingering))
        self._await_headers()
        self._start()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        if self._lingering.lingering:
            return  # answered and closing: read only to be dropped
        if self._awaiting:
            self._heard = True
            if self._timer is None:  # the first byte after a response
                self._start()
        super().data_received(data)
        self._check()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request at once
        if self.cycle.response_complete and not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _sending(self) -> bool:
        """May the client still be sending: a body not all received, or headers begun?"""
        return self.conn.their_state is h11.SEND_BODY or (self._awaiting and self._heard)

    def _await_headers(self) -> None:
        self._awaiting, self._after, self._heard = True, self.cycle, False

    def _check(self) -> None:
        if self._awaiting and self.cycle is not self._after:  # the headers are complete
            self._awaiting = False
            self._stop()

    def _start(self) -> None:
        self._timer = self.loop.call_later(self.header_timeout, self._expire)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self._awaiting or self.transport.is_closing():
            return
        # A 408 only where a request was begun; not to a connection that sent nothing, nor
        # one still sending the body of a request it has had its answer to.
        if self._heard and self.conn.their_state is h11.IDLE:
            self.transport.write(_answer(RequestTimeout(
                f"The request's headers did not arrive within {self.header_timeout:g} s")))
        self.transport.close()


def protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """What `krr serve` gives uvicorn as its `http` protocol. uvicorn calls it as it would the
    class; a partial (rather than a class made here) reaches every worker process intact."""
    return cast("type[asyncio.Protocol]", partial(HeaderDeadline, header_timeout=header_timeout))


class BodyDeadline:
    """ASGI middleware: the body complete within `seconds` of the app being called (above)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False

        async def bounded() -> Message:
            nonlocal complete
            if complete:  # past the body (a stream waiting for a disconnect): not bounded
                return await receive()
            timeout = asyncio.timeout_at(deadline)
            try:
                async with timeout:
                    message = await receive()
            except TimeoutError:
                if not timeout.expired():
                    raise
                complete = True  # refused once; the answer's own reads are not refused again
                metrics.body_timed_out()
                raise RequestTimeout(f"The request's body did not arrive within "
                                     f"{self.seconds:g} s") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, bounded, send)
