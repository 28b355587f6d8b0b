"""The Python runtime tuned for serving: the garbage collector.

A 1000-person lookup holds some 25,000 container objects (rows, records, answers, the answer's
dicts) until it has answered. With CPython's default first-generation threshold (700 net
allocations) the collector ran ~35 times per lookup, and each survivor was scanned again by
the older generations, whose full collections walk the whole app (the schema, modules,
caches): a few milliseconds per lookup, the more the busier. Once the app has started, its
objects are frozen (never scanned again; they live as long as the process anyway), and the
first generation is collected only past what several concurrent lookups hold, so collections
are left to the reference cycles they exist for. Cyclic garbage still goes, a little later.
"""

from __future__ import annotations

import gc

# Net container allocations before a first-generation collection: above what a few
# concurrent 1000-person lookups hold at once.
FIRST_GENERATION = 100_000


def tune_for_serving() -> None:
    """Freeze what exists now (the started app) and raise the first generation's threshold.
    Call once per process, after startup."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(FIRST_GENERATION, second, third)
