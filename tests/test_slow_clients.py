"""Slow clients: a request's headers and body each have a deadline (KRR_HEADER_TIMEOUT,
KRR_BODY_TIMEOUT, app.edge.reading), and a worker serves at most KRR_MAX_CONNECTIONS
connections. Over real sockets against `krr serve` in prod, with deadlines of a second; the
body's deadline in front of the guard and the pages also in process."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.config import Settings
from app.edge.app import create_app
from tests.answer_headers import EVERY_ANSWER, NEVER_KEPT
from tests.conftest import FIXED_NOW, ROOT
from tests.servers import krr_serving

PATIENCE = 15.0  # seconds a test waits for the server before it fails (never reached when right)


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return base | {"KRR_ENV": "prod", "KRR_VAR_DIR": str(var_dir),
                   "KRR_DATABASE_URL": f"sqlite:///{var_dir / 'slow.sqlite3'}",
                   "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`krr serve` with deadlines of one second for headers and bodies, and for keeping an
    idle connection."""
    env = _env(tmp_path_factory.mktemp("var"), KRR_HEADER_TIMEOUT="1", KRR_BODY_TIMEOUT="1",
               KRR_KEEP_ALIVE_TIMEOUT="1")
    with krr_serving(env) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=PATIENCE)
    sock.settimeout(PATIENCE)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (the connection kept open), by its Content-Length."""
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < int(
            _response(received)[1]["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {received[:200]!r}"
        received += chunk
    return received


def _trickle(sock: socket.socket, data: bytes, every: float = 0.1) -> bytes:
    """`data` a byte every `every` seconds (over and over) until the server answers or closes;
    then what it sends until it closes."""
    deadline = time.monotonic() + PATIENCE
    position = 0
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            return _until_closed(sock)
        sock.sendall(data[position % len(data):position % len(data) + 1])
        position += 1
    raise AssertionError(f"the server still held the connection after {PATIENCE} s")


def _response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _assert_408(raw: bytes, what: str) -> None:
    status, headers, body = _response(raw)
    assert status == 408, raw[:300]
    assert headers["connection"] == "close"
    for name, value in {**NEVER_KEPT, **EVERY_ANSWER}.items():  # as every answer of the app
        assert headers[name] == value, (name, headers)
    assert "strict-transport-security" not in headers  # plain http here
    error = orjson.loads(body)["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert what in error["message"]


def test_a_body_stalled_one_byte_short_is_408_and_the_connection_closed(address):
    """The attack held 1 MiB per connection for as long as it liked: now the body must be
    complete a second after the headers, or the request is answered 408 and the connection
    closed, and with it what was received. (Without an Authorization header a body over 8 KiB
    is refused before it is read; a token is checked once the body is in, so any header will
    do to be read.)"""
    size = 1024 * 1024
    with _connect(address) as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: krr\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer not-yet-checked\r\n"
                     b"Content-Length: %d\r\n\r\n" % size + b" " * (size - 1))
        _assert_408(_until_closed(sock), "body")


def test_a_trickled_body_is_408_too(address):
    """Sending keeps a body alive no longer than its deadline: the deadline is for the whole
    body, not for each part."""
    with _connect(address) as sock:
        sock.sendall(b"POST /rest/v2/personer HTTP/1.1\r\nHost: krr\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        _assert_408(_trickle(sock, b" "), "body")


def _still_sending_after(sock: socket.socket, head: bytes, data: bytes) -> bytes:
    """`head` sent, then `data` a piece every few milliseconds, on past the server's answer
    for a while, as a client busy sending does; then what the server sent. A server that
    closes with bytes unread, or arriving, resets the connection, and the client's reads then
    fail (the answer may be lost): it must finish its side first and take what still comes (a
    lingering close)."""
    sock.sendall(head)
    deadline = time.monotonic() + PATIENCE
    answered_at: float | None = None
    while answered_at is None or time.monotonic() < answered_at + 0.3:
        assert time.monotonic() < deadline, f"the server did not answer within {PATIENCE} s"
        if answered_at is None and select.select([sock], [], [], 0.005)[0]:
            answered_at = time.monotonic()
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            break  # the server would take no more: the answer must still be readable
        time.sleep(0.005)
    return _until_closed(sock)


def test_a_client_still_sending_its_body_reads_the_408(address):
    """The 408 reaches a client that goes on sending its body after the deadline: the
    connection is not reset under it (a reset would lose the answer)."""
    with _connect(address) as sock:
        _assert_408(_still_sending_after(sock, b"POST /rest/v2/personer HTTP/1.1\r\nHost: krr"
                                         b"\r\nContent-Type: application/json\r\n"
                                         b"Content-Length: 1000000\r\n\r\n ", b" " * 100), "body")


def test_a_client_still_sending_its_headers_reads_the_408(address):
    with _connect(address) as sock:
        _assert_408(_still_sending_after(sock, b"GET /healthz HTTP/1.1\r\nHost: krr\r\n",
                                         b"X-Slow: x\r\n"), "headers")


def test_trickled_headers_are_408_and_the_connection_closed(address):
    """500 connections trickling headers were held for 40 s: now the headers must be complete
    a second after the connection opened, however steadily the bytes come."""
    with _connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: krr\r\n")
        _assert_408(_trickle(sock, b"X-Slow: x\r\n"), "headers")


def test_a_connection_that_sends_nothing_is_closed(address):
    """uvicorn alone would hold a silent connection for ever; it is closed (with no answer: no
    request was begun)."""
    with _connect(address) as sock:
        assert _until_closed(sock) == b""


def test_a_kept_alive_connection_trickling_its_next_request_is_closed(address):
    """The deadline holds for every request on a kept-alive connection, from its first byte."""
    with _connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: krr\r\n\r\n")
        assert _response(_one_response(sock))[0] == 200
        _assert_408(_trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: krr\r\n"), "headers")


def test_an_idle_kept_alive_connection_is_closed_at_the_keep_alive_timeout(address):
    with _connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: krr\r\n\r\n")
        assert _response(_one_response(sock))[0] == 200
        sock.settimeout(4)  # below uvicorn's own 5 s: KRR_KEEP_ALIVE_TIMEOUT is what closes it
        assert _until_closed(sock) == b""


def test_a_prompt_request_is_served_on_the_same_server(address):
    with _connect(address) as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: krr\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 27\r\nConnection: close\r\n\r\n"
                     b'{"query":"{ __typename }"}\n')
        status, _, body = _response(_until_closed(sock))
    assert status == 200 and orjson.loads(body) == {"data": {"__typename": "Query"}}


def test_connections_past_the_cap_are_refused_503(tmp_path):
    """KRR_MAX_CONNECTIONS bounds what a worker holds (connections × KRR_MAX_BODY_BYTES at
    most): with two connections open, a third one's request is answered 503 at once."""
    env = _env(tmp_path, KRR_MAX_CONNECTIONS="2", KRR_HEADER_TIMEOUT="30")
    with krr_serving(env) as base:
        host, port = base.removeprefix("http://").split(":")
        held = [_connect((host, int(port))) for _ in range(2)]
        try:
            for sock in held:  # each served once, then kept alive: both held by the server
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: krr\r\n\r\n")
                assert _response(_one_response(sock))[0] == 200
            with _connect((host, int(port))) as third:
                third.sendall(b"GET /healthz HTTP/1.1\r\nHost: krr\r\n\r\n")
                assert _response(_until_closed(third))[0] == 503
        finally:
            for sock in held:
                sock.close()


