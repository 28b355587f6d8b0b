"""What a client is told when GraphQL refuses or fails: a code to branch on in every error
(`extensions.code`, Apollo's names), in the media type it asked for, with the challenge RFC
6750 asks for; a WebSocket or subscription told that subscriptions are not offered; and
cursors that carry no national id (issue 24, item 7)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, get_named_type
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from app.api.internals import graphql_schema
from app.api.validation import SUBSCRIPTIONS_NOT_OFFERED
from app.config import Settings
from app.edge.app import create_app
from app.edge.graphql import POLICY_VIOLATION, WEBSOCKET_CLOSED, refuse_websocket
from app.edge.ratelimit import Limiter, MemoryLimiter
from app.edge.schema import build_schema
from app.personer import register
from app.revisjon.models import Oppslag
from authz.tokens import TokenVerifier
from tests.conftest import FIXED_NOW, spy_calls
from tests.factories import new_id, person
from tests.servers import krr_serving
from tests.test_edge import TINY
from tests.test_residents import OPPSLAG, _lookup_of
from tests.test_rest import ENDRINGER, PERSONER
from tests.test_testdata import ALT, SOK_QUERY

GRAPHQL = "/graphql"
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
APOLLO_ACCEPT = f"{GRAPHQL_RESPONSE},{JSON};q=0.9"  # what Apollo Client 4's HttpLink sends
KONTAKT = "krr:global/kontaktinformasjon.read"
LOOKUP = "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }"
ENVS = ("test", "prod")


@asynccontextmanager
async def serving(settings: Settings, env: str, dev_issuer: Any, limiter: Limiter | None = None,
                  **replaced: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI in `env` (prod trusting the dev issuer as if it were a real one);
    `raise_app_exceptions=False`, since Starlette re-raises a 500's exception."""
    app = create_app(dataclasses.replace(settings, env=env, **replaced), clock=lambda: FIXED_NOW,
                     verifier=TokenVerifier({}, dev_issuer=dev_issuer), manage_db=False,
                     limiter=limiter)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://krr.test") as client:
        yield client


def bearer(mint: Any, scope: str = KONTAKT) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(scope)}"}


# --- every GraphQL error has a code -------------------------------------------------------------

TWO_OPERATIONS = f"query Oppslag {LOOKUP.removeprefix('query')} query Navn {{ __typename }}"
REFUSED_BEFORE_EXECUTION = [
    pytest.param({"query": "{ personer("}, "GRAPHQL_PARSE_FAILED", id="does not parse"),
    pytest.param({"query": "{ ukjentFelt }"}, "GRAPHQL_VALIDATION_FAILED", id="unknown field"),
    pytest.param({"query": 'mutation { sendKode(kanal: FAKS) { __typename } }'},
                 "GRAPHQL_VALIDATION_FAILED", id="wrong enum literal"),
    pytest.param({"query": "fragment F on Query { __typename }"}, "GRAPHQL_VALIDATION_FAILED",
                 id="no operation"),
    pytest.param({"query": "subscription { endringer(fraEndringsId: 0) { sisteEndringsId } }"},
                 "GRAPHQL_VALIDATION_FAILED", id="subscription"),
    pytest.param({"query": LOOKUP, "variables": {"ids": 17}}, "BAD_USER_INPUT",
                 id="variable that does not coerce"),
    pytest.param({"query": LOOKUP}, "BAD_USER_INPUT", id="missing variable"),
    pytest.param({"query": "mutation($k: Kanal!) { sendKode(kanal: $k) { __typename } }",
                  "variables": {"k": "FAKS"}}, "BAD_USER_INPUT", id="wrong enum in a variable"),
    pytest.param({"query": TWO_OPERATIONS, "variables": {"ids": ["17912099997"]}},
                 "OPERATION_RESOLUTION_FAILURE", id="several operations, no operationName"),
    pytest.param({"query": LOOKUP, "operationName": "Annen"}, "OPERATION_RESOLUTION_FAILURE",
                 id="unknown operationName"),
]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("accept", [JSON, APOLLO_ACCEPT])
@pytest.mark.parametrize(("body", "code"), REFUSED_BEFORE_EXECUTION)
async def test_every_graphql_error_has_a_code(db, dev_issuer, mint, env, accept, body, code):
    """Before, GraphQL's own refusals (a document that does not parse or validate, variables
    that do not coerce) had no code, so a client could only read the message. Each is refused
    before anything runs: 200 with `"data": null` as JSON, 400 without data as
    graphql-response+json (the GraphQL-over-HTTP spec), every error coded, in prod too."""
    async with serving(db, env, dev_issuer) as client:
        response = await client.post(GRAPHQL, json=body, headers={**bearer(mint),
                                                                   "Accept": accept})
    answer = response.json()
    if accept == JSON:
        assert (response.status_code, response.headers["content-type"]) == (200, JSON)
        assert answer["data"] is None
    else:
        assert (response.status_code, response.headers["content-type"]) == (400,
                                                                           GRAPHQL_RESPONSE)
        assert "data" not in answer
    assert answer["errors"]
    assert {e["extensions"]["code"] for e in answer["errors"]} == {code}, answer
    assert all(e["message"] for e in answer["errors"])


