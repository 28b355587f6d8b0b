"""Structured logs: one JSON object per line with the request's id, consumer and supplier, and a
redacting filter as a safety net so that a personal id, an address or a token that slips into a
message never reaches the log."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

from authz.principal import Caller, Principal

# Per request: a mutable dict so that what the token check learns later in the same request
# (consumer, supplier) is seen by the access log line written around it.
_request: ContextVar[dict[str, str | None] | None] = ContextVar("krr_log_request", default=None)


@contextmanager
def request_context(request_id: str) -> Iterator[dict[str, str | None]]:
    """The log fields of one request, for every line written while it runs."""
    fields: dict[str, str | None] = {"request_id": request_id, "consumer": None, "supplier": None}
    token = _request.set(fields)
    try:
        yield fields
    finally:
        _request.reset(token)


def bind(**fields: str | None) -> None:
    """Adds fields (consumer, supplier) to the current request's log context, if any."""
    current = _request.get()
    if current is not None:
        current.update(fields)


def bind_caller(principal: Caller) -> None:
    """An organisation's consumer and supplier (organisation numbers, not personal data); a
    resident's identity is never bound."""
    if isinstance(principal, Principal):
        bind(consumer=principal.consumer, supplier=principal.supplier)


# Order matters: a token before the digits inside it, an address before its digits.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [token]"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), "[token]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[epost]"),
    (re.compile(r"(?<!\d)\d{11}(?!\d)"), "[personid]"),
    (
        re.compile(
            r"(?<![\w.:/+-])(?:(?:\+|00)\d{2}[ ]?)?"
            r"(?:\d{8}|\d{3} \d{2} \d{3}|\d{2} \d{2} \d{2} \d{2})(?![\w.:/-])"
        ),
        "[telefon]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the message (args merged in) and any traceback with personal data masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted text stands in for it
        return True


_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, consumer, supplier, plus a call's `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        line.update(_request.get() or {"request_id": None, "consumer": None, "supplier": None})
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        return orjson.dumps(line, default=str).decode()


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """A logging.dictConfig for uvicorn's `log_config` (applied in every worker process):
    JSON on stderr, redaction on the handler, uvicorn's plain-text access log off (ours is
    `krr.access`)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "app.logs.RedactingFilter"}},
        "formatters": {"json": {"()": "app.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["redact"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # tortoise's DEBUG is the SQL trace with its parameters (personal ids).
            "tortoise": {"level": "INFO" if level == "DEBUG" else level, "propagate": True},
        },
    }
