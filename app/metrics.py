"""Prometheus metrics of one app, and the handle code deep in a request uses to count.

Each app has its own CollectorRegistry (several apps in one test process do not collide). The
edge's middleware sets the serving app's metrics in a context variable, so the lookup or the
token check can count without a handle on the app. Label values come from bounded sets (schema
field names, token error reasons), never from a request's variables or ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The service's metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "krr_graphql_requests", "GraphQL operations by top-level fields and outcome",
            ["operation", "type", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "krr_graphql_request_duration_seconds", "GraphQL operation time (parse to result)",
            ["operation"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.persons_disclosed = Counter(
            "krr_persons_disclosed", "Person entries disclosed (after the audit record)",
            registry=self.registry,
        )
        self.audit_filed = Counter(
            "krr_audit_requests_filed", "Audit records filed into the per-person index after "
            "their answer (compare with krr_graphql_requests: the queue's length)",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "krr_auth_failures", "Refused tokens by reason", ["reason"], registry=self.registry
        )
        self.rate_limited = Counter(
            "krr_rate_limited", "Requests refused by the rate limit", registry=self.registry
        )
        self.rate_held = Counter(
            "krr_rate_held", "Requests over the rate limit held until they fitted "
            "(KRR_RATE_WAIT), then served", registry=self.registry,
        )
        self.deadlines_passed = Counter(
            "krr_deadlines_passed", "Requests (or parts of a stream) abandoned at their deadline",
            registry=self.registry,
        )
        self.body_timeouts = Counter(
            "krr_body_timeouts", "Requests answered 408 because their body did not arrive within "
            "KRR_BODY_TIMEOUT", registry=self.registry,
        )
        self.redis_failures = Counter(
            "krr_ratelimit_redis_failures", "Rate-limit charges Redis failed (or did not answer "
            "in time), each served by the instance's own limit", registry=self.registry,
        )
        self.redis_circuit_open = Gauge(
            "krr_ratelimit_redis_circuit_open", "1 while the rate limiter does not call Redis "
            "after repeated failures (limits are per instance meanwhile), else 0",
            registry=self.registry,
        )

    def watch_redis_circuit(self, is_open: Callable[[], bool]) -> None:
        """krr_ratelimit_redis_circuit_open reads `is_open` at each scrape."""
        self.redis_circuit_open.set_function(lambda: float(is_open()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_current: ContextVar[Metrics | None] = ContextVar("krr_metrics", default=None)


@contextmanager
def serving(metrics: Metrics) -> Iterator[None]:
    """`metrics` counts what happens in the request running inside."""
    token = _current.set(metrics)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Metrics | None:
    """The metrics of the app serving the current request (None outside a request)."""
    return _current.get()


def persons_disclosed(count: int) -> None:
    if (metrics := _current.get()) is not None and count:
        metrics.persons_disclosed.inc(count)


def auth_failed(reason: str) -> None:
    if (metrics := _current.get()) is not None:
        metrics.auth_failures.labels(reason).inc()


def rate_limited() -> None:
    if (metrics := _current.get()) is not None:
        metrics.rate_limited.inc()


def rate_held() -> None:
    if (metrics := _current.get()) is not None:
        metrics.rate_held.inc()


def body_timed_out() -> None:
    if (metrics := _current.get()) is not None:
        metrics.body_timeouts.inc()


def redis_failed() -> None:
    if (metrics := _current.get()) is not None:
        metrics.redis_failures.inc()


def deadline_passed() -> None:
    if (metrics := _current.get()) is not None:
        metrics.deadlines_passed.inc()
