"""Large answers compressed as the client asks (issue 24, item 6; app.edge.compression): br or
gzip by Accept-Encoding's qualities, br on a tie, none for small answers; decoded here by the
codecs themselves (not httpx's automatic decoding), to the very JSON the answer is
uncompressed. A compressed signed answer still verifies with eFormidling's JWTDecoder."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import AsyncIterator, Callable

import brotli
import httpx
import orjson
import pytest

from app.config import Settings
from app.edge.app import create_app
from app.edge.compression import BROTLI_QUALITY, GZIP_LEVEL, MINIMUM_SIZE, coding_for
from app.edge.signed import JWKS_PATH
from app.tilgangsstyrere import store as roller
from tests.admin import log_in
from tests.conftest import CONSUMER, FIXED_NOW
from tests.efm_jwtdecoder import getpayload
from tests.factories import new_id, person, provider
from tests.test_lookup import ALL_FIELDS, BOTH

JOSE = "application/jose"
MANAGER = "17912099997"  # manages CONSUMER on the pages
IDS = [new_id(n) for n in range(20)]
LOOKUP = {"query": f"query($ids: [String!]!) {{ personer(personidentifikatorer: $ids) "
                   f"{{ {ALL_FIELDS} }} }}", "variables": {"ids": IDS}}
REST = {"personidentifikatorer": IDS}
ASKS = [pytest.param("/graphql", LOOKUP, id="graphql"),
        pytest.param("/rest/v2/personer", REST, id="rest v2"),
        pytest.param("/rest/v1/personer", REST, id="rest v1")]
DECODE: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.decompress, "br": brotli.decompress}


@pytest.mark.parametrize(("accept_encoding", "coding"), [
    ("gzip", "gzip"),
    ("br", "br"),
    ("gzip, br", "br"),  # a tie: the service's preference
    ("gzip, deflate, br, zstd", "br"),  # what browsers send
    ("gzip;q=1.0, br;q=0.5", "gzip"),  # the client's preference wins
    ("br;q=0.2, gzip;q=0.9, *;q=0.1", "gzip"),
    ("BR;Q=0.8, GZIP;Q=0.3", "br"),
    ("*", "br"),
    ("*;q=0.5, gzip", "gzip"),
    ("br;q=0, *", "gzip"),
    ("br;q=0, gzip;q=0", None),
    ("gzip;q=0, *;q=0", None),
    ("identity", None),
    ("deflate", None),
    ("gzip;q=nonsense", None),
    ("", None),
])
def test_the_coding_is_the_one_the_client_prefers(accept_encoding, coding):
    assert coding_for(accept_encoding) == coding


@pytest.fixture
async def krr(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI with a register of IDS, every one with a mailbox and certificate."""
    digipost = await provider()
    for pid in IDS:
        await person(pid, postkasseleverandoer=digipost)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        del client.headers["accept-encoding"]  # each request says its own, or none
        yield client


