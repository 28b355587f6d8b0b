"""Personal ids and addresses in a request never reach a log line through GraphQL errors, and
the readable text lines (KRR_LOG_FORMAT=text) hold the request's context and redact like JSON."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from app import logs
from tests.conftest import root_log
from tests.factories import new_id, person
from tests.test_lookup import lookup


async def test_graphql_errors_are_logged_without_personal_data(client, mint, caplog):
    pid = new_id(900)
    await person(pid, epost="hemmelig@example.no")
    caplog.set_level(logging.INFO)  # DEBUG is tortoise's SQL trace: never on in production
    bad = "17912099998"  # fails mod-11: the error message names it
    await lookup(client, mint("krr:global/kontaktinformasjon.read"), [pid, bad])
    await lookup(client, mint("openid"), [pid], "kontaktinformasjon { epostadresse }")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "code=BAD_USER_INPUT" in text
    for secret in (pid, bad, "hemmelig@example.no"):
        assert secret not in text


# --- KRR_LOG_FORMAT=text -----------------------------------------------------------------------

SECRETS = ("17912099997", "kari.nordmann@example.no", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    """KRR_LOG_FORMAT=text without colour: what a pipe receives."""
    with root_log(logs.TextFormatter(color=False)) as stream:
        yield stream


def test_a_text_line_holds_time_level_logger_message_and_the_request_context(text_log):
    with logs.request_context("req-7"):
        logs.bind(consumer="974760673", supplier="991825827")
        logging.getLogger("krr.test").warning("lookup of %d persons", 3, extra={"batch": 2})
    logging.getLogger("krr.test").warning("outside a request")
    inside, outside = text_log.getvalue().splitlines()
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} WARNING  krr\.test lookup of 3 persons  batch=2 req=req-7 "
        r"consumer=974760673 supplier=991825827",
        inside,
    ), inside
    assert outside.endswith(" WARNING  krr.test outside a request")  # no empty req=, consumer=


def test_a_text_line_redacts_ids_addresses_and_tokens_wherever_they_are(text_log):
    pid, mail, jwt = SECRETS
    log = logging.getLogger("krr.test")
    with logs.request_context(pid):  # X-Request-ID is the caller's choice
        log.warning("failed for %s <%s> Authorization: Bearer %s", pid, mail, jwt,
                    extra={"detail": f"{mail} {pid}"})
        try:
            raise ValueError(f"{pid} {mail} Bearer abc.def")
        except ValueError:
            log.exception("oops")
    written = text_log.getvalue()
    for secret in (*SECRETS, "abc.def"):
        assert secret not in written, secret
    assert "failed for [personid] <[epost]> Authorization: Bearer [token]" in written
    assert "detail=[epost] [personid]" in written and "req=[personid]" in written
    assert "Traceback (most recent call last)" in written
    assert "ValueError: [personid] [epost] Bearer [token]" in written


def test_the_text_formatter_redacts_even_without_the_filter():
    pid, mail, jwt = SECRETS
    try:
        raise RuntimeError(f"token {jwt} for {pid}")
    except RuntimeError:
        record = logging.getLogger("krr.test").makeRecord(
            "krr.test", logging.ERROR, __file__, 1, "%s wrote Bearer %s", (mail, jwt),
            sys.exc_info(), extra={"who": pid},
        )
    written = logs.TextFormatter(color=False).format(record)
    for secret in SECRETS:
        assert secret not in written, secret
    assert "[epost] wrote Bearer [token]" in written and "who=[personid]" in written
    assert "RuntimeError: token [token] for [personid]" in written


async def test_an_access_line_in_text_shows_method_path_status_duration(
    client, mint, caplog, text_log
):
    caplog.set_level(logging.INFO)
    for request_id, token in (("text-1", mint("krr:global/kontaktinformasjon.read")),
                              ("text-2", "nope")):
        await client.post("/graphql", json={"query": "{ __typename }"},
                          headers={"X-Request-ID": request_id, "Authorization": f"Bearer {token}"})
    ours = [line for line in text_log.getvalue().splitlines() if " req=text-" in line]
    access = [line for line in ours if " krr.access " in line]
    assert len(access) == 2, ours
    assert re.search(r" krr\.access POST /graphql 200 \d+\.\dms  req=text-1 consumer=974760673$",
                     access[0]), access[0]
    assert re.search(r" krr\.access POST /graphql 401 \d+\.\dms  req=text-2$", access[1])
    assert "method=" not in access[0] and "duration_ms=" not in access[0]  # said once


def test_text_is_coloured_on_a_terminal_and_plain_in_a_pipe(monkeypatch):
    record = logging.makeLogRecord({"name": "krr.access", "levelname": "INFO", "msg": "GET /",
                                    "method": "GET", "path": "/", "status": 503,
                                    "duration_ms": 1.0})
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    coloured = logs.TextFormatter().format(record)
    assert "\x1b[" in coloured and "GET / " in coloured and "503" in coloured
    assert "\x1b[" not in logs.TextFormatter(color=False).format(record)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a file
    assert logs.TextFormatter().format(record).endswith(" INFO     krr.access GET / 503 1.0ms")
    assert "\x1b[" in logs.TextFormatter(color=True).format(record)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_dict_config_chooses_the_formatter_and_keeps_redaction_on_both():
    for log_format, formatter in (("json", logs.JsonFormatter), ("text", logs.TextFormatter)):
        config = logs.dict_config("INFO", log_format)
        (handler,) = config["handlers"].values()
        assert handler["filters"] == ["redact"]
        assert config["formatters"][handler["formatter"]]["()"] == (
            f"app.logs.{formatter.__name__}"
        )
    assert logs.dict_config() == logs.dict_config("INFO", "json")  # JSON lines unless asked
