"""A circuit breaker: stop calling a service that keeps failing, and try it again later.

A service that stops answering (packets dropped) costs every call its whole timeout before the
caller can fall back; under load that is every request. After `threshold` failures in a row
the breaker opens: no calls for `cooldown` seconds. Then it is half-open: the next call goes
through as a probe, the others still do not; the probe's success closes the breaker, its
failure opens it again for twice as long, up to `max_cooldown`.

Small and hand-written: the asyncio libraries (purgatory, aiobreaker) read the wall clock
themselves (the tests need to move it), keep one fixed cool-down, and let every concurrent call
through while half-open, which under load is every request paying the timeout again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]


class Breaker:
    """One breaker; the caller asks `allows()` before each call and reports its outcome."""

    def __init__(self, *, threshold: int = 3, cooldown: float = 30.0, max_cooldown: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.clock = clock
        self.failures = 0  # in a row, while closed
        self.wait = cooldown  # the current cool-down
        self._opened_at: float | None = None  # None: closed
        self._probing = False

    @property
    def is_open(self) -> bool:
        """Open or half-open: calls are not made as usual."""
        return self._opened_at is not None

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._probing or self.retry_in() == 0 else "open"

    def retry_in(self) -> float:
        """Seconds until the next probe may go (0 when closed or due)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.wait - self.clock())

    def allows(self) -> bool:
        """May a call be made now? When half-open, the first caller to ask makes the probe."""
        if self._opened_at is None:
            return True
        if self._probing or self.retry_in() > 0:
            return False
        self._probing = True
        return True

    def succeeded(self) -> bool:
        """A call succeeded; True when that closed the breaker."""
        was_open = self._opened_at is not None
        self.failures, self.wait, self._opened_at, self._probing = 0, self.cooldown, None, False
        return was_open

    def failed(self) -> Literal["opened", "reopened"] | None:
        """A call failed: "opened" when that opened the breaker, "reopened" when the probe
        failed (a longer cool-down), None otherwise (a call begun before it opened included)."""
        if self._opened_at is None:
            self.failures += 1
            if self.failures < self.threshold:
                return None
            self._opened_at = self.clock()
            return "opened"
        if not self._probing:
            return None
        self._probing = False
        self.wait = min(self.wait * 2, self.max_cooldown)
        self._opened_at = self.clock()
        return "reopened"
