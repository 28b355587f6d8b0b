"""Operators' view: probes, Prometheus metrics, JSON logs without personal data, and prod's
masking of unexpected errors."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import re

import httpx
import pytest
import uvicorn
from graphql import parse

from app import cli, logs
from app.api import metrics as graphql_metrics
from app.api.internals import graphql_schema
from app.edge import probes
from app.edge.app import create_app
from app.edge.schema import build_schema
from app.personer import register
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW, lines
from tests.factories import new_id, person
from tests.test_lookup import lookup
from tests.test_residents import mutate, resident

READ = "krr:global/kontaktinformasjon.read"


# --- probes ------------------------------------------------------------------------------------


async def test_healthz_and_readyz_need_no_token(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_readyz_is_503_when_a_migration_is_pending(client, monkeypatch):
    applied = probes.expected_migrations()
    monkeypatch.setattr(probes, "expected_migrations", lambda: applied | {"0099_neste"})
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable", "reason": "migrations pending", "pending": ["0099_neste"],
        "errors": [{"message": "Not ready: migrations pending",
                    "extensions": {"code": "SERVICE_UNAVAILABLE"}}],
    }


async def test_readyz_is_503_when_the_database_fails_or_hangs(client, monkeypatch):
    def broken() -> object:
        raise ConnectionRefusedError("no database")

    monkeypatch.setattr(probes.db, "connection", broken)
    response = await client.get("/readyz")
    assert (response.status_code, response.json()["reason"]) == (503, "database unreachable")
    assert (await client.get("/healthz")).status_code == 200  # the process is still up

    async def hangs() -> list[str]:
        await asyncio.sleep(10)
        return []

    monkeypatch.setattr(probes, "_pending_migrations", hangs)
    monkeypatch.setattr(probes, "READY_TIMEOUT", 0.05)
    response = await client.get("/readyz")
    assert (response.status_code, response.json()["reason"]) == (503, "database timeout")


# --- metrics -----------------------------------------------------------------------------------


def sample(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in the metrics")


async def test_metrics_count_operations_disclosures_and_refusals(client, mint):
    pids = [new_id(700), new_id(701)]
    for pid in pids:
        await person(pid)
    await lookup(client, mint(READ), pids, "status")
    await lookup(client, mint(READ), [pids[0], "17912099998"], "status")  # BAD_USER_INPUT
    assert (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200
    assert (await client.post("/graphql", json={"query": "{ meg { utlopt } }"})).status_code == 401
    headers = {"Authorization": "Bearer abc.def.ghi"}
    assert (await client.post("/graphql", json={"query": "{ x }"}, headers=headers)).status_code \
        == 401

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    ok = 'krr_graphql_requests_total{operation="personer",outcome="ok",type="query"}'
    assert sample(text, ok) == 1
    bad = 'krr_graphql_requests_total{operation="personer",outcome="error",type="query"}'
    assert sample(text, bad) == 1
    assert sample(text, 'krr_graphql_requests_total{operation="__typename"') == 1
    assert sample(text, 'krr_graphql_request_duration_seconds_count{operation="personer"}') == 2
    assert sample(text, "krr_persons_disclosed_total ") == 2  # the refused batch disclosed none
    assert sample(text, 'krr_auth_failures_total{reason="missing"}') == 1
    assert sample(text, "krr_rate_limited_total ") == 0
    assert "17912099998" not in text and pids[0] not in text  # labels never carry variables


def test_operation_label_uses_schema_fields_not_client_names():
    schema = graphql_schema(build_schema())
    doc = parse("query Kari17912099997 { a: personer(personidentifikatorer: []) { status } "
                "...F } fragment F on Query { statistikk { __typename } ukjent }")
    assert graphql_metrics.operation_label(doc, None, schema) == ("multiple", "query")
    one = parse("query Kari17912099997 { a: personer(personidentifikatorer: []) { status } }")
    assert graphql_metrics.operation_label(one, None, schema) == ("personer", "query")
    assert graphql_metrics.operation_label(doc, "Annen", schema) == ("invalid", "unknown")
    assert graphql_metrics.operation_label(None, None, schema) == ("invalid", "unknown")


async def test_each_app_has_its_own_registry(db):
    first, second = (create_app(db, manage_db=False) for _ in range(2))
    first.state.metrics.rate_limited.inc()
    assert sample(first.state.metrics.exposition().decode(), "krr_rate_limited_total ") == 1
    assert sample(second.state.metrics.exposition().decode(), "krr_rate_limited_total ") == 0


# --- logs --------------------------------------------------------------------------------------


def test_redaction_masks_ids_addresses_phones_and_tokens():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    text = (f"id=17912099997 mail kari.nordmann+x@example.no tlf +47 91234567 / 912 34 567 "
            f"token {jwt} Authorization: Bearer abc.def")
    masked = logs.redact(text)
    for secret in ("17912099997", "kari.nordmann", "91234567", "912 34 567", jwt, "abc.def"):
        assert secret not in masked, secret
    # What is not personal stays readable: dates, durations, hex request ids, org numbers.
    keep = "2026-06-15T12:00:00 took 12.5ms request 3f2a1234567890abcdef consumer 974760673"
    assert logs.redact(keep) == keep


async def test_no_personal_data_in_any_log_line(client, mint, caplog, json_log):
    caplog.set_level(logging.INFO)  # DEBUG is tortoise's SQL trace: never on in production
    pid = new_id(710)
    await person(pid, epost="hemmelig@example.no", mobil="+4791234567")
    bad = "17912099998"
    token = mint(READ)
    await lookup(client, token, [pid, bad], "status kontaktinformasjon { epostadresse }")
    await lookup(client, mint("openid"), [pid], "kontaktinformasjon { epostadresse }")
    resident_token = resident(mint, pid)
    await mutate(client, resident_token,
                 'oppdaterKontaktinformasjon(epostadresse: "ny.adresse@example.no", '
                 'mobiltelefonnummer: "+4798765432")')
    await mutate(client, resident_token, 'oppdaterKontaktinformasjon(epostadresse: "ugyldig@")')
    await client.post("/graphql", json={"query": "{ x }"},
                      headers={"Authorization": f"Bearer {token}x"})

    raw = "\n".join(r.getMessage() for r in caplog.records)
    written = json_log.getvalue()
    assert "code=BAD_USER_INPUT" in raw
    secrets = (pid, bad, "hemmelig@example.no", "ny.adresse@example.no", "ugyldig@",
               "98765432", "91234567", token, resident_token)
    for secret in secrets:
        assert secret not in raw, secret
        assert secret not in written, secret

    access = [line for line in lines(json_log) if line["logger"] == "krr.access"]
    assert len(access) == 5
    assert {line["status"] for line in access} == {200, 401}
    first = access[0]
    assert first["method"] == "POST" and first["path"] == "/graphql"
    assert first["consumer"] == "974760673" and first["request_id"]
    assert {"time", "level", "message", "supplier", "duration_ms"} <= first.keys()
    assert access[2]["consumer"] is None  # a resident: no consumer, and never their id


async def test_request_id_is_the_same_in_the_response_and_the_log(client, caplog, json_log):
    caplog.set_level(logging.INFO)
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    (access,) = [line for line in lines(json_log) if line["logger"] == "krr.access"]
    assert access["request_id"] == "abc-123"
    refused = await client.post("/graphql", json={"query": "{ meg { utlopt } }"})
    assert refused.headers["x-request-id"]  # also on a 401 that never reached GraphQL


def test_the_filter_redacts_what_slipped_into_a_message(json_log):
    log = logging.getLogger("krr.test")
    log.warning("failed for %s <%s>", "17912099997", "kari@example.no")
    try:
        raise ValueError("17912099997")
    except ValueError:
        log.exception("oops")
    written = json_log.getvalue()
    assert "17912099997" not in written and "kari@example.no" not in written
    assert "[personid]" in lines(json_log)[0]["message"]
    assert "ValueError" in lines(json_log)[1]["exception"]


@pytest.fixture
def served(monkeypatch) -> list[dict]:
    """What `krr serve` hands uvicorn.run, one dict of options per call (nothing is served)."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))

    async def no_migrate(_: object) -> None:
        return None

    monkeypatch.setattr(probes.db, "migrate", no_migrate)
    return calls