async def test_a_failure_no_rule_answers_is_coded_and_masked_in_prod(
    db, dev_issuer, mint, monkeypatch
):
    """A field's failure that no rule answers (a bug) had no code outside prod: it is
    INTERNAL_SERVER_ERROR everywhere, its detail shown outside prod and masked in prod."""

    async def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(register, "hent_personer", bug)
    for env in ENVS:
        async with serving(db, env, dev_issuer) as client:
            response = await client.post(GRAPHQL, headers=bearer(mint), json={
                "query": LOOKUP, "variables": {"ids": ["17912099997"]}})
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert ("a bug" in error["message"]) is (env == "test")
        if env == "prod":
            request_id = response.headers["x-request-id"]
            assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR",
                                           "request_id": request_id}


# --- one operation, or none -----------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
async def test_several_operations_without_an_operation_name_is_an_error(
    db, dev_issuer, mint, monkeypatch, env
):
    """strawberry ran the first of several operations when no operationName chose one: a
    lookup nobody named ran, was disclosed and audited. GraphQL's GetOperation (spec 6.1) and
    graphql-js refuse the document instead; so does the schema itself, not only over HTTP."""
    pid = new_id(240)
    await person(pid)
    looked_up = spy_calls(monkeypatch, [(register, "hent_personer")])
    body = {"query": TWO_OPERATIONS, "variables": {"ids": [pid]}}
    async with serving(db, env, dev_issuer) as client:
        refused = await client.post(GRAPHQL, json=body, headers=bearer(mint))
        assert refused.json() == {"data": None, "errors": [{
            "message": "Must provide operation name if query contains multiple operations.",
            "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"}}]}
        assert looked_up == [] and await Oppslag.all().count() == 0
        # Named, either runs.
        named = await client.post(GRAPHQL, json={**body, "operationName": "Navn"},
                                  headers=bearer(mint))
        assert named.json() == {"data": {"__typename": "Query"}}
        lookup = await client.post(GRAPHQL, json={**body, "operationName": "Oppslag"},
                                   headers=bearer(mint))
        assert lookup.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    direct = await build_schema(prod=env == "prod").execute(TWO_OPERATIONS)
    assert direct.data is None and direct.errors is not None
    assert [e.extensions for e in direct.errors] == [{"code": "OPERATION_RESOLUTION_FAILURE"}]


# --- refusals before execution, in the media type asked for ---------------------------------

def _apq(digest: str) -> bytes:
    return orjson.dumps({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})


TYPENAME = orjson.dumps({"query": "{ __typename }"})
LOOKUP_BODY = orjson.dumps({"query": LOOKUP, "variables": {"ids": ["17912099997"]}})
OTHER_HASH = hashlib.sha256(b"{ statistikk { __typename } }").hexdigest()


@dataclasses.dataclass(frozen=True)
class Refusal:
    body: bytes
    status: int
    code: str
    token: str | None = "valid"  # "valid", "invalid" or None (no Authorization header)
    content_type: str = JSON
    method: str = "POST"
    trusted: bool = False  # with KRR_TRUSTED_DOCUMENTS
    limited: bool = False  # under a limit of one request (sent twice)


