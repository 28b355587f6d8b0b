"""What the service keeps across requests, bounded in bytes and not only in entries.

A cache bounded by its number of entries alone holds whatever those entries weigh: 256 parsed
400 KB documents took a worker from 123 to 525 MB (issue 23). Every cache that keeps what a
caller sent (parsed and validated GraphQL documents, APQ's documents) is a `BoundedCache`: the
least recently used entries go first once the bytes its entries hold pass `max_bytes`, and an
entry over `max_entry_bytes` is not kept at all, so one large entry never empties the cache.
What an entry holds is the caller's to say (it knows what its keys and values are made of),
counted generously; each entry is charged `ENTRY_BYTES` more for the cache's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The cache's own bookkeeping per entry (its dictionaries' slots, the link, the tuple beside
# the value): measured about 200 bytes with cachetools 8, counted generously.
ENTRY_BYTES = 512


def _size(entry: tuple[object, int]) -> int:
    return entry[1]


class BoundedCache(Generic[K, V]):
    """A least recently used cache bounded in bytes (and, given `max_entries`, in entries)."""

    def __init__(self, max_bytes: int, max_entry_bytes: int,
                 max_entries: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes - ENTRY_BYTES)
        self.max_entries = max_entries
        self._entries: LRUCache[K, tuple[V, int]] = LRUCache(max_bytes, getsizeof=_size)

    def get(self, key: K) -> V | None:
        """The value kept for `key` (now the most recently used), or None."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep `value`, which holds `size` bytes (its key's included), unless that is over
        `max_entry_bytes`; the least recently used entries go to make room."""
        if size > self.max_entry_bytes:
            return
        self._entries[key] = (value, size + ENTRY_BYTES)
        while self.max_entries is not None and len(self._entries) > self.max_entries:
            self._entries.popitem()

    @property
    def bytes(self) -> int:
        """What the entries kept hold, as counted when they were put."""
        return int(self._entries.currsize)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