def applied(config: dict) -> list[logging.Handler]:
    """The root handlers that `config` installs (it must be valid as given), then removed again."""
    root = logging.getLogger()
    before = list(root.handlers)
    logging.config.dictConfig(config)
    added = [handler for handler in root.handlers if handler not in before]
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    for handler in added:
        root.removeHandler(handler)
    return added


def test_serve_logs_json_and_turns_uvicorn_access_log_off(settings, served):
    assert settings.log_format == "json"  # the test (and prod) default
    assert cli._serve(settings, cli.parser().parse_args(["serve"])) == 0
    (options,) = served
    assert options["access_log"] is False
    config = options["log_config"]
    assert config["formatters"]["json"]["()"] == "app.logs.JsonFormatter"
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
    (handler,) = applied(config)
    assert isinstance(handler.formatter, logs.JsonFormatter)


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_serve_hands_uvicorn_the_chosen_log_format(settings, served, workers, log_format):
    chosen = dataclasses.replace(settings, log_format=log_format)
    assert cli._serve(chosen, cli.parser().parse_args(["serve", "--workers", workers])) == 0
    (options,) = served
    assert options["access_log"] is False
    assert options.get("workers", 1) == int(workers)  # each worker applies this same config
    config = options["log_config"]
    assert config == logs.dict_config("INFO", log_format)
    (handler,) = applied(config)
    assert isinstance(handler.formatter,
                      logs.TextFormatter if log_format == "text" else logs.JsonFormatter)
    assert any(isinstance(f, logs.RedactingFilter) for f in handler.filters)


