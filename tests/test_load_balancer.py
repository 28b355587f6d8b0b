"""Behind a TLS-terminating load balancer (issue 23, items 1-3): `krr serve` in prod behind a
proxy on another loopback address speaking https to the browser (tests/load_balancer.py), with
the prod login against a stand-in ID-porten over https; what the Host header may no longer
steer (the redirects); and whose X-Forwarded-For counts for the anonymous rate limit."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import ConfigError, Settings, load_settings
from app.edge.app import create_app
from tests.admin import csrf_of
from tests.answer_headers import assert_never_kept
from tests.conftest import ROOT
from tests.load_balancer import (
    BALANCER,
    Certificate,
    IdPorten,
    LoadBalancer,
    certificate,
    free_port,
    serving,
)
from tests.servers import KRR, krr_serving

BODY = "974760673"  # the access manager's organisation
VENDOR = "922020175"  # gets the lookup through the page
MANAGER = "17912099997"
SCHEME = "krr-paa-vegne-av"
BURST = 8  # anonymous requests a client may make before 429 (refilled one per 100 s)
BROWSER = "127.0.0.6"  # where the access manager's browser runs
ANONYMOUS = {"query": "{ __typename }"}  # public: needs no token, charged to the address


@dataclass(frozen=True)
class Deployment:
    public: str  # https://127.0.0.2:PORT, the load balancer: what the browser uses
    upstream: str  # http://127.0.0.1:PORT, `krr serve` itself
    issuer: str  # the stand-in ID-porten
    trust: ssl.SSLContext  # the test's certificate

    def browser(self) -> httpx.Client:
        """A browser on a machine of its own (its address's budget is the login's, not the
        other tests')."""
        transport = httpx.HTTPTransport(local_address=BROWSER, verify=self.trust)
        return httpx.Client(transport=transport, base_url=self.public, timeout=10)


def _env(directory: Path, **variables: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    return base | {"KRR_VAR_DIR": str(directory / "var"), "PYTHONPATH": str(ROOT),
                   "KRR_DATABASE_URL": f"sqlite:///{directory / 'krr.sqlite3'}",
                   "KRR_RATE_INDIVIDUALS": f"0.01/s,{BURST}", "LOGNAME": "drift", **variables}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """krr serve (prod) <- http from 127.0.0.2 <- the load balancer <- https on 127.0.0.2."""
    directory = tmp_path_factory.mktemp("lastbalanserer")
    cert: Certificate = certificate(directory)
    public = f"https://{BALANCER}:{free_port(BALANCER)}"
    idporten = IdPorten(pid=MANAGER, client_id="krr", client_secret="hemmelig")
    idporten_port = free_port("127.0.0.1")
    idporten.issuer = f"https://127.0.0.1:{idporten_port}"
    env = _env(directory, KRR_ENV="prod", KRR_PUBLIC_URL=public,
               KRR_TRUSTED_PROXIES=BALANCER, KRR_IDPORTEN_ISSUER=idporten.issuer,
               KRR_IDPORTEN_CLIENT_ID=idporten.client_id,
               KRR_IDPORTEN_CLIENT_SECRET=idporten.client_secret,
               KRR_IDPORTEN_REDIRECT_URL=f"{public}/admin/innlogget",
               KRR_SESSION_SECRET="s" * 40, SSL_CERT_FILE=str(cert.pem))
    added = subprocess.run([*KRR, "tilgangsstyrer", "legg-til", BODY, MANAGER], env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    port = int(urlsplit(public).port or 0)
    with serving(idporten.app(), "127.0.0.1", idporten_port, cert), \
            krr_serving(env) as upstream, \
            serving(LoadBalancer(upstream), BALANCER, port, cert):
        yield Deployment(public, upstream, idporten.issuer,
                         ssl.create_default_context(cafile=str(cert.pem)))


def _log_in(c: httpx.Client, d: Deployment) -> None:
    """The prod login, every step through the load balancer but ID-porten's own."""
    r = c.get("/admin")
    assert r.status_code == 303 and r.headers["location"] == "/admin/logg-inn?neste=%2Fadmin"
    r = c.get(r.headers["location"])
    authorize = urlsplit(r.headers["location"])
    assert r.status_code == 302 and r.headers["location"].startswith(f"{d.issuer}/authorize?")
    assert parse_qs(authorize.query)["redirect_uri"] == [f"{d.public}/admin/innlogget"]
    r = c.get(r.headers["location"])  # ID-porten logs the person in and sends them back
    assert r.status_code == 303 and r.headers["location"].startswith(f"{d.public}/admin/innlogget?")
    r = c.get(r.headers["location"])
    assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("krr_okt="))
    assert "secure" in cookie.lower()


def test_an_access_manager_grants_and_logs_out_through_a_tls_load_balancer_on_another_address(
        deployment: Deployment) -> None:
    d = deployment
    with d.browser() as c:
        _log_in(c, d)
        r = c.get("/admin")
        assert r.status_code == 303 and r.headers["location"] == f"/admin/organisasjon/{BODY}"
        page = c.get(r.headers["location"])
        assert page.status_code == 200, page.text
        grant = {"csrf": csrf_of(page.text), "til": VENDOR, "ordning": SCHEME}
        # The origin check is against the public address, not the one the service is reached
        # at, nor its scheme as the service saw it.
        for elsewhere in (d.upstream, d.public.replace("https:", "http:"), "https://evil.example"):
            refused = c.post(f"/admin/organisasjon/{BODY}/gi/bekreft", data=grant,
                             headers={"Origin": elsewhere})
            assert refused.status_code == 403 and "Skjemaet ble avvist" in refused.text
        r = c.post(f"/admin/organisasjon/{BODY}/gi/bekreft", data=grant,
                   headers={"Origin": d.public})
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/admin/organisasjon/{BODY}?melding=gitt"
        assert "Tilgangen er gitt" in c.get(r.headers["location"]).text
        r = c.post("/admin/logg-ut", data={"csrf": grant["csrf"]}, headers={"Origin": d.public})
        assert r.status_code == 303 and r.headers["location"].startswith(f"{d.issuer}/endsession")
        assert "krr_okt" not in c.cookies
        assert c.get("/admin").headers["location"].startswith("/admin/logg-inn")


def test_the_trailing_slash_redirect_stays_on_the_public_address(deployment: Deployment) -> None:
    with deployment.browser() as c:
        for host in (None, "evil.example"):
            r = c.get("/admin/", headers={"Host": host} if host else {})
            assert r.status_code == 307 and r.headers["location"] == "/admin"
            assert str(r.url.join(r.headers["location"])) == f"{deployment.public}/admin"


def _anonymous(base: str, source: str, forwarded_for: list[str],
               trust: ssl.SSLContext | None = None) -> list[int]:
    """The status of one anonymous POST /graphql from `source` per X-Forwarded-For value."""
    transport = httpx.HTTPTransport(local_address=source, verify=trust or True)
    with httpx.Client(transport=transport, base_url=base, timeout=10) as c:
        return [c.post("/graphql", json=ANONYMOUS,
                       headers={"X-Forwarded-For": xff, "X-Forwarded-Proto": "https"}).status_code
                for xff in forwarded_for]


def _probe(base: str, source: str, proto: str | None = None,
           trust: ssl.SSLContext | None = None) -> httpx.Response:
    """GET /healthz from `source` (charged to no one), saying X-Forwarded-Proto: `proto`."""
    transport = httpx.HTTPTransport(local_address=source, verify=trust or True)
    with httpx.Client(transport=transport, base_url=base, timeout=10) as c:
        return c.get("/healthz", headers={"X-Forwarded-Proto": proto} if proto else {})


def test_hsts_only_over_https_as_the_service_sees_it(deployment: Deployment) -> None:
    """Prod behind the TLS-terminating proxy: HSTS when the browser spoke https to it (the
    proxy, a trusted one, says so), never when the service was reached over plain http, whoever
    claims otherwise; every answer not kept, not sniffed, not framed either way."""
    d = deployment
    with d.browser() as c:
        through_the_balancer = c.get("/healthz")
    assert through_the_balancer.url.scheme == "https"
    assert_never_kept(through_the_balancer, https=True)
    from_the_balancer = _probe(d.upstream, BALANCER, "https")
    assert_never_kept(from_the_balancer, https=True)
    for source, proto in ((BALANCER, "http"), (BALANCER, None), ("127.0.0.1", "https"),
                          ("127.0.0.4", "https")):
        plain = _probe(d.upstream, source, proto)
        assert plain.status_code == 200
        assert_never_kept(plain, https=False)


def _changing(n: int) -> list[str]:
    return [f"203.0.113.{i}" for i in range(1, n + 1)]


def test_forwarded_for_from_an_untrusted_peer_is_ignored(deployment: Deployment) -> None:
    """Straight to the service from an address that is not the load balancer (127.0.0.1, which
    uvicorn trusts by default): each request names another client, and all are the one peer's."""
    statuses = _anonymous(deployment.upstream, "127.0.0.1", _changing(BURST + 2))
    assert statuses == [200] * BURST + [429] * 2


def test_forwarded_for_a_client_puts_in_front_of_the_load_balancer_is_ignored(
        deployment: Deployment) -> None:
    """Through the load balancer, which appends the client's real address: the rate limit goes
    by that one (the right-most address that is not a trusted proxy), not the client's claim."""
    statuses = _anonymous(deployment.public, "127.0.0.4", _changing(BURST + 2), deployment.trust)
    assert statuses == [200] * BURST + [429] * 2


def test_each_client_behind_a_trusted_proxy_has_its_own_bucket(deployment: Deployment) -> None:
    """From the load balancer's address, what it says counts: a client that has spent its
    bucket is refused whatever it adds in front, and the next client is served."""
    first = _anonymous(deployment.upstream, BALANCER, ["198.51.100.1"] * BURST
                       + [f"{spoofed}, 198.51.100.1" for spoofed in _changing(2)])
    assert first == [200] * BURST + [429] * 2
    assert _anonymous(deployment.upstream, BALANCER, ["198.51.100.2"]) == [200]


def test_workers_ignore_forwarding_headers_unless_the_proxy_is_configured(tmp_path) -> None:
    """`krr serve --workers 2` without KRR_TRUSTED_PROXIES: not even 127.0.0.1 (uvicorn's own
    default) may say whom it forwards for. Each worker keeps its own bucket here (no Redis), so
    2 * BURST + 1 requests are more than both hold."""
    env = _env(tmp_path, KRR_ENV="dev", FORWARDED_ALLOW_IPS="*")
    with krr_serving(env, "--workers", "2") as base:
        for source in ("127.0.0.1", BALANCER):
            statuses = _anonymous(base, source, _changing(2 * BURST + 1))
            assert 429 in statuses, (source, statuses)


# --- the redirects the service builds, whatever the Host header says ---------------------------

@pytest.fixture
async def evil_host(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service in prod with its public address set, asked with `Host: evil.example`."""
    settings = Settings(env="prod", database_url=db.database_url, var_dir=db.var_dir,
                        public_url="https://krr.example.no")
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://evil.example") as c:
        yield c


@pytest.mark.parametrize(("path", "location"), [
    ("/admin/", "/admin"), ("/graphql/", "/graphql"), ("/admin//", "/admin"),
    (f"/admin/organisasjon/{BODY}/", f"/admin/organisasjon/{BODY}"),
    ("/admin/?neste=x", "/admin?neste=x"),
])
async def test_a_host_header_names_no_redirect(evil_host: httpx.AsyncClient, path: str,
                                               location: str) -> None:
    for method in ("GET", "HEAD"):
        r = await evil_host.request(method, path)
        assert r.status_code == 307 and r.headers["location"] == location, r.text


@pytest.mark.parametrize("path", ["//evil.example/", "///evil.example/", "/nowhere/"])
async def test_a_trailing_slash_never_leads_off_the_site(evil_host: httpx.AsyncClient,
                                                        path: str) -> None:
    """Only a path a route takes is redirected to: never `//evil.example` (another site)."""
    r = await evil_host.get(httpx.URL("http://evil.example", raw_path=path.encode()))
    assert r.request.url.raw_path == path.encode()
    assert r.status_code == 404 and "location" not in r.headers


async def test_the_login_redirects_name_the_public_address_not_the_host(db: Settings) -> None:
    """Outside prod too: with KRR_PUBLIC_URL set, the development provider's addresses are on
    it (the redirect URI a code is sent to included)."""
    settings = Settings(env="test", database_url=db.database_url, var_dir=db.var_dir,
                        public_url="https://krr.example.no")
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://evil.example") as c:
        r = await c.get("/admin")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/logg-inn?")
        r = await c.get(r.headers["location"])
        authorize = urlsplit(r.headers["location"])
        assert r.status_code == 302 and "evil.example" not in r.headers["location"]
        assert f"{authorize.scheme}://{authorize.netloc}" == "https://krr.example.no"
        assert parse_qs(authorize.query)["redirect_uri"] == [
            "https://krr.example.no/admin/innlogget"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a_post_with_a_trailing_slash_is_not_redirected(evil_host: httpx.AsyncClient,
                                                             method: str) -> None:
    """A body (national ids in a lookup) is never sent on to another address: 404 in the one
    shape for programs, and a page under /admin."""
    r = await evil_host.request(method, "/graphql/", json={"query": "{ __typename }"})
    assert r.status_code == 404 and "location" not in r.headers
    assert r.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    r = await evil_host.request(method, f"/admin/organisasjon/{BODY}/gi/", data={"til": VENDOR})
    assert r.status_code == 404 and "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html") and "Fant ikke siden" in r.text


# --- configuration --------------------------------------------------------------------------

def test_trusted_proxies_are_addresses_and_networks_and_none_by_default() -> None:
    assert load_settings({}).trusted_proxies == ()
    assert load_settings({"KRR_TRUSTED_PROXIES": "10.0.0.5, 10.0.1.0/24 ::1"}).trusted_proxies \
        == ("10.0.0.5", "10.0.1.0/24", "::1")


@pytest.mark.parametrize(("value", "says"), [
    ("*", "'\\*' would let every client"), ("10.0.0.5/24", "host bits set"),
    ("lb.internal", "'lb.internal' is not one"), ("10.0.0.256", "'10.0.0.256' is not one"),
])
def test_a_trusted_proxy_that_is_not_an_address_is_refused(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"KRR_TRUSTED_PROXIES.*{says}"):
        load_settings({"KRR_TRUSTED_PROXIES": value})


IDPORTEN = {"KRR_ENV": "prod", "KRR_IDPORTEN_ISSUER": "https://idporten.no",
            "KRR_IDPORTEN_CLIENT_ID": "abc", "KRR_IDPORTEN_CLIENT_SECRET": "hemmelig",
            "KRR_IDPORTEN_REDIRECT_URL": "https://krr.example.no/admin/innlogget",
            "KRR_SESSION_SECRET": "k" * 40}


def test_prod_with_the_login_needs_the_public_address() -> None:
    with pytest.raises(ConfigError, match=r"KRR_PUBLIC_URL must be set in prod.*"
                                          r"https://krr\.example\.no"):
        load_settings(IDPORTEN)
    assert load_settings(IDPORTEN | {"KRR_PUBLIC_URL": "https://krr.example.no/"}).public_url \
        == "https://krr.example.no"
    assert load_settings({"KRR_ENV": "prod"}).public_url is None  # no login: no forms


@pytest.mark.parametrize(("value", "says"), [
    ("https://krr.example.no/krr", "without a path"),
    ("http://krr.example.no", "https"),
    ("https://other.example.no", "KRR_IDPORTEN_REDIRECT_URL must be https://other"),
])
def test_a_public_address_that_cannot_be_the_pages_is_refused(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(IDPORTEN | {"KRR_PUBLIC_URL": value})
