"""Personal ids and addresses in a request never reach a log line through GraphQL errors, and
the readable text lines (KRR_LOG_FORMAT=text) hold the request's context and redact like JSON."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import httpx
import pytest
import respx

from app import logs
from app.meldinger.outbox import UtgaaendeMelding
from app.meldinger.senders import SmsSender
from app.personer.felt import Kanal
from app.revisjon.models import Oppslag
from tests.conftest import lines, root_log
from tests.factories import new_id, person
from tests.test_lookup import KONTAKT, lookup


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


# --- issue 12.4: no personal id and no credential in any log line --------------------------

@pytest.mark.parametrize("gateway", [
    "https://krr:hemmelig-passord@sms.example.no/send",
    "http://krr:hemmelig-passord@localhost:9000/send",  # no dot: not masked as an address
    "https://sms.example.no/send?apikey=hemmelig-passord&from=KRR",
    "https://sms.example.no/send?access_token=hemmelig-passord",
])
@pytest.mark.parametrize("formatter", ["json", "text"])
async def test_the_sms_gateways_credentials_never_reach_a_log_line(gateway, formatter, caplog):
    """The attack: httpx's own logger writes the request line, URL and all, at INFO; the
    gateway's password or key was masked only by accident (it looked like an e-mail)."""
    form = logs.JsonFormatter() if formatter == "json" else logs.TextFormatter(color=False)
    caplog.set_level(logging.INFO, logger="httpx")
    with root_log(form) as stream, respx.mock() as mock:
        mock.route().mock(return_value=httpx.Response(202))
        sender = SmsSender(gateway)
        await sender.send(UtgaaendeMelding(1, Kanal.MOBIL, "+4791234567", "Kode", "Kode 123456"))
        await sender.aclose()
    written = stream.getvalue()
    assert "HTTP Request" in written  # httpx did log the request
    assert "hemmelig-passord" not in written
    assert "+4791234567" not in written and "123456" not in written


def test_a_personal_id_in_any_field_of_a_json_line_is_masked(json_log):
    """Not only the message: extras and the request context are redacted too, whatever the
    logger writes into them."""
    with logs.request_context("req-1"):
        logs.bind(consumer="974760673")
        logging.getLogger("noen.bibliotek").warning(
            "ok", extra={"detail": {"pid": "17912099997"}, "navn": "kari@example.no"})
    [line] = [entry for entry in lines(json_log) if entry["logger"] == "noen.bibliotek"]
    assert "17912099997" not in str(line) and "kari@example.no" not in str(line)
    assert (line["request_id"], line["consumer"]) == ("req-1", "974760673")


@pytest.mark.parametrize("given", ["17912099997", "ref-17912099997", "kari@example.no",
                                   "+4791234567"])
async def test_a_request_id_holding_personal_data_is_replaced(
    client, mint, json_log, caplog, given
):
    """The attack: an X-Request-ID holding a national id was logged as given and stored in the
    audit log. It is replaced by an id of our own, used in the logs, the audit log and the
    answer alike."""
    pid = new_id(60)
    await person(pid)
    caplog.set_level(logging.INFO)
    response = await client.post(
        "/graphql",
        json={"query": f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'},
        headers={"Authorization": f"Bearer {mint(KONTAKT)}", "X-Request-ID": given},
    )
    assert response.status_code == 200
    ours = response.headers["x-request-id"]
    assert ours != given and given not in ours
    [record] = await Oppslag.all()
    assert record.request_id == ours
    assert given not in json_log.getvalue()
    assert any(entry["request_id"] == ours for entry in lines(json_log))


async def test_a_sane_request_id_is_kept(client, mint):
    response = await client.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"X-Request-ID": "sak-2026-00042"})
    assert response.headers["x-request-id"] == "sak-2026-00042"


def test_a_lone_surrogate_in_a_log_line_is_written_not_lost(json_log):
    """A client's text can carry an unpaired surrogate (a URL path, say); the JSON line is
    still written (escaped) instead of failing inside the logging call."""
    logging.getLogger("krr.test").warning("path %s", "/x\ud800")
    [line] = [json.loads(text) for text in json_log.getvalue().splitlines() if "krr.test" in text]
    assert line["message"] == "path /x\ud800"


# --- issue 23.14: phone numbers, like ids and addresses --------------------------------------

@pytest.mark.parametrize("path", [
    "/+4798765432", "/98765432", "/0047%2098765432", "/%2B47%20987%2065%20432",
    "/admin/98%2076%2054%2032", "/rest/v2/+46701234567/x",
])
async def test_a_phone_number_in_a_path_is_masked_in_the_log(client, caplog, json_log, path):
    """The attack: `GET /+4798765432` was written to the access log as asked (national ids and
    e-mail addresses were masked, phone numbers not)."""
    caplog.set_level(logging.INFO)
    response = await client.get(path, headers={"X-Request-ID": "telefon-i-sti"})
    assert response.status_code in {401, 404, 405}
    [line] = [entry for entry in lines(json_log)
              if entry["logger"] == "krr.access" and entry["request_id"] == "telefon-i-sti"]
    assert "[telefon]" in line["path"] and "[telefon]" in line["message"], line
    written = json_log.getvalue()
    for digits in ("98765432", "987 65 432", "98 76 54 32", "701234567"):
        assert digits not in written, digits


@pytest.mark.parametrize("given", [
    "GET /sms?til=%2B4791234567&from=KRR", "/side?mobil=%2B47+912+34+567",
    "ring 0047 912 34 567.", "tlf: 91 23 45 67", "+1 202 555 0143", "nummer 91234567, ok",
])
@pytest.mark.parametrize("formatter", ["json", "text"])
def test_a_phone_number_in_a_query_string_or_any_field_is_masked(given, formatter):
    form = logs.JsonFormatter() if formatter == "json" else logs.TextFormatter(color=False)
    with root_log(form) as stream:
        logging.getLogger("noen.bibliotek").warning("%s", given, extra={"detalj": given})
    written = stream.getvalue()
    assert written.count("[telefon]") == 2, written
    for digits in ("1234567", "34 567", "23 45 67", "555 0143"):
        assert digits not in written, digits


def test_numbers_that_are_no_phone_numbers_stay_readable():
    """Request ids, moments, durations, counts, addresses and organisation numbers (9 digits)."""
    keep = ("req 3f2a1234567890abcdef sak-2026-00042 f81d4fae-7dec-11d0-a765-00a0c91e6bf6 "
            "12345678-1234-1234-1234-123456789012 at 2026-12-01T10:14:52+02:00 epoch 1764580492 "
            "took 12345678.5ms from 10.0.0.1:8000 orgnr 974760673 991825827 count 1234567 "
            "feed 212345678 id 123456789012")
    assert logs.redact(keep) == keep