REFUSALS = [
    pytest.param(Refusal(LOOKUP_BODY, 401, "UNAUTHENTICATED", token=None), id="401 no token"),
    pytest.param(Refusal(LOOKUP_BODY, 401, "UNAUTHENTICATED", token="invalid"),
                 id="401 invalid token"),
    pytest.param(Refusal(b"{" + b" " * Settings.max_body_bytes + b"}", 413,
                         "PAYLOAD_TOO_LARGE"), id="413"),
    pytest.param(Refusal(LOOKUP_BODY, 415, "UNSUPPORTED_MEDIA_TYPE", content_type="text/plain"),
                 id="415"),
    pytest.param(Refusal(TYPENAME, 429, "RATE_LIMITED", limited=True), id="429"),
    pytest.param(Refusal(b"[" + TYPENAME + b"]", 400, "BATCH_NOT_ALLOWED"), id="400 batch"),
    pytest.param(Refusal(b"not json", 400, "BAD_REQUEST"), id="400 not JSON"),
    pytest.param(Refusal(_apq(OTHER_HASH), 200, "PERSISTED_QUERY_NOT_FOUND"),
                 id="persisted query not found"),
    pytest.param(Refusal(orjson.dumps({"query": "{ __typename }", "extensions": {
        "persistedQuery": {"version": 1, "sha256Hash": OTHER_HASH}}}), 400,
        "PERSISTED_QUERY_HASH_MISMATCH"), id="persisted query hash mismatch"),
    pytest.param(Refusal(TYPENAME, 400, "PERSISTED_QUERY_NOT_ALLOWED", trusted=True),
                 id="persisted query not allowed"),
    pytest.param(Refusal(b"", 405, "METHOD_NOT_ALLOWED", method="GET"), id="405 GET"),
]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("refusal", REFUSALS)
async def test_refusals_before_execution_follow_the_accepted_media_type(
    db, dev_issuer, mint, env, refusal
):
    """The edge's refusals of a GraphQL request were always application/json: Apollo Client 4,
    which asks for graphql-response+json, reads a 4xx body's errors only in that type, so it
    showed a bare status and never the code. Each refusal now comes in the type GraphQL's
    answer would have (app.edge.graphql.response_media_type), its status and body unchanged."""
    trusted = {hashlib.sha256(LOOKUP.encode()).hexdigest(): LOOKUP} if refusal.trusted else None
    answers = {}
    for accept in (APOLLO_ACCEPT, JSON):
        limiter = MemoryLimiter(TINY, clock=lambda: 0.0) if refusal.limited else None
        async with serving(db, env, dev_issuer, limiter, trusted_documents=trusted) as client:
            headers = {"Accept": accept, "Content-Type": refusal.content_type}
            if refusal.token is not None:
                headers["Authorization"] = ("Bearer not.a.token" if refusal.token == "invalid"
                                            else bearer(mint)["Authorization"])
            for _ in range(2 if refusal.limited else 1):
                response = await client.request(refusal.method, GRAPHQL, content=refusal.body,
                                                headers=headers)
        assert response.status_code == refusal.status, response.text
        assert response.headers["content-type"] == (
            GRAPHQL_RESPONSE if accept == APOLLO_ACCEPT else JSON)
        answer = response.json()
        assert "data" not in answer
        assert [e["extensions"]["code"] for e in answer["errors"]] == [refusal.code]
        answers[accept] = answer
    assert answers[APOLLO_ACCEPT] == answers[JSON]


# --- the challenge ------------------------------------------------------------------------------

NO_CREDENTIALS = [
    pytest.param({}, id="no Authorization"),
    pytest.param({"Authorization": "Basic a3JyOmtycg=="}, id="another scheme"),
    pytest.param({"Authorization": "Bearer "}, id="Bearer without a token"),
]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("path", [GRAPHQL, PERSONER, ENDRINGER])
@pytest.mark.parametrize("headers", NO_CREDENTIALS)
async def test_a_request_without_credentials_gets_a_bare_bearer_challenge(
    db, dev_issuer, env, path, headers
):
    """RFC 6750 3.1: a request that carries no bearer token (the client may not know one is
    needed, or used another scheme) is challenged without an error code; `invalid_token` was
    sent to every 401, as if a token had been presented and refused."""
    body = {"query": LOOKUP, "variables": {"ids": ["17912099997"]}} if path == GRAPHQL else {
        "personidentifikatorer": ["17912099997"], "fraEndringsId": 0}
    async with serving(db, env, dev_issuer) as client:
        response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("path", [GRAPHQL, PERSONER])
