"""Every request's deadline: past it, the work is abandoned, its database connections are
discarded, and the answer is a 503 (`DeadlinePassed`) at once.

A database that stops answering (packets dropped, no reset) raises nothing: a statement waits
for command_timeout, and cancelling it then waits again, for a CancelRequest sent over a new
connection to the same silent host, before the pool takes the connection back. An
`asyncio.timeout` around the request would wait for all of that, since the cancelled work
unwinds through the pool's release. So the work runs in a task of its own: at the deadline the
connections it holds are terminated first (its query fails at once, the pool gets an empty slot
and the next request a fresh connection), then the task is cancelled and given GRACE to unwind;
the answer does not wait for it beyond that. A request still waiting for a free connection
holds none and is simply cancelled.

The clock starts once the body is read (a slow upload is not a slow database: it has a
deadline of its own, KRR_BODY_TIMEOUT, app.edge.reading). A streamed answer (the CSV export)
has its first part under the deadline (the export reads its first page before it answers), and
then each further part must be ready within a deadline of its own: a long export is never cut
for being long, but one whose database stops answering mid-way ends there, the response left
unfinished so the client sees it is incomplete.

The work can ask how long it has left (`time_left`): a request the rate limit would hold is held
only within its deadline (app.edge.ratelimit.Hold).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import Any, TypeVar, cast

from app import db, metrics
from app.errors import DeadlinePassed

log = logging.getLogger("krr.edge")

GRACE = 1.0  # seconds the abandoned work gets to unwind before the answer goes without it
T = TypeVar("T")
# When the work's deadline passes (the event loop's clock), for the work itself to ask
# (`time_left`): what may wait, the rate limit's hold, waits only as long as the deadline allows.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("krr_deadline",
                                                                        default=None)


def time_left() -> float:
    """Seconds until the current work's deadline passes (0 once it has); infinite for work not
    under one."""
    deadline = _deadline.get()
    if deadline is None:
        return math.inf
    return max(0.0, deadline - asyncio.get_running_loop().time())


async def within(seconds: float, work: Awaitable[T],
                 context: contextvars.Context | None = None) -> T:
    """`work`'s result, or DeadlinePassed once `seconds` have passed. `context`: the context to
    run it in (a copy of the caller's when not given)."""
    context = contextvars.copy_context() if context is None else context
    held = db.track(context)
    loop = asyncio.get_running_loop()
    context.run(_deadline.set, loop.time() + seconds)
    coroutine = work if asyncio.iscoroutine(work) else _awaited(work)
    task = loop.create_task(coroutine, context=context)
    try:
        await asyncio.wait((task,), timeout=seconds)
    except asyncio.CancelledError:  # the request itself is cancelled: so is its work
        task.cancel()
        raise
    if task.done():
        try:
            return task.result()
        finally:
            # A failure raised here holds this frame in its traceback, and the task holds the
            # failure: a reference cycle only a full collection would free (app.edge.runtime).
            del task
    discarded = db.discard(held)  # first: its query then fails at once, with nothing to wait on
    task.cancel()
    task.add_done_callback(_forget)
    await asyncio.wait((task,), timeout=GRACE)
    log.warning("deadline of %gs passed: work abandoned, %d database connection(s) discarded%s",
                seconds, discarded, "" if task.done() else ", still unwinding")
    metrics.deadline_passed()
    raise DeadlinePassed(seconds)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _forget(task: asyncio.Task[Any]) -> None:
    """The abandoned work's own failure (the terminated connection, the cancellation) is not
    news: retrieved, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


_END = object()


async def _next(chunks: AsyncIterator[T]) -> T | object:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return _END


async def each_within(seconds: float, chunks: AsyncIterable[T]) -> AsyncIterator[T]:
    """`chunks`, each of which must be ready within `seconds` of asking for it (the time the
    client takes to read one is not counted). All run in one context, as the stream would."""
    iterator = aiter(chunks)
    context = contextvars.copy_context()
    while True:
        chunk = await within(seconds, _next(iterator), context)
        if chunk is _END:
            return
        yield cast(T, chunk)