# --- the body's deadline in process: every reader of a body is under it -----------------------


async def _stalled(settings: Settings, path: str,
                   content_type: str) -> tuple[int, dict[str, str], bytes]:
    """`path` POSTed with a body whose first part arrives and whose rest never does."""
    app = create_app(settings, clock=lambda: FIXED_NOW, manage_db=False)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "server": ("krr.test", 80), "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"krr.test"), (b"content-type", content_type.encode()),
                         (b"content-length", b"1000")]}
    first = True
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), PATIENCE)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def quick(db: Settings) -> Settings:
    return replace(db, env="prod", body_timeout=0.2)


async def test_a_stalled_lookup_body_is_408_in_the_one_error_shape(quick):
    status, headers, body = await _stalled(quick, "/graphql", "application/json")
    assert status == 408 and headers["connection"] == "close"
    assert orjson.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


async def test_a_stalled_page_form_is_a_408_page(quick):
    """The access managers' forms are read by the same guard: a page saying so, and the
    connection closed."""
    status, headers, body = await _stalled(quick, "/admin/organisasjon/974760673/gi",
                                           "application/x-www-form-urlencoded")
    assert status == 408 and headers["connection"] == "close"
    assert headers["content-type"].startswith("text/html")
    assert "Skjemaet kom ikke fram i tide" in body.decode()