# --- prod masking ------------------------------------------------------------------------------


@pytest.fixture
async def prod_client(db, dev_issuer):
    prod = dataclasses.replace(db, env="prod")
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)  # the dev key trusted as a real issuer
    app = create_app(prod, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr") as c:
        yield c


async def test_prod_masks_unexpected_errors_and_logs_the_detail(
    prod_client, mint, monkeypatch, caplog
):
    async def boom(*_: object, **__: object) -> dict:
        raise RuntimeError("the secret detail")

    monkeypatch.setattr(register, "hent_personer", boom)
    caplog.set_level(logging.INFO)
    pid = new_id(720)
    response = await prod_client.post(
        "/graphql",
        json={"query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) "
                       "{ status } }", "variables": {"ids": [pid]}},
        headers={"Authorization": f"Bearer {mint(READ)}", "X-Request-ID": "req-42"},
    )
    body = response.json()
    assert "the secret detail" not in response.text and "RuntimeError" not in response.text
    (err,) = body["errors"]
    assert err["message"] == "internal error (request id req-42)"
    assert err["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "request_id": "req-42"}
    assert err["path"] == ["personer"]
    logged = [r for r in caplog.records if r.name == "krr.graphql" and r.levelno == logging.ERROR]
    assert logged and "RuntimeError" in logged[0].getMessage()
    assert "boom" in logged[0].getMessage()  # the traceback's frames: where it failed


async def test_prod_keeps_our_own_error_codes(prod_client, mint):
    body = await lookup(prod_client, mint(READ), ["17912099998"], "status")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "internal error" not in body["errors"][0]["message"]


async def test_outside_prod_errors_are_not_masked(client, mint, monkeypatch):
    async def boom(*_: object, **__: object) -> dict:
        raise RuntimeError("dev detail")

    monkeypatch.setattr(register, "hent_personer", boom)
    body = await lookup(client, mint(READ), [new_id(721)], "status")
    assert body["errors"][0]["message"] == "dev detail"


# --- issue 12.10: every metrics label from a small fixed set ----------------------------------

async def test_metrics_cardinality_stays_bounded_whatever_the_root_fields(client, mint):
    """The attack: the operation label was the set of root fields of each request, so 283
    requests with different combinations grew /metrics from 331 to 5,142 lines."""
    fields = ["statistikk { aktive }", "__typename", "delegeringsordninger { id }",
              "meg { maaBekrefte }", "bruk(fra: \"2026-06-01\", til: \"2026-06-02\") "
              "{ totalt { oppslag } }", "endringer(fraEndringsId: 0, antall: 1) "
              "{ sisteEndringsId }"]
    token = {"Authorization": f"Bearer {mint(READ)}"}

    async def every_combination(alias: str) -> str:
        for size in range(1, len(fields) + 1):
            for combination in itertools.combinations(fields, size):
                query = " ".join(f"{alias}{n}: {f}" if alias else f
                                 for n, f in enumerate(combination))
                await client.post("/graphql", headers=token, json={"query": "{ " + query + " }"})
        return (await client.get("/metrics")).text

    text = await every_combination("")
    labels = set(re.findall(r'operation="([^"]*)"', text))
    schema = graphql_schema(build_schema())
    roots = set(schema.query_type.fields) | set(schema.mutation_type.fields)  # type: ignore[union-attr]
    assert labels <= roots | {"multiple", "invalid", "__typename", "__schema", "__type"}
    # 63 more requests, every one different again (aliases): not one new series.
    again = await every_combination("a")
    assert len(again.splitlines()) == len(text.splitlines())
