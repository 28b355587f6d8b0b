"""Helpers for the access managers' page in process: logging in through the development
OpenID provider exactly as a browser would (every redirect followed by hand, so each step can
be looked at), and reading the pages' forms."""

from __future__ import annotations

import html
import re

import httpx

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
ACR = "idporten-loa-substantial"


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def csrf_of(page: str) -> str:
    return hidden_fields(page)["csrf"]


async def to_provider(c: httpx.AsyncClient, path: str = "/admin") -> httpx.Response:
    """From a page without a session to the provider's login form."""
    r = await c.get(path)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/logg-inn"), r.text
    r = await c.get(r.headers["location"])
    assert r.status_code == 302, r.text
    return await c.get(r.headers["location"])


async def choose_person(c: httpx.AsyncClient, form: httpx.Response, pid: str,
                        acr: str = ACR) -> httpx.Response:
    """The provider's form answered; returns the service's answer to the callback."""
    assert form.status_code == 200, form.text
    fields = {k: v for k, v in hidden_fields(form.text).items()}
    r = await c.post("/dev/oidc/authorize", data={**fields, "pid": pid, "acr": acr,
                                                 "logg_inn": "1"})
    assert r.status_code == 303, r.text
    return await c.get(r.headers["location"])


async def log_in(c: httpx.AsyncClient, pid: str, path: str = "/admin") -> httpx.Response:
    """Logged in; returns the redirect back to `path`."""
    r = await choose_person(c, await to_provider(c, path), pid)
    assert r.status_code == 303, r.text
    assert "krr_okt" in c.cookies
    return r
