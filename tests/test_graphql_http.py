"""GraphQL over HTTP: the answer's media type and status codes, GET refused, persisted and
trusted operations; and graphql-http's audit of the spec against a live `krr serve`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.cache import ENTRY_BYTES
from app.config import ConfigError, Settings, load_settings
from app.edge.app import create_app
from app.edge.persisted import MAX_DOCUMENT_BYTES, Dokumentlager
from authz.tokens import TokenVerifier
from tests.conftest import CONSUMER, FIXED_NOW, ROOT, spy_calls
from tests.factories import new_id, person
from tests.servers import krr_serving
from tests.test_cli import krr

GRAPHQL = "/graphql"
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
KONTAKT = "krr:global/kontaktinformasjon.read"
LOOKUP = "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }"
TWICE = ("query($ids: [String!]!) { a: personer(personidentifikatorer: $ids) { status } "
         "b: personer(personidentifikatorer: $ids) { status } }")
AUDIT = ROOT / "tests" / "graphql_http" / "audit.mjs"
AUDIT_PACKAGE = ROOT / "tests" / "graphql_http" / "node_modules" / "graphql-http"


def auth(mint, scope: str = KONTAKT, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(scope)}", **headers}


@pytest.fixture(params=["dev", "prod"])
async def env_client(request, db: Settings, dev_issuer) -> AsyncIterator[httpx.AsyncClient]:
    """The app in test and in prod (the dev issuer trusted explicitly in prod, as if it were a
    real issuer, so requests reach GraphQL)."""
    settings = dataclasses.replace(db, env=request.param)
    verifier = TokenVerifier({}, dev_issuer=dev_issuer)
    app = create_app(settings, verifier=verifier, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        yield c


# --- the answer's media type and status -------------------------------------------------------

@pytest.mark.parametrize("accept", [None, "*/*", JSON, f"{JSON}, {GRAPHQL_RESPONSE};q=0.5"])
async def test_json_is_answered_with_200_for_every_graphql_error(env_client, mint, accept):
    headers = auth(mint) if accept is None else auth(mint, Accept=accept)
    for body in ({"query": "{ personer("}, {"query": "{ ukjentFelt }"},
                 {"query": LOOKUP, "variables": {"ids": 17}}):
        response = await env_client.post(GRAPHQL, json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == JSON
        assert response.json()["data"] is None
        assert response.json()["errors"]


@pytest.mark.parametrize("accept", [
    GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", f"{JSON}, {GRAPHQL_RESPONSE}",
])
async def test_graphql_response_json_refused_before_execution_is_400_without_data(
    env_client, mint, accept
):
    headers = auth(mint, Accept=accept)
    for body in (
        {"query": "{ personer("},  # does not parse
        {"query": "{ ukjentFelt }"},  # does not validate
        {"query": LOOKUP, "variables": {"ids": 17}},  # variables do not coerce
        {"query": TWICE, "variables": {"ids": [new_id(i) for i in range(600)]}},  # persons cap
    ):
        response = await env_client.post(GRAPHQL, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        assert "data" not in response.json()
        assert response.json()["errors"]


async def test_graphql_response_json_once_execution_started_is_200_with_data(env_client, mint):
    pid = new_id(70)
    await person(pid)
    headers = auth(mint, Accept=GRAPHQL_RESPONSE)
    response = await env_client.post(GRAPHQL, json={"query": LOOKUP, "variables": {"ids": [pid]}},
                                     headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    # A field error (no scope for it) is execution's: 200, data present.
    refused = await env_client.post(GRAPHQL, json={"query": LOOKUP, "variables": {"ids": [pid]}},
                                    headers=auth(mint, "", Accept=GRAPHQL_RESPONSE))
    assert refused.status_code == 200
    assert "data" in refused.json()
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_refusals_of_the_http_request_keep_their_status_and_the_one_shape(client, mint):
    """The edge's refusals, and strawberry's of a request it cannot run (here a body that is
    not a GraphQL request), keep their status and the one error shape, in the media type the
    client asked for (tests/test_graphql_errors.py has every refusal)."""
    for body, headers, status, code in (
        ({"query": LOOKUP}, {}, 401, "UNAUTHENTICATED"),
        ({"query": 42}, auth(mint), 400, "BAD_REQUEST"),
    ):
        for accept in (GRAPHQL_RESPONSE, JSON):
            response = await client.post(GRAPHQL, json=body,
                                         headers={**headers, "Accept": accept})
            assert response.status_code == status
            assert response.headers["content-type"] == accept
            assert "data" not in response.json()
            assert response.json()["errors"][0]["extensions"]["code"] == code


# --- GET ----------------------------------------------------------------------------------------

GET_REFUSED = ("Send GraphQL operations by POST: a query in a URL would put personal ids in "
               "access logs")


def assert_get_refused(response: httpx.Response, accept: str | None = None) -> None:
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == (
        GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else JSON)
    assert response.json() == {"errors": [{"message": GET_REFUSED,
                                           "extensions": {"code": "METHOD_NOT_ALLOWED"}}]}


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("params", "accept"), [
    ({"query": "{ __typename }"}, JSON),
    ({"query": "{ __typename }"}, BROWSER),  # a query in the URL, even from a browser
    ({"extensions": '{"persistedQuery":{"version":1,"sha256Hash":"00"}}'}, BROWSER),
    ({}, JSON),
    ({}, GRAPHQL_RESPONSE),
    ({}, "*/*"),
    ({}, None),
])
async def test_get_is_refused_with_a_code_and_says_to_use_post(env_client, mint, params, accept):
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    if accept is not None:
        headers["Accept"] = accept
    assert_get_refused(await env_client.get(GRAPHQL, params=params, headers=headers), accept)


async def test_a_browser_gets_graphiql_outside_prod_only(db):
    for env, page in (("test", True), ("prod", False)):
        app = create_app(dataclasses.replace(db, env=env), clock=lambda: FIXED_NOW,
                         manage_db=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://krr.test") as c:
            response = await c.get(GRAPHQL, headers={"Accept": BROWSER})
        if page:
            assert response.status_code == 200
            assert "graphiql" in response.text.lower()
        else:
            assert_get_refused(response)


# --- graphql-http's audit -----------------------------------------------------------------------

# The audits that may stay unmet, each a deliberate choice (anything else not "ok" fails).
DELIBERATE = {
    "5A70": "GET is refused: a query in a URL would put personal ids in access logs",
    "D6D5": "GET is refused (as 5A70)",
    "6A70": "GET is refused (as 5A70)",
}


def test_graphql_http_audit_finds_no_failure_and_no_warning(cli_env):
    node = shutil.which("node")
    if node is None or not AUDIT_PACKAGE.exists():
        pytest.fail("node or graphql-http is missing: run `make test` (or `make graphql-http`), "
                    "which installs it from tests/graphql_http/package.json")
    token = krr(cli_env, "token", "--scope", KONTAKT, "--consumer", CONSUMER).stdout.strip()
    with krr_serving(cli_env) as base:
        run = subprocess.run([node, str(AUDIT), f"{base}{GRAPHQL}", f"Bearer {token}"],
                             capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(run.stdout)
    assert len(results) > 50  # the audits ran
    unmet = {r["id"]: f"{r['status']}: {r['name']} ({r['reason']})"
             for r in results if r["status"] != "ok"}
    assert unmet.keys() - DELIBERATE.keys() == set(), unmet
    assert all(r["status"] == "notice" for r in results if r["id"] in DELIBERATE)



# --- persisted operations: Apollo's APQ ---------------------------------------------------------

def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(digest: str, **body: object) -> dict[str, object]:
    return {**body, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}


NOT_FOUND = {"errors": [{"message": "PersistedQueryNotFound",
                         "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}


async def test_apq_unknown_hash_then_registered_then_run_by_hash(env_client, mint):
    pid = new_id(71)
    await person(pid)
    headers = auth(mint)
    variables = {"ids": [pid]}
    missed = await env_client.post(GRAPHQL, json=apq(sha(LOOKUP), variables=variables),
                                   headers=headers)
    assert missed.status_code == 200
    assert missed.headers["content-type"] == JSON
    assert missed.json() == NOT_FOUND
    sent = await env_client.post(GRAPHQL, json=apq(sha(LOOKUP), query=LOOKUP,
                                                   variables=variables), headers=headers)
    assert sent.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    by_hash = await env_client.post(GRAPHQL, json=apq(sha(LOOKUP).upper(), variables=variables),
                                    headers=headers)
    assert by_hash.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    # documentId names it too (the GraphQL-over-HTTP convention).
    by_id = await env_client.post(GRAPHQL, json={"documentId": f"sha256:{sha(LOOKUP)}",
                                                 "variables": variables}, headers=headers)
    assert by_id.json() == {"data": {"personer": [{"status": "AKTIV"}]}}


async def test_every_check_applies_to_the_document_a_hash_names(env_client, mint):
    """The persons cap, the token and the public fields, all judge the stored document."""
    headers = auth(mint)
    few = {"ids": [new_id(1)]}
    registered = await env_client.post(GRAPHQL, json=apq(sha(TWICE), query=TWICE,
                                                         variables=few), headers=headers)
    assert registered.json()["data"] is not None
    many = {"ids": [new_id(i) for i in range(600)]}
    capped = await env_client.post(GRAPHQL, json=apq(sha(TWICE), variables=many),
                                   headers=headers)
    assert capped.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_PERSONS"
    anonymous = await env_client.post(GRAPHQL, json=apq(sha(TWICE), variables=few))
    assert anonymous.json() == NOT_FOUND  # held, but not for a caller without a token
    with_text = await env_client.post(GRAPHQL, json=apq(sha(TWICE), query=TWICE, variables=few))
    assert with_text.status_code == 401
    public = "{ statistikk { __typename } }"
    await env_client.post(GRAPHQL, json=apq(sha(public), query=public))
    by_hash = await env_client.post(GRAPHQL, json=apq(sha(public)))  # no token: public
    assert by_hash.json() == {"data": {"statistikk": {"__typename": "Statistikk"}}}


async def test_apq_stores_only_documents_that_pass_the_limits_and_validation(env_client, mint):
    headers = auth(mint)
    for document in ("{ ukjentFelt }", "{ " + " ".join(f"a{i}: __typename" for i in range(40))
                     + " }"):
        refused = await env_client.post(GRAPHQL, json=apq(sha(document), query=document),
                                        headers=headers)
        assert refused.json()["errors"]
        again = await env_client.post(GRAPHQL, json=apq(sha(document)), headers=headers)
        assert again.json() == NOT_FOUND


@pytest.mark.parametrize(("body", "code"), [
    (apq(sha("{ __typename }"), query="{ statistikk { __typename } }"),
     "PERSISTED_QUERY_HASH_MISMATCH"),
    ({"documentId": sha("{ a }"), **apq(sha("{ b }"))}, "PERSISTED_QUERY_HASH_MISMATCH"),
    ({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha("{ a }")}}},
     "BAD_REQUEST"),
    (apq("not-a-hash"), "BAD_REQUEST"),
    ({"documentId": 17}, "BAD_REQUEST"),
])
async def test_apq_refusals(env_client, mint, body, code):
    response = await env_client.post(GRAPHQL, json=body, headers=auth(mint))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == code
    if code == "PERSISTED_QUERY_HASH_MISMATCH":
        assert response.json()["errors"][0]["message"] == "provided sha does not match query"


# What a caller without a valid token may send: none, one that does not verify, a malformed one.
BAD_TOKENS = {"none": {}, "invalid": {"Authorization": "Bearer not.a.token"},
              "malformed": {"Authorization": "Basic a3JyOmtycg=="}}
BY_HASH = {"apq": apq, "documentId": lambda digest: {"documentId": f"sha256:{digest}"}}


def seen(response: httpx.Response) -> tuple[int, object, dict[str, str]]:
    """All a caller sees of an answer, less what differs between any two (the request id, the
    limit's remaining count)."""
    return response.status_code, response.json(), {
        k: v for k, v in response.headers.items() if k not in {"x-request-id", "ratelimit"}}


def looking_up(pid: str) -> str:
    """A document with the id in its text, as the README's examples are written."""
    return f'{{ personer(personidentifikatorer: ["{pid}"]) {{ status }} }}'


async def test_a_tokenless_caller_cannot_tell_a_stored_hash_from_an_unknown_one(
    env_client, mint, monkeypatch
):
    """APQ: whether a document was ever sent (and so who was looked up) is not told to a
    caller without a valid token; with a bad token the store is not even consulted."""
    looked_up, never = new_id(73), new_id(74)
    await person(looked_up)
    stored = looking_up(looked_up)
    ran = await env_client.post(GRAPHQL, json=apq(sha(stored), query=stored), headers=auth(mint))
    assert ran.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    by_hash = await env_client.post(GRAPHQL, json=apq(sha(stored)), headers=auth(mint))
    assert by_hash.json() == ran.json()  # held
    for token, headers in BAD_TOKENS.items():
        looked_in = spy_calls(monkeypatch, [(Dokumentlager, "get")])
        for form, body in BY_HASH.items():
            held = await env_client.post(GRAPHQL, json=body(sha(stored)), headers=headers)
            unknown = await env_client.post(GRAPHQL, json=body(sha(looking_up(never))),
                                            headers=headers)
            assert seen(held) == seen(unknown), (token, form)
            if token == "none":  # as for any hash not held: Apollo's clients send the text
                assert held.status_code == 200 and held.json() == NOT_FOUND
            else:
                assert held.status_code == 401
        assert looked_in == ([] if token != "none" else ["get"] * 4)  # the public ones
        monkeypatch.undo()
        # The text sent next needs a token like any document that is not public.
        with_text = await env_client.post(GRAPHQL, json=apq(sha(stored), query=stored),
                                          headers=headers)
        assert with_text.status_code == 401


async def test_an_organisation_cannot_run_a_hash_another_organisation_sent(env_client, mint):
    """APQ with a valid token: a document kept for the organisation (or vendor) that sent it,
    so another caller cannot learn by its hash that it was sent, and who was looked up."""
    looked_up = new_id(75)
    await person(looked_up)
    stored = looking_up(looked_up)
    sender = auth(mint)
    ran = await env_client.post(GRAPHQL, json=apq(sha(stored), query=stored), headers=sender)
    assert ran.json() == {"data": {"personer": [{"status": "AKTIV"}]}}
    assert (await env_client.post(GRAPHQL, json=apq(sha(stored)), headers=sender)).json() == \
        ran.json()
    others = {
        "another organisation": mint(KONTAKT, consumer="889640782"),
        "a vendor for the sender": mint(KONTAKT, supplier="889640782"),
        "a resident": mint("krr:user/kontaktinformasjon.read", consumer=None, pid=new_id(76)),
    }
    for who, token in others.items():
        headers = {"Authorization": f"Bearer {token}"}
        for form, body in BY_HASH.items():
            other = await env_client.post(GRAPHQL, json=body(sha(stored)), headers=headers)
            unknown = await env_client.post(GRAPHQL, json=body(sha(looking_up(new_id(77)))),
                                            headers=headers)
            assert other.json() == unknown.json() == NOT_FOUND, (who, form)


def test_the_apq_store_is_bounded_in_count_and_bytes():
    lager = Dokumentlager(max_documents=3)
    for i in range(5):
        lager.put(f"h{i}", "x" * 10)
    assert len(lager) == 3 and lager.get("h0") is None
    assert lager.get("h4") == "x" * 10
    charged = ENTRY_BYTES + 2 + 100  # the cache's bookkeeping, the key and the text
    lager = Dokumentlager(max_bytes=3 * charged)
    for i in range(3):
        lager.put(f"h{i}", "x" * 100)
    lager.get("h0")  # used: kept over h1
    lager.put("h3", "y" * 100)
    assert lager.get("h0") is not None and lager.get("h1") is None and len(lager) == 3
    lager.put("h4", "z" * 3 * charged)  # more than the whole store: kept not, nor dropped
    assert lager.get("h4") is None and len(lager) == 3
    lager = Dokumentlager()
    lager.put("h5", "z" * MAX_DOCUMENT_BYTES)  # more than one document may be
    assert lager.get("h5") is None and len(lager) == 0


# --- trusted documents ------------------------------------------------------------------------

PUBLIC = "{ statistikk { __typename } }"


def manifest(tmp_path: Path, form: str, documents: list[str]) -> Path:
    if form == "apollo":
        value: object = {"format": "apollo-persisted-query-manifest", "version": 1,
                         "operations": [{"id": sha(d), "body": d, "name": f"Op{i}",
                                         "type": "query"} for i, d in enumerate(documents)]}
    else:  # GraphQL Codegen's client preset, persisted-documents.json
        value = {sha(d): d for d in documents}
    path = tmp_path / f"{form}.json"
    path.write_text(json.dumps(value))
    return path


@pytest.fixture(params=["apollo", "codegen"])
def trusted(request, tmp_path: Path, db: Settings) -> Settings:
    path = manifest(tmp_path, request.param, [LOOKUP, PUBLIC])
    loaded = load_settings({"KRR_TRUSTED_DOCUMENTS": str(path)}).trusted_documents
    assert loaded == {sha(LOOKUP): LOOKUP, sha(PUBLIC): PUBLIC}
    return dataclasses.replace(db, trusted_documents=loaded)


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_trusted_documents_run_by_hash_or_text_and_nothing_else(
    trusted, dev_issuer, mint, env
):
    pid = new_id(72)
    await person(pid)
    app = create_app(dataclasses.replace(trusted, env=env), clock=lambda: FIXED_NOW,
                     verifier=TokenVerifier({}, dev_issuer=dev_issuer), manage_db=False)
    variables = {"ids": [pid]}
    served = {"data": {"personer": [{"status": "AKTIV"}]}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        async def ask(body: dict[str, object], token: bool = True) -> httpx.Response:
            return await c.post(GRAPHQL, json=body, headers=auth(mint) if token else {})

        assert (await ask(apq(sha(LOOKUP), variables=variables))).json() == served
        assert (await ask({"documentId": f"sha256:{sha(LOOKUP)}",
                           "variables": variables})).json() == served
        assert (await ask({"query": LOOKUP, "variables": variables})).json() == served
        assert (await ask(apq(sha(PUBLIC)), token=False)).json() == {
            "data": {"statistikk": {"__typename": "Statistikk"}}}
        other = "{ __typename }"
        for body in ({"query": other}, apq(sha(other)), apq(sha(other), query=other),
                     {"documentId": sha(other)}, {"variables": variables}):
            refused = await ask(body)
            assert refused.status_code == 400, body
            assert refused.json()["errors"][0]["extensions"]["code"] == (
                "PERSISTED_QUERY_NOT_ALLOWED")
        # Registration is off: the document sent with its hash is still not allowed by hash.
        assert (await ask(apq(sha(other)))).status_code == 400


@pytest.mark.parametrize("env", ["test", "prod"])
async def test_a_tokenless_caller_cannot_tell_a_trusted_hash_from_an_unknown_one(
    trusted, dev_issuer, mint, env
):
    """Trusted documents: without a valid token only the manifest's public documents run;
    every other hash and every text that is not public get one answer, in the manifest or
    not (a token is needed), and a public text the manifest lacks is not allowed."""
    app = create_app(dataclasses.replace(trusted, env=env), clock=lambda: FIXED_NOW,
                     verifier=TokenVerifier({}, dev_issuer=dev_issuer), manage_db=False)
    unknown = looking_up(new_id(75))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as c:
        for token, headers in BAD_TOKENS.items():
            for form, body in BY_HASH.items():
                known = await c.post(GRAPHQL, json=body(sha(LOOKUP)), headers=headers)
                other = await c.post(GRAPHQL, json=body(sha(unknown)), headers=headers)
                assert known.status_code == 401 and seen(known) == seen(other), (token, form)
            known = await c.post(GRAPHQL, json={"query": LOOKUP}, headers=headers)
            other = await c.post(GRAPHQL, json={"query": unknown}, headers=headers)
            assert known.status_code == 401 and seen(known) == seen(other), token
        public = await c.post(GRAPHQL, json=apq(sha(PUBLIC)))
        assert public.json() == {"data": {"statistikk": {"__typename": "Statistikk"}}}
        not_allowed = await c.post(GRAPHQL, json={"query": "{ __typename }"})
        assert not_allowed.status_code == 400
        assert not_allowed.json()["errors"][0]["extensions"]["code"] == (
            "PERSISTED_QUERY_NOT_ALLOWED")


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read"),
    ("{not json", "not JSON"),
    ('["a list"]', "must be a JSON object"),
    ('{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}',
     "must be a JSON object"),
    ("{}", "holds no documents"),
    (json.dumps({sha("{ a }"): "{ b }"}), "is not the sha256"),
    (json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": "abc", "body": "{ a }", "name": "A", "type": "query"}]}), "is not the sha256"),
])
def test_a_bad_manifest_is_a_config_error_naming_the_variable(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=f"KRR_TRUSTED_DOCUMENTS.*{message}"):
        load_settings({"KRR_TRUSTED_DOCUMENTS": str(path)})
