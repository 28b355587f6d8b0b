"""A TCP proxy for fault tests, between the service and its database.

It runs an asyncio loop in a thread of its own, so that sync and async tests alike (and a
`krr serve` process in front of it) can use it while the test waits. Its modes, switched from
the test's thread and in force from the next chunk read on once the call returns:

- `pass_traffic()`: bytes flow both ways (the start, and again after the others);
- `black_hole()`: connections stay open and every byte, either way, is dropped; new ones are
  accepted and then ignored: a database that has stopped answering, with no reset and no error
  to notice;
- `cut()`: every open connection is closed at once (later ones get the current mode).

A connection opened while bytes are dropped never reaches the database: what the client sent on
it is gone, so it stays dead even when traffic passes again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.servers import free_port

CHUNK = 65536


@dataclass(eq=False)
class _Link:
    """One client connection and, when it reached the database, the connection upstream."""

    client: asyncio.StreamWriter
    task: asyncio.Task[None]
    upstream: asyncio.StreamWriter | None = None
    swallowed: bool = False  # bytes were dropped on it

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class Proxy:
    """127.0.0.1:`port` in front of 127.0.0.1:`upstream_port`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._passing = True
        self._links: set[_Link] = set()
        self._changed = asyncio.Condition()  # a link swallowed bytes or closed
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy",
                                        daemon=True)

    # --- from the test's thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen)

    def stop(self) -> None:
        self._call(self._close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def pass_traffic(self) -> None:
        self._call(self._set_passing, True)

    def black_hole(self) -> None:
        self._call(self._set_passing, False)

    def cut(self) -> None:
        self._call(self._cut)

    def wait_until_swallowing(self, done: Callable[[int], bool], timeout: float) -> None:
        """Blocks until `done(n)` holds for n, the open connections to the database that have
        had bytes dropped (what a client that stopped hearing from its database still holds on
        to); TimeoutError after `timeout` seconds."""
        self._call(self._wait_until, done, timeout=timeout)

    def _call(self, function: Callable[..., Any], *args: Any, timeout: float = 10) -> None:
        """`function(*args)` on the proxy's loop (between two chunks), awaited if it is a
        coroutine, within `timeout` seconds (else TimeoutError)."""

        async def run() -> None:
            async with asyncio.timeout(timeout):
                result = function(*args)
                if asyncio.iscoroutine(result):
                    await result

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=timeout + 5)

    # --- on the proxy's loop ---------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def _swallowing(self) -> int:
        return sum(1 for link in self._links if link.upstream is not None and link.swallowed)

    async def _wait_until(self, done: Callable[[int], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: done(self._swallowing()))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _set_passing(self, passing: bool) -> None:
        self._passing = passing

    def _cut(self) -> None:
        for link in list(self._links):
            link.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [link.task for link in self._links]
        self._cut()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        link = _Link(writer, task)
        self._links.add(link)
        try:
            if not self._passing:
                await self._pipe(link, reader, None)  # swallowed until closed or cut
                return
            up_reader, link.upstream = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port)
            await asyncio.gather(self._pipe(link, reader, link.upstream),
                                 self._pipe(link, up_reader, writer))
        except OSError:
            pass
        finally:
            self._links.discard(link)
            link.close()
            await self._notify()

    async def _pipe(self, link: _Link, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter | None) -> None:
        """Forwards (or drops) until the end of the stream, then closes the whole link."""
        try:
            while data := await reader.read(CHUNK):
                if writer is None or not self._passing:
                    if not link.swallowed:
                        link.swallowed = True
                        await self._notify()
                    continue
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            link.close()
