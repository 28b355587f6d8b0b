"""Starting real servers in tests: a free loopback port, waiting for one to answer, `krr serve`
in a process of its own, `krr` commands, and a document served over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.conftest import ROOT

KRR = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30,
                  what: str = "krr serve") -> None:
    """Poll `url` until it answers; fail if `process` dies or the time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"{what} did not come up") from None
            time.sleep(0.2)


@contextmanager
def krr_serving(env: dict[str, str], *options: str) -> Iterator[str]:
    """`krr serve` (with `options`, e.g. --workers 2) on a free loopback port with `env`, up;
    yields its base URL, stops it after."""
    port = free_port()
    server = subprocess.Popen(
        [*KRR, "serve", "--host", "127.0.0.1", "--port", str(port), *options],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz", server)
        yield base
    finally:
        server.terminate()
        server.communicate(timeout=10)  # reaps the process and closes its pipe


@contextmanager
def serve_bytes(body: bytes, content_type: str, path: str | None = None) -> Iterator[int]:
    """`body` at `path` (every path when None) on a free port of 127.0.0.1, from a thread;
    yields the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = path is None or self.path == path
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve_json(document: object, path: str = "/jwks") -> Iterator[str]:
    """`document` as JSON at http://127.0.0.1:PORT`path`, from a thread (a real issuer's JWKS
    URL, for a `krr serve` process in prod); yields the URL."""
    with serve_bytes(json.dumps(document).encode(), "application/json", path) as port:
        yield f"http://127.0.0.1:{port}{path}"


def run_krr(env: dict[str, str], *args: str) -> str:
    """`krr ARGS` with `env`, which must succeed; what it printed, stripped."""
    done = subprocess.run([*KRR, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"krr {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()
