"""A load balancer in front of `krr serve`, as production has one: TLS to the browser on another
loopback address (127.0.0.2), plain HTTP to the service, the client's address appended to
X-Forwarded-For and X-Forwarded-Proto set (what nginx's `$proxy_add_x_forwarded_for` and
`$scheme` give); and a stand-in ID-porten over https that logs in whoever comes (the prod login
end to end through the load balancer).

Both are ASGI apps served by uvicorn on a thread of the test process; HTTP is parsed by uvicorn
and forwarded by httpx, the certificate made with `cryptography`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

BALANCER = "127.0.0.2"  # the load balancer's address, as the service sees it
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade",
                        b"proxy-connection", b"content-length"})


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for the loopback addresses: the load balancer's and the
    stand-in's; `pem` is also what the service (SSL_CERT_FILE) and the test trust."""

    pem: Path
    key: Path


def certificate(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "krr load balancer (test)")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(BALANCER)),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, key_pem = directory / "cert.pem", directory / "key.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return Certificate(pem, key_pem)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: object, host: str, port: int, cert: Certificate) -> Iterator[str]:
    """`app` over https on host:port from a thread, up; yields its base URL. uvicorn's own
    proxy-header handling is off: what a client sends reaches the app as sent."""
    config = uvicorn.Config(app, host=host, port=port, ssl_certfile=cert.pem,
                            ssl_keyfile=cert.key, proxy_headers=False, lifespan="off",
                            log_config=None, access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"https {host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"https server on {host}:{port} did not come up")
        time.sleep(0.01)
    try:
        yield f"https://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class LoadBalancer:
    """Every request forwarded to `upstream` from BALANCER, with the forwarding headers a load
    balancer adds; the answer passed back as it came (redirects included, not followed)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        peer = request.client.host if request.client else "unknown"
        forwarded = ", ".join([*request.headers.getlist("x-forwarded-for"), peer])
        headers = [(k, v) for k, v in request.headers.raw
                   if k not in HOP_BY_HOP and k not in (b"x-forwarded-for", b"x-forwarded-proto")]
        headers += [(b"x-forwarded-for", forwarded.encode()), (b"x-forwarded-proto", b"https")]
        transport = httpx.AsyncHTTPTransport(local_address=BALANCER)
        async with httpx.AsyncClient(transport=transport, base_url=self.upstream) as client:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            async with client.stream(request.method, target, headers=headers,
                                     content=body) as answer:
                content = b"".join([chunk async for chunk in answer.aiter_raw()])
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [(k, v) for k, v in answer.headers.raw
                                if k.lower() not in HOP_BY_HOP]})
        await send({"type": "http.response.body", "body": content})


@dataclass
class IdPorten:
    """ID-porten as far as the login needs it (discovery, authorize, token, keys, logout),
    logging `pid` in at level substantial with no questions asked."""

    pid: str
    client_id: str
    client_secret: str
    issuer: str = ""  # set once served
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    async def discovery(self, _: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/endsession",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def authorize(self, request: Request) -> Response:
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(request.query_params)
        query = urlencode({"code": code, "state": request.query_params["state"]})
        return RedirectResponse(f"{request.query_params['redirect_uri']}?{query}", 303)

    async def token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = await request.form()
        asked = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", "")).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (request.headers.get("authorization") != f"Basic {expected}" or asked is None
                or challenge.decode() != asked["code_challenge"]):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": "pairwise", "pid": self.pid,
                  "acr": "idporten-loa-substantial", "nonce": asked["nonce"], "iat": now,
                  "exp": now + 120}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return JSONResponse({"access_token": "a", "token_type": "Bearer", "expires_in": 60,
                             "id_token": id_token})

    async def jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/authorize", self.authorize), Route("/jwks", self.jwks),
            Route("/token", self.token, methods=["POST"]),
        ])