async def wire(client: httpx.AsyncClient, method: str, path: str, *,
               encoding: str | None = None, **kwargs: object) -> tuple[httpx.Response, bytes]:
    """The answer and its bytes as they came, not decoded."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    async with client.stream(method, path, headers=headers, **kwargs) as response:  # type: ignore[arg-type]
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


def varies_by(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")} - {""}


@pytest.mark.parametrize(("path", "body"), ASKS)
async def test_a_lookup_in_gzip_and_br_decodes_to_the_same_json(krr, mint, path, body):
    token = {"Authorization": f"Bearer {mint(BOTH)}"}
    plain, as_is = await wire(krr, "POST", path, json=body, headers=token)
    assert plain.status_code == 200 and len(as_is) > MINIMUM_SIZE
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in varies_by(plain)  # another request would get it compressed
    level = {"gzip": lambda b: gzip.compress(b, GZIP_LEVEL),
             "br": lambda b: brotli.compress(b, quality=BROTLI_QUALITY)}
    for coding in ("gzip", "br"):
        response, compressed = await wire(krr, "POST", path, json=body, headers=token,
                                          encoding=coding)
        assert response.status_code == 200
        assert response.headers["content-encoding"] == coding
        assert int(response.headers["content-length"]) == len(compressed) < len(as_is) / 4
        assert "accept-encoding" in varies_by(response) and "accept" in varies_by(response)
        assert orjson.loads(DECODE[coding](compressed)) == orjson.loads(as_is)
        assert len(compressed) == len(level[coding](as_is))  # at the level chosen


@pytest.mark.parametrize(("accept_encoding", "coding"), [
    ("gzip, br", "br"), ("br;q=0.5, gzip", "gzip"), ("identity", None), (None, None),
    ("br;q=0, gzip;q=0", None), ("*;q=0.1", "br"),
])
async def test_the_qualities_choose_the_coding(krr, mint, accept_encoding, coding):
    response, body = await wire(krr, "POST", "/graphql", json=LOOKUP, encoding=accept_encoding,
                                headers={"Authorization": f"Bearer {mint(BOTH)}"})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == coding
    decoded = DECODE[coding](body) if coding else body
    assert len(orjson.loads(decoded)["data"]["personer"]) == len(IDS)
    assert "accept-encoding" in varies_by(response)


async def test_small_answers_go_as_they_are(krr, mint):
    token = {"Authorization": f"Bearer {mint(BOTH)}"}
    one = {"query": "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { status } }",
           "variables": {"ids": IDS[:1]}}
    answers = [
        await wire(krr, "POST", "/graphql", json=one, headers=token, encoding="br, gzip"),
        await wire(krr, "POST", "/graphql", json=LOOKUP, encoding="br, gzip"),  # 401
        await wire(krr, "POST", "/rest/v2/personer", json={"personidentifikatorer": ["1"]},
                   headers=token, encoding="br, gzip"),  # 400
        await wire(krr, "POST", "/rest/v2/personer", content=b"x" * (2 * 1024 * 1024),
                   headers={"Content-Type": "application/json"}, encoding="br, gzip"),  # 413
    ]
    assert [r.status_code for r, _ in answers] == [200, 401, 400, 413]
    for response, body in answers:
        assert len(body) < MINIMUM_SIZE, body
        assert "content-encoding" not in response.headers
        assert "accept-encoding" not in varies_by(response)  # never compressed, whoever asks
        assert orjson.loads(body)


@pytest.mark.parametrize("coding", ["gzip", "br"])
@pytest.mark.parametrize(("path", "body"), ASKS)
async def test_a_compressed_signed_answer_still_verifies(krr, mint, coding, path, body):
    """The JWS is the content; its signature covers the content, not the bytes on the wire:
    decoded, it is what eFormidling's JWTDecoder verifies (x5c[0], RS256)."""
    token = {"Authorization": f"Bearer {mint(BOTH)}"}
    _, as_is = await wire(krr, "POST", path, json=body, headers=token)
    response, compressed = await wire(krr, "POST", path, json=body, encoding=coding,
                                      headers={**token, "Accept": JOSE})
    assert response.status_code == 200 and response.headers["content-type"] == JOSE
    assert response.headers["content-encoding"] == coding
    payload = orjson.loads(getpayload(DECODE[coding](compressed).decode("ascii")))
    answer = orjson.loads(as_is)
    if path == "/graphql":
        assert payload["data"] == answer["data"]
    elif path == "/rest/v1/personer":  # v1's payload is the answer alone
        assert payload == answer
    else:
        assert payload["personer"] == answer["personer"]


@pytest.mark.parametrize("coding", ["gzip", "br"])
async def test_the_streamed_export_is_compressed_as_it_streams(krr, mint, coding):
    token = {"Authorization": f"Bearer {mint(f'krr:test/sok.read {BOTH}')}"}
    plain, as_is = await wire(krr, "GET", "/export/personer.csv", headers=token)
    response, compressed = await wire(krr, "GET", "/export/personer.csv", headers=token,
                                      encoding=coding)
    assert plain.status_code == response.status_code == 200
    assert response.headers["content-encoding"] == coding
    assert "content-length" not in response.headers  # streamed: its length is not known ahead
    rows = list(csv.reader(io.StringIO(DECODE[coding](compressed).decode("utf-8"))))
    assert rows == list(csv.reader(io.StringIO(as_is.decode("utf-8"))))
    assert len(rows) == len(IDS) + 1


async def test_pages_are_never_compressed(krr):
    """A page holds the session's CSRF token beside what the person typed: its length must not
    depend on how they compress together (BREACH)."""
    await roller.legg_til(CONSUMER, MANAGER, "test", FIXED_NOW)
    await log_in(krr, MANAGER)
    for path in (f"/admin/organisasjon/{CONSUMER}/gi", "/statistikk", "/hjelp"):
        response, body = await wire(krr, "GET", path, encoding="br, gzip")
        assert response.status_code == 200 and len(body) > MINIMUM_SIZE
        assert "content-encoding" not in response.headers, path
        assert b"<html" in body


async def test_head_says_what_get_would_send(krr):
    """HEAD's headers are GET's (the coding and its length); the server sends no body."""
    get, body = await wire(krr, "GET", JWKS_PATH, encoding="br")
    head, _ = await wire(krr, "HEAD", JWKS_PATH, encoding="br")
    assert len(body) > 0 and get.headers["content-encoding"] == "br"
    for name in ("content-encoding", "content-length", "content-type", "vary"):
        assert head.headers.get(name) == get.headers.get(name), name


async def test_a_compressed_request_body_is_not_decoded(krr, mint):
    """Bodies are read as sent: Content-Encoding on a request is not honoured, so a small body
    cannot unpack into a large one behind the body limit."""
    body = gzip.compress(orjson.dumps(REST))
    response, answer = await wire(krr, "POST", "/rest/v2/personer", content=body, headers={
        "Authorization": f"Bearer {mint(BOTH)}", "Content-Type": "application/json",
        "Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert orjson.loads(answer)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
