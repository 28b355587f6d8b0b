"""What every answer says about itself (app.edge.headers), checked where answers are tested."""

from __future__ import annotations

import httpx

NEVER_KEPT = {
    "cache-control": "no-cache, no-store, max-age=0, must-revalidate",
    "pragma": "no-cache",
    "expires": "0",
}
EVERY_ANSWER = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}
HSTS = "max-age=31536000; includeSubDomains"


def assert_every_answer(response: httpx.Response, *, https: bool = False) -> None:
    """Not sniffed, not framed; HSTS when (and only when) it came over https."""
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)
    if https:
        assert response.headers.get("strict-transport-security") == HSTS, response.headers
    else:
        assert "strict-transport-security" not in response.headers, response.headers


def assert_never_kept(response: httpx.Response, *, https: bool = False) -> None:
    """No cache keeps it (as the real register says it), and the headers of every answer."""
    for name, value in NEVER_KEPT.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)
    assert_every_answer(response, https=https)
