"""Logs: one JSON object per line (or, with KRR_LOG_FORMAT=text, one readable line) with the
request's id, consumer and supplier, and a redacting filter as a safety net so that a personal id,
an address or a token that slips into a message never reaches the log."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from rich.console import Console
from rich.text import Text

from app.config import LogFormat
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


# A phone number wherever it stands (a path like `/+4798765432`, a query string, a message): a
# Norwegian one, 8 digits whole or grouped (`987 65 432`, `98 76 54 32`), with or without
# +47 or 0047; or any E.164 number, + and 8 to 15 digits, spaced or not. In a URL, `+` and the
# space may come percent-encoded (%2B, %20), and a form's space as `+`. Not inside a longer
# run of letters, digits, dots, colons or hyphens, and not a decimal, so that request ids,
# timestamps, durations, counts, addresses and 9-digit organisation numbers stay readable.
_MELLOMROM = r"(?:[ +]|%20)"
_TELEFON = re.compile(
    rf"(?:(?<![\w.:+%-])|(?<=%20))(?:"
    rf"(?:(?:\+|%2[Bb]|00)47{_MELLOMROM}?)?"
    rf"(?:\d{{8}}|\d{{3}}{_MELLOMROM}\d{{2}}{_MELLOMROM}\d{{3}}"
    rf"|\d{{2}}{_MELLOMROM}\d{{2}}{_MELLOMROM}\d{{2}}{_MELLOMROM}\d{{2}})"
    rf"|(?:\+|%2[Bb])[1-9](?:{_MELLOMROM}?\d){{7,14}}"
    rf")(?![\w:-]|[.,]\d)"
)

# Order matters: credentials before the address they look like, a token before the digits
# inside it, an address before its digits, a phone number before the id its digits could be.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A URL's user and password (an SMS gateway's, say), whatever the host looks like.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@"), r"\1[credentials]@"),
    # Secrets in a query string.
    (re.compile(r"(?i)([?&;](?:[\w-]*(?:pass|pwd|secret|token|key|auth|sig)[\w-]*)=)[^&\s#\"']+"),
     r"\1[secret]"),
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [token]"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), "[token]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[epost]"),
    (_TELEFON, "[telefon]"),  # before ids: +46701234567 holds 11 digits
    (re.compile(r"(?<!\d)\d{11}(?!\d)"), "[personid]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    """A log field's value with personal data masked: numbers and flags as they are, anything
    else by its text (a dict or a list of an extra could hold an address)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


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
        context = _request.get() or {"request_id": None, "consumer": None, "supplier": None}
        line.update({key: _redacted(value) for key, value in context.items()})
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = _redacted(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        try:
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # a lone surrogate from a client's text: orjson will not write it
            return json.dumps(line, default=str)


_LEVEL_STYLES = {
    "DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"
}
_ACCESS = ("method", "path", "status", "duration_ms")  # krr.access's extras (app.edge.observed)
# A signed answer's jti joins them once it is signed (app.edge.signed).
_CONTEXT_LABELS = {"request_id": "req", "consumer": "consumer", "supplier": "supplier",
                   "jti": "jti"}
_NOT_EXTRA = _STANDARD | {"color_message"}  # uvicorn's copy of its message with ANSI colours


class TextFormatter(logging.Formatter):
    """KRR_LOG_FORMAT=text, for a developer at a terminal: `time level logger message key=value
    req=… consumer=… supplier=…`, an access line as `METHOD path status duration`, a traceback
    on the lines below. Redacted like the JSON lines. Never wrapped, so a line stays one line for
    grep; coloured only on a terminal (`color=None`: detected by rich on stderr, which honours
    NO_COLOR and FORCE_COLOR), so a pipe or a file gets plain text."""

    def __init__(self, color: bool | None = None) -> None:
        super().__init__()
        terminal = Console(stderr=True).is_terminal if color is None else color
        # Renders into a buffer of its own (only the handler writes to stderr).
        self._console = Console(
            file=io.StringIO(), force_terminal=terminal, soft_wrap=True, highlight=False,
            markup=False, emoji=False,
        )

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created)
        line = Text()
        line.append(f"{created:%H:%M:%S}.{int(record.msecs):03d} ", style="dim")
        line.append(f"{record.levelname:<8}", style=_LEVEL_STYLES.get(record.levelname, ""))
        line.append(f" {record.name} ", style="cyan")
        extras = {k: v for k, v in vars(record).items() if k not in _NOT_EXTRA}
        if all(key in extras for key in _ACCESS):
            # The access line's message says the same; its fields give the status a colour.
            status = extras["status"]
            line.append(f"{redact(str(extras['method']))} {redact(str(extras['path']))} ")
            line.append(str(status), style=_status_style(status))
            line.append(f" {extras['duration_ms']}ms")
            extras = {k: v for k, v in extras.items() if k not in _ACCESS}
        else:
            line.append(redact(record.getMessage()))
        fields = [f"{key}={redact(str(value))}" for key, value in extras.items()]
        fields += [
            f"{_CONTEXT_LABELS[key]}={redact(value)}"  # X-Request-ID is the caller's choice
            for key, value in (_request.get() or {}).items()
            if value is not None and key in _CONTEXT_LABELS
        ]
        if fields:
            line.append("  " + " ".join(fields), style="dim")
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for trace in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if trace:
                line.append("\n" + redact(trace), style="red")
        with self._console.capture() as captured:
            self._console.print(line, end="")
        return captured.get()


def _status_style(status: object) -> str:
    if not isinstance(status, int):
        return ""
    return "red" if status >= 500 else "yellow" if status >= 400 else "green"


_FORMATTERS: dict[LogFormat, str] = {
    "json": "app.logs.JsonFormatter",
    "text": "app.logs.TextFormatter",
}


def dict_config(level: str = "INFO", log_format: LogFormat = "json") -> dict[str, Any]:
    """A logging.dictConfig for uvicorn's `log_config` (applied in every worker process):
    JSON lines (or readable text) on stderr, redaction on the handler, uvicorn's plain-text
    access log off (ours is `krr.access`)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "app.logs.RedactingFilter"}},
        "formatters": {log_format: {"()": _FORMATTERS[log_format]}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
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
