"""Starting real servers in tests: a free loopback port, and waiting for one to answer."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


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
