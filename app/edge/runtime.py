"""The Python runtime tuned for serving: the garbage collector.

A 1000-person lookup holds some 25,000 container objects (rows, records, answers, the answer's
dicts) until it has answered. With CPython's default first-generation threshold (700 net
allocations) the collector ran ~35 times per lookup, and each survivor was scanned again by
the older generations, whose full collections walk the whole app (the schema, modules,
caches): a few milliseconds per lookup, the more the busier. Once the app has started, its
objects are frozen (never scanned again; they live as long as the process anyway), and the
first generation is collected only past what several concurrent lookups hold, so collections
are left to the reference cycles they exist for. Cyclic garbage still goes, a little later.

So a request must leave no reference cycle behind: freed by reference counting, its objects go
when it ends (tests/test_memory_cycles.py). What leaves cycles of its own in third-party code
is collected by a full collection once a minute (`collecting`): graphql-core's doubly linked
tokens of every query text parsed (a client writing ids into its query text parses a new one
per request), asyncpg's class made for each statement it cancels, asyncio's transport of each
closed connection. Such garbage lives long enough to reach the oldest generation, which the
automatic collector reaches only after ~100 first-generation collections.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

# Net container allocations before a first-generation collection: above what a few
# concurrent 1000-person lookups hold at once.
FIRST_GENERATION = 100_000
# A full collection this often (seconds), unless it would take more than SHARE of the time:
# its pause grows with what lives unfrozen (the caches), measured 0.2-0.5 ms in a worker
# serving lookups, 0.5 s with 256 cached 1000-id queries (1.1 million objects).
FULL_COLLECTION_EVERY = 60.0
SHARE = 0.005


def tune_for_serving() -> None:
    """Freeze what exists now (the started app) and raise the first generation's threshold.
    Call once per process, after startup."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(FIRST_GENERATION, second, third)


async def collect_periodically(every: float = FULL_COLLECTION_EVERY,
                               share: float = SHARE) -> None:
    """A full collection every `every` seconds, further apart when one takes more than `share`
    of the time between them."""
    wait = every
    while True:
        await asyncio.sleep(wait)
        started = time.perf_counter()
        freed = gc.collect()
        pause = time.perf_counter() - started
        log.debug("full collection: %d unreachable objects freed in %.1f ms", freed,
                  pause * 1000)
        wait = max(every, pause / share)


@contextlib.asynccontextmanager
async def collecting(every: float = FULL_COLLECTION_EVERY) -> AsyncIterator[None]:
    """`collect_periodically` for the block's lifetime (a serving app's)."""
    task = asyncio.create_task(collect_periodically(every), name="krr-gc")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