async def test_a_token_that_does_not_verify_is_challenged_as_invalid(db, dev_issuer, mint, path):
    expired = mint(KONTAKT, extra_claims={"exp": int(FIXED_NOW.timestamp()) - 3600,
                                          "iat": int(FIXED_NOW.timestamp()) - 7200})
    for token in ("not.a.token", expired):
        async with serving(db, "prod", dev_issuer) as client:
            response = await client.post(path, json={"query": "{ __typename }"},
                                         headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith(
            'Bearer error="invalid_token", error_description="')


# --- subscriptions ------------------------------------------------------------------------------

def test_a_websocket_attempt_is_told_subscriptions_are_not_offered(settings):
    """A WebSocket on /graphql was closed without a word (Starlette's default for a path with
    no WebSocket route): GraphQL clients retried, and their users saw nothing. Handed a
    WebSocket, the app answers its handshake 400 saying why (a subscription over POST is
    refused with the same words: test_every_graphql_error_has_a_code)."""
    for env in ENVS:
        app = create_app(dataclasses.replace(settings, env=env), manage_db=False)
        with (pytest.raises(WebSocketDenialResponse) as denied,
              TestClient(app).websocket_connect(GRAPHQL, subprotocols=["graphql-transport-ws"])):
            pass
        assert denied.value.status_code == 400
        assert denied.value.json() == {"errors": [{
            "message": SUBSCRIPTIONS_NOT_OFFERED, "extensions": {"code": "BAD_REQUEST"}}]}


async def test_a_websocket_where_the_server_cannot_answer_a_handshake_is_closed_with_why():
    """A server without the ASGI extension for answering a handshake over HTTP: closed before
    it opens, policy (1008), with the reason (at most 123 bytes in a close frame)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": GRAPHQL, "headers": [], "extensions": {}}
    await refuse_websocket(WebSocket(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": POLICY_VIOLATION,
                     "reason": WEBSOCKET_CLOSED}]
    assert len(WEBSOCKET_CLOSED.encode()) <= 123 and "Subscriptions" in WEBSOCKET_CLOSED


def handshake(base: str) -> bytes:
    """A WebSocket's opening handshake (RFC 6455 4.1) to /graphql, and all the server says."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(b"GET /graphql HTTP/1.1\r\nHost: krr\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


def test_krr_serve_answers_a_websocket_handshake_that_subscriptions_are_not_offered(cli_env):
    """`krr serve` never upgrades (uvicorn's WebSockets off, whatever library is installed): a
    handshake is a GET, answered 400 saying why, not 405 about queries in URLs."""
    with krr_serving(cli_env) as base:
        head, _, body = handshake(base).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert orjson.loads(body) == {"errors": [{
        "message": SUBSCRIPTIONS_NOT_OFFERED, "extensions": {"code": "BAD_REQUEST"}}]}


# --- cursors --------------------------------------------------------------------------------

def connections() -> set[str]:
    """Every field of the schema that pages with cursors (its type has `pageInfo`)."""
    schema = graphql_schema(build_schema())
    found = set()
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for name, field in named.fields.items():
            target: GraphQLNamedType = get_named_type(field.type)
            if isinstance(target, GraphQLObjectType) and "pageInfo" in target.fields:
                found.add(f"{named.name}.{name}")
    return found


def encodings(text: str) -> Iterator[str]:
    """`text` as a cursor might carry it: itself, hex, and base64 and base32 (standard and
    URL-safe) at each of the alignments it can have inside a longer value."""
    data = text.encode()
    yield text
    yield data.hex()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + data).decode().rstrip("=")
            yield encoded[(4 * shift + 2) // 3 + 1:-2]  # the part only `text` decides
    for shift in range(5):
        yield base64.b32encode(b"\0" * shift + data).decode().rstrip("=")[(8 * shift + 4) // 5
                                                                           + 1:-2]


def decodings(cursor: str) -> Iterator[bytes]:
    """Whatever `cursor` decodes to, read as base64 (either alphabet), base32 or hex."""
    padded = cursor + "=" * (-len(cursor) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode, base64.b32decode,
                   bytes.fromhex):
        try:
            yield decode(padded if decode is not bytes.fromhex else cursor)
        except (ValueError, binascii.Error):
            continue


def assert_opaque(cursor: str, pid: str) -> None:
    for form in encodings(pid):
        assert form not in cursor, (cursor, form)
    for decoded in decodings(cursor):
        assert pid.encode() not in decoded, (cursor, decoded)


async def test_no_cursor_carries_a_national_id(client, mint):
    """sokPersoner's cursor was base64 of "sok:" and the last entry's national id: anyone
    holding a cursor (a client's log, a shared link) read the id. Every connection's cursors
    are checked here, so a new connection must show that its cursors are opaque too."""
    assert connections() == {"Meg.oppslag", "Query.sokPersoner"}
    registered = [new_id(260 + i) for i in range(5)]
    for national_id in registered:
        await person(national_id)
    cursors: list[tuple[str, str]] = []
    token = mint(ALT)
    after = None
    while True:  # sokPersoner, in pages of two, every cursor handed out
        response = await client.post(GRAPHQL, headers={"Authorization": f"Bearer {token}"},
                                     json={"query": SOK_QUERY % "personidentifikator",
                                           "variables": {"first": 2, "after": after}})
        result = response.json()["data"]["sokPersoner"]
        cursors += [(e["cursor"], e["node"]["personidentifikator"]) for e in result["edges"]]
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert sorted(national_id for _, national_id in cursors) == sorted(registered)
    pid = new_id(250)
    for days in (3, 2, 1):
        await _lookup_of([pid], FIXED_NOW - dt.timedelta(days=days))
    resident = mint("krr:user/kontaktinformasjon.read", consumer=None, pid=pid)
    response = await client.post(
        GRAPHQL, headers={"Authorization": f"Bearer {resident}"},
        json={"query": f"query($first: Int, $after: String) {{ meg {{ {OPPSLAG} }} }}",
              "variables": {"first": 2}})
    edges = response.json()["data"]["meg"]["oppslag"]["edges"]
    assert len(edges) == 2
    cursors += [(e["cursor"], pid) for e in edges]
    for cursor, national_id in cursors:
        for other in {national_id, *registered}:
            assert_opaque(cursor, other)
