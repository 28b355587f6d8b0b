"""Settings read once from the environment, so every part of the service agrees on them."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from authz.tokens import ISSUER_KINDS, TrustedIssuer

Env = Literal["dev", "test", "prod"]
ENVIRONMENTS: tuple[Env, ...] = ("dev", "test", "prod")
LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")


class ConfigError(ValueError):
    """A setting in the environment is missing or malformed."""


# --- rate limits (enforced by app.edge.ratelimit) --------------------------------------------

@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` sustained, up to `burst` at once."""

    per_second: float
    burst: float


@dataclass(frozen=True, slots=True)
class Limits:
    """Per organisation (each vendor acting for it apart): `requests` and `persons`. Per person
    (a resident, an access manager) and per anonymous client address: `individuals` requests,
    or `requests` where None."""

    requests: Rate
    persons: Rate
    individuals: Rate | None = None

    @property
    def for_individuals(self) -> Rate:
        return self.requests if self.individuals is None else self.individuals


# Sized for the consumers in the field on one instance of two workers without Redis (README,
# "Rate limits"; docs/deployment.md says why): Altinn Correspondence's 300 single-id lookups a
# second, on one worker alone, under `requests`; Valgdirektoratet's sequential 1000-id lookups
# paced by the wait (KRR_RATE_WAIT) at `persons`. People and anonymous addresses keep the
# earlier 50/s: nothing they do needs more, and the login's rows are charged to them.
DEFAULT_LIMITS = Limits(requests=Rate(400, 800), persons=Rate(20_000, 40_000),
                        individuals=Rate(50, 200))
# Seconds a request over its caller's limit may be held until it fits (KRR_RATE_WAIT) rather
# than refused at once; 0: refused at once.
DEFAULT_RATE_WAIT = 1.0
MAX_RATE_WAIT = 60.0


def parse_rate(name: str, raw: str | None, default: Rate) -> Rate:
    """`RATE[/s][,BURST]`, e.g. `50/s,200`; burst defaults to the rate. Errors name `name`."""
    if raw is None or not raw.strip():
        return default
    rate_part, _, burst_part = raw.strip().partition(",")
    rate_part = rate_part.strip().removesuffix("/s")
    try:
        rate = float(rate_part)
        burst = float(burst_part) if burst_part.strip() else rate
    except ValueError:
        rate = burst = 0.0
    if not (0 < rate < 1e9 and 1 <= burst < 1e9) or math.isnan(rate + burst):
        raise ConfigError(
            f"{name} must be 'RATE/s' or 'RATE/s,BURST' with RATE > 0 and BURST >= 1 "
            f"(got {raw!r})"
        )
    return Rate(rate, burst)


# --- pages on other origins (app.edge.cors) --------------------------------------------------

CORS_ORIGINS = "KRR_CORS_ORIGINS"
# An origin on this machine, as a browser writes it (RFC 6454: lower case, no default port).
LOOPBACK_ORIGIN = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?")
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CorsOrigins:
    """The origins whose pages may call the API from a browser: each named, and outside prod
    `every` (`*`) or, dev's default, `loopback` (any port on localhost, 127.0.0.1 or [::1])."""

    origins: frozenset[str] = frozenset()
    loopback: bool = False
    every: bool = False

    @property
    def empty(self) -> bool:
        """No page on another origin may call (the default in prod and test)."""
        return not (self.origins or self.loopback or self.every)

    def allows(self, origin: str) -> bool:
        """Whether a page whose `Origin` header says `origin` may read the API's answers."""
        return (self.every or origin in self.origins
                or (self.loopback and LOOPBACK_ORIGIN.fullmatch(origin) is not None))


def _origin(value: str, schemes: tuple[str, ...]) -> str | None:
    """`value` as a browser's Origin header writes it, or None when it is not an origin."""
    try:
        parts = urlsplit(value.removesuffix("/") if value.count("/") == 3 else value)
        port = parts.port
    except ValueError:  # an unclosed [ or a port out of range
        return None
    host = parts.hostname or ""
    if (port == 0 or parts.scheme not in schemes or parts.path or parts.query or parts.fragment
            or "@" in parts.netloc or "?" in value or "#" in value):
        return None
    if host.startswith("[") or ":" in host:  # an IPv6 address, written in brackets
        try:
            host = f"[{ipaddress.IPv6Address(host.strip('[]')).compressed}]"
        except ValueError:
            return None
    elif not _HOST_NAME.fullmatch(host):
        return None
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _cors_origins(raw: str | None, env: str) -> CorsOrigins:
    """KRR_CORS_ORIGINS: origins separated by commas or spaces, each checked and written as a
    browser writes it. Unset: none, except in dev, where pages on this machine may call."""
    if raw is None or not raw.strip():
        return CorsOrigins(loopback=env == "dev")
    prod = env == "prod"
    schemes = ("https",) if prod else ("https", "http")
    values = [v for v in re.split(r"[,\s]+", raw.strip()) if v]
    if "*" in values:
        if prod:
            raise ConfigError(f"{CORS_ORIGINS} must name each origin in prod: '*' would let a "
                              "page on any site call the API with whatever token it holds")
        return CorsOrigins(every=True)
    origins: set[str] = set()
    for value in values:
        origin = _origin(value, schemes)
        if origin is None:
            hint = "" if value.isascii() else " (write an internationalised name as xn--...)"
            raise ConfigError(
                f"{CORS_ORIGINS} must be origins, scheme://host[:port] without a path "
                f"({'https only in prod' if prod else 'https or http'}; e.g. "
                f"https://minside.example.no), separated by commas or spaces; {value[:80]!r} is "
                f"not one{hint}")
        origins.add(origin)
    return CorsOrigins(frozenset(origins))


@dataclass(frozen=True, slots=True)
class Kontakt:
    """Where people reach the service's operator (the help, contact and accessibility pages,
    app.hjelp): an e-mail address, a web page, or both; neither in prod when not configured."""

    epost: str | None = None
    url: str | None = None

    @property
    def oppgitt(self) -> bool:
        return self.epost is not None or self.url is not None


# Outside prod (`make run`, the tests): addresses of the reserved example domain (RFC 2606).
KONTAKT_EKSEMPEL = Kontakt(epost="kontakt@example.org", url="https://example.org/kontakt")
EPOSTADRESSE = re.compile(r"[^@\s<>\"]{1,64}@[^@\s<>\"/]+\.[^@\s<>\"/]+")


@dataclass(frozen=True)
class Settings:
    env: Env
    database_url: str
    var_dir: Path
    trusted_issuers: dict[str, TrustedIssuer] = field(default_factory=dict)
    audit_retention_days: int = 1825  # five years of audit log, then `krr prune-audit`
    smtp_url: str | None = None  # e-mail to residents; unset: logged (dev) or kept queued (prod)
    sms_url: str | None = None  # HTTP SMS gateway; unset as above
    outbox_interval: float = 5.0  # seconds between the app's outbox dispatch rounds
    audit_filer_interval: float = 1.0  # seconds between the audit filer's looks for leftovers
    max_depth: int = 10  # GraphQL limits (app.api.limits): operation depth,
    max_aliases: int = 30  # aliases in a document,
    max_tokens: int = 5000  # tokens in a document,
    max_fields: int = 1000  # fields in a document once its fragments are spread,
    max_body_bytes: int = 1024 * 1024  # request body size
    rate_limits: Limits = DEFAULT_LIMITS  # per caller (app.edge.ratelimit)
    rate_wait: float = DEFAULT_RATE_WAIT  # seconds a request may be held for it; 0: never
    redis_url: str | None = None  # shared rate limits across instances; unset: per process
    log_format: LogFormat = "json"  # `krr serve`'s lines (app.logs); text is for a terminal
    # The `aud` values a token may name (authz.tokens); a token naming none of them is refused,
    # a token without `aud` accepted. Unset: every token that names an audience is refused.
    audiences: frozenset[str] = frozenset()
    request_timeout: float = 5.0  # seconds a request may take before it is a 503 (app.edge)
    # Reading a request (app.edge.reading): its headers within header_timeout of the connection
    # (or of their first byte, on a kept-alive connection), else the connection is closed; its
    # body within body_timeout of the headers, else 408. At most max_connections connections per
    # process (uvicorn's limit_concurrency: a request beyond it is answered 503); an idle one
    # kept alive for keep_alive_timeout whole seconds (uvicorn's timeout_keep_alive).
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    max_connections: int = 1000
    keep_alive_timeout: int = 5
    # KRR_SIGNING_KEY: a PEM file with the RSA key signed answers are signed with (app.signing,
    # which reads and checks it at startup). Unset: generated under var_dir outside prod; in
    # prod, answers are not signed.
    signing_key: Path | None = None
    # KRR_SIGNING_CERT: a PEM file with that key's certificate chain, leaf first, carried in a
    # signed answer's header (x5c) and the published keys; required with KRR_SIGNING_KEY in prod
    # (checked against it at startup). Unset outside prod: a self-signed one under var_dir.
    signing_cert: Path | None = None
    # The access managers' login (app.innlogging): ID-porten, or outside prod by default the
    # built-in development OpenID provider; None in prod when not configured (no /admin login).
    idporten: Idporten | None = None
    # KRR_SESSION_SECRET: signs the pages' session cookies. Unset outside prod: generated under
    # var_dir; in prod required with KRR_IDPORTEN_*.
    session_secret: str | None = None
    # KRR_PUBLIC_URL: the service's origin as browsers see it (e.g. https://krr.example.no),
    # what the pages' form posts are checked against; required in prod with KRR_IDPORTEN_*,
    # unset otherwise: taken from each request.
    public_url: str | None = None
    # KRR_TRUSTED_PROXIES: the load balancers (addresses, networks) whose X-Forwarded-For and
    # X-Forwarded-Proto count (`krr serve` hands them to uvicorn); empty: those headers are
    # ignored from everyone.
    trusted_proxies: tuple[str, ...] = ()
    # KRR_TRUSTED_DOCUMENTS: the only GraphQL documents that may run, by sha256 (hex) of their
    # text (app.edge.persisted); None: any document, and Apollo's APQ.
    trusted_documents: Mapping[str, str] | None = None
    # KRR_CORS_ORIGINS: the origins whose pages may call the API from a browser (app.edge.cors);
    # none by default in prod and test, pages on this machine in dev (`make run`).
    cors_origins: CorsOrigins = CorsOrigins()
    # KRR_KONTAKT_EPOST, KRR_KONTAKT_URL: the operator's contact on the help, contact and
    # accessibility pages; example addresses outside prod, in prod none unless set (the pages
    # then say so, and `krr serve` warns).
    kontakt: Kontakt = KONTAKT_EKSEMPEL

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    @property
    def trusts_dev_issuer(self) -> bool:
        """The built-in development issuer is never trusted in production."""
        return self.env != "prod"


# --- the access managers' login (app.innlogging) ----------------------------------------------

ACR_LEVELS = ("idporten-loa-substantial", "idporten-loa-high")
IDPORTEN_VARIABLES = (
    "KRR_IDPORTEN_ISSUER", "KRR_IDPORTEN_CLIENT_ID", "KRR_IDPORTEN_CLIENT_SECRET",
    "KRR_IDPORTEN_CLIENT_KEY", "KRR_IDPORTEN_REDIRECT_URL",
)


@dataclass(frozen=True, slots=True)
class Idporten:
    """An OpenID provider the page logs people in with (ID-porten in prod)."""

    issuer: str  # discovery at {issuer}/.well-known/openid-configuration
    client_id: str
    redirect_url: str  # {public URL}/admin/innlogget, as registered with ID-porten
    client_secret: str | None = None  # client_secret_basic/post ...
    client_key: Path | None = None  # ... or private_key_jwt with this PEM (RSA) key
    acr: str = "idporten-loa-substantial"  # the lowest level asked for and accepted


def _https_url(name: str, raw: str, *, prod: bool) -> str:
    parts = urlsplit(raw)
    schemes = ("https",) if prod else ("https", "http")
    if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an {' or '.join(schemes)} URL without query "
                          f"(got {raw[:80]!r})")
    return raw.rstrip("/") if name != "KRR_IDPORTEN_REDIRECT_URL" else raw


def _idporten(env_vars: Mapping[str, str], env: str) -> Idporten | None:
    """KRR_IDPORTEN_*: all or nothing. Outside prod nothing means the development provider."""
    given = {n: env_vars[n].strip() for n in IDPORTEN_VARIABLES if env_vars.get(n, "").strip()}
    if not given:
        return None
    prod = env == "prod"
    missing = [n for n in ("KRR_IDPORTEN_ISSUER", "KRR_IDPORTEN_CLIENT_ID",
                           "KRR_IDPORTEN_REDIRECT_URL") if n not in given]
    secret, key = given.get("KRR_IDPORTEN_CLIENT_SECRET"), given.get("KRR_IDPORTEN_CLIENT_KEY")
    if not secret and not key:
        missing.append("KRR_IDPORTEN_CLIENT_SECRET or KRR_IDPORTEN_CLIENT_KEY")
    if missing:
        raise ConfigError("The ID-porten login is incompletely configured: set "
                          + ", ".join(missing) + " (or none of KRR_IDPORTEN_*)")
    if secret and key:
        raise ConfigError("Set KRR_IDPORTEN_CLIENT_SECRET or KRR_IDPORTEN_CLIENT_KEY, not both")
    if key and not Path(key).is_file():
        raise ConfigError(f"KRR_IDPORTEN_CLIENT_KEY names no file ({key[:80]!r})")
    acr = env_vars.get("KRR_IDPORTEN_ACR", ACR_LEVELS[0]).strip()
    if acr not in ACR_LEVELS:
        raise ConfigError(f"KRR_IDPORTEN_ACR must be one of {', '.join(ACR_LEVELS)} "
                          f"(got {acr[:40]!r})")
    redirect = _https_url("KRR_IDPORTEN_REDIRECT_URL", given["KRR_IDPORTEN_REDIRECT_URL"],
                          prod=prod)
    if not urlsplit(redirect).path.endswith("/admin/innlogget"):
        raise ConfigError("KRR_IDPORTEN_REDIRECT_URL must be this service's /admin/innlogget "
                          f"(got {redirect[:80]!r})")
    return Idporten(
        issuer=_https_url("KRR_IDPORTEN_ISSUER", given["KRR_IDPORTEN_ISSUER"], prod=prod),
        client_id=given["KRR_IDPORTEN_CLIENT_ID"], redirect_url=redirect,
        client_secret=secret, client_key=Path(key) if key else None, acr=acr,
    )


def _session_secret(raw: str | None, env: str, idporten: Idporten | None) -> str | None:
    if raw is not None and raw.strip():
        if len(raw.strip()) < 32:
            raise ConfigError("KRR_SESSION_SECRET must be at least 32 characters of random text")
        return raw.strip()
    if env == "prod" and idporten is not None:
        raise ConfigError("KRR_SESSION_SECRET must be set in prod when KRR_IDPORTEN_* is set: "
                          "it signs the access managers' session cookies")
    return None


def _public_url(raw: str | None, env: str, idporten: Idporten | None) -> str | None:
    """The origin browsers use. Required in prod with the login set up: the pages' forms are
    checked against it, and behind a load balancer the address the service is reached at is
    not the one browsers see. With ID-porten, its redirect URL must be on it."""
    if raw is None or not raw.strip():
        if env == "prod" and idporten is not None:
            redirect = urlsplit(idporten.redirect_url)
            raise ConfigError(
                "KRR_PUBLIC_URL must be set in prod when KRR_IDPORTEN_* is set: the address "
                f"browsers use, e.g. {redirect.scheme}://{redirect.netloc} (the pages' forms "
                "are checked against it)")
        return None
    url = _https_url("KRR_PUBLIC_URL", raw.strip(), prod=env == "prod")
    if urlsplit(url).path:
        raise ConfigError("KRR_PUBLIC_URL must be an origin, scheme://host[:port] without a "
                          f"path: the service answers at its root (got {raw.strip()[:80]!r})")
    if idporten is not None:
        redirect = urlsplit(idporten.redirect_url)
        if f"{redirect.scheme}://{redirect.netloc}" != url:
            raise ConfigError(f"KRR_IDPORTEN_REDIRECT_URL must be {url}/admin/innlogget, on "
                              f"KRR_PUBLIC_URL (got {idporten.redirect_url[:80]!r})")
    return url


def _kontakt(env_vars: Mapping[str, str], env: str) -> Kontakt:
    """KRR_KONTAKT_EPOST (an address) and KRR_KONTAKT_URL (a page: https, or http outside
    prod); each unset or empty: the example's outside prod, none in prod."""
    standard = Kontakt() if env == "prod" else KONTAKT_EKSEMPEL
    epost = (env_vars.get("KRR_KONTAKT_EPOST") or "").strip() or standard.epost
    url = (env_vars.get("KRR_KONTAKT_URL") or "").strip() or standard.url
    if epost is not None and (len(epost) > 254 or not EPOSTADRESSE.fullmatch(epost)):
        raise ConfigError(f"KRR_KONTAKT_EPOST must be an e-mail address (got {epost[:80]!r})")
    if url is not None:
        url = _https_url("KRR_KONTAKT_URL", url, prod=env == "prod")
    return Kontakt(epost=epost, url=url)


def _trusted_proxies(raw: str | None) -> tuple[str, ...]:
    """Addresses and networks (CIDR), separated by commas or spaces, checked here: uvicorn
    would take a misspelt one as a name that never matches, and say nothing."""
    if raw is None or not raw.strip():
        return ()
    proxies: list[str] = []
    for value in (v for v in re.split(r"[,\s]+", raw.strip()) if v):
        try:
            parsed = (ipaddress.ip_network(value) if "/" in value
                      else ipaddress.ip_address(value))
        except ValueError as exc:
            why = ("name them: '*' would let every client say where it comes from"
                   if value == "*" else str(exc)[:80])
            raise ConfigError(
                "KRR_TRUSTED_PROXIES must be the load balancers' IP addresses or networks "
                f"(e.g. 10.0.0.5, 10.0.1.0/24), separated by commas; {value[:60]!r} is not one "
                f"({why})") from None
        proxies.append(str(parsed))
    return tuple(proxies)


_ISSUER_FORMS = (
    'a JWKS URL (a Maskinporten issuer) or {"jwks": URL, "kind": '
    + " | ".join(f'"{kind}"' for kind in ISSUER_KINDS)
    + "}"
)


def _parse_issuers(raw: str | None) -> dict[str, TrustedIssuer]:
    """Issuer -> keys and kind. The kind must be spelled out in the object form: guessing it
    would decide whether the issuer's tokens speak for organisations or for residents."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"KRR_TRUSTED_ISSUERS is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError(
            f"KRR_TRUSTED_ISSUERS must be a JSON object mapping each issuer to {_ISSUER_FORMS}"
        )
    return {issuer: _trusted_issuer(issuer, entry) for issuer, entry in value.items()}


def _trusted_issuer(issuer: str, entry: Any) -> TrustedIssuer:
    if isinstance(entry, str):
        return TrustedIssuer(entry)
    if (
        isinstance(entry, dict)
        and set(entry) == {"jwks", "kind"}
        and isinstance(entry["jwks"], str)
        and entry["kind"] in ISSUER_KINDS
    ):
        return TrustedIssuer(entry["jwks"], entry["kind"])
    raise ConfigError(
        f"KRR_TRUSTED_ISSUERS: issuer {issuer!r} must map to {_ISSUER_FORMS} (got "
        f"{json.dumps(entry)[:120]})"
    )


def _database_url(raw: str | None, var_dir: Path) -> str:
    if not raw:
        return f"sqlite://{var_dir / 'krr.sqlite3'}"
    if raw.startswith("sqlite:///"):
        # sqlite:///absolute/path -> tortoise's sqlite:///absolute/path form is the same
        return raw
    if raw.startswith(("postgres://", "postgresql://", "sqlite://", "asyncpg://")):
        return raw.replace("postgresql://", "postgres://", 1)
    raise ConfigError(
        "KRR_DATABASE_URL must start with sqlite:/// or postgres:// (got "
        f"{raw.split(':', 1)[0]!r})"
    )


MAX_RETENTION_DAYS = 36_500  # beyond a century the cut-off date falls off the calendar


def _retention_days(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 0 < value <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"{name} must be a whole number of days from 1 to {MAX_RETENTION_DAYS} (got {raw!r})"
        )
    return value


def _smtp_url(raw: str | None) -> str | None:
    """smtp://[user:pw@]host[:port][?from=addr&starttls=1] or smtps://...; never echoed back
    whole, since it may carry a password."""
    if not raw or not raw.strip():
        return None
    parts = urlsplit(raw.strip())
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    sender = parse_qs(parts.query).get("from", ["krr@localhost"])[0]
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or not port_ok or (
        "@" not in sender
    ):
        raise ConfigError(
            "KRR_SMTP_URL must look like smtp://host:port or smtps://user:password@host:port, "
            f"optionally ?from=address&starttls=1 (got scheme {parts.scheme!r})"
        )
    return raw.strip()


def _sms_url(raw: str | None, env: str) -> str | None:
    """The SMS gateway's URL; https in prod, since the messages carry one-time codes."""
    if not raw or not raw.strip():
        return None
    parts = urlsplit(raw.strip())
    allowed = ("https",) if env == "prod" else ("http", "https")
    if parts.scheme not in allowed or not parts.hostname:
        raise ConfigError(
            f"KRR_SMS_URL must be an {' or '.join(allowed)} URL of the SMS gateway "
            f"(got scheme {parts.scheme!r})"
        )
    return raw.strip()


def _seconds(name: str, raw: str | None, default: float, low: float, high: float) -> float:
    """A duration in seconds from `low` to `high`, else the default when unset; NaN and
    infinity are out of range like any other number outside it."""
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan  # out of every range, 0 included
    if not low <= value <= high:
        raise ConfigError(f"{name} must be {low:g} to {high:g} seconds (got {raw!r})")
    return value


def _audiences(raw: str | None) -> frozenset[str]:
    """KRR_AUDIENCE: the audiences (e.g. `https://krr.example.no/` or `krr:api`) this service
    answers to, separated by commas or spaces."""
    if raw is None or not raw.strip():
        return frozenset()
    values = [v for v in re.split(r"[,\s]+", raw.strip()) if v]
    bad = [v for v in values if not v.isprintable() or len(v) > 200]
    if bad:
        raise ConfigError(
            "KRR_AUDIENCE must be audiences (URLs or names) separated by commas or spaces; "
            f"{bad[0][:40]!r} is not one"
        )
    return frozenset(values)


def _redis_url(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ConfigError(
            "KRR_REDIS_URL must be a redis://, rediss:// or unix:// URL "
            f"(got scheme {parts.scheme!r})"
        )
    return raw.strip()


def _log_format(raw: str | None, env: str) -> LogFormat:
    """Readable lines by default only in dev: a log store in test or prod expects JSON lines."""
    if raw is None or not raw.strip():
        return "text" if env == "dev" else "json"
    for log_format in LOG_FORMATS:
        if raw.strip() == log_format:
            return log_format
    raise ConfigError(f"KRR_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {raw!r})")


MAX_REQUEST_TIMEOUT = 600.0  # seconds; a load balancer has given up long before


def _limit(env_vars: Mapping[str, str], name: str, default: int) -> int:
    """A request limit (app.api.limits): a whole number from 1, else the default when unset."""
    raw = env_vars.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a whole number from 1 (got {raw!r})")
    return value


def _path(raw: str | None) -> Path | None:
    return Path(raw.strip()) if raw is not None and raw.strip() else None


TRUSTED_DOCUMENTS = "KRR_TRUSTED_DOCUMENTS"
_MANIFEST_FORMS = ('a JSON object {"<sha256 hex>": "<document>"} (GraphQL Codegen\'s '
                   'persisted-documents.json) or an Apollo persisted query manifest '
                   '{"format": "apollo-persisted-query-manifest", "version": 1, '
                   '"operations": [{"id", "body", "name", "type"}]}')


def _trusted_documents(raw: str | None) -> dict[str, str] | None:
    """The manifest at the path KRR_TRUSTED_DOCUMENTS names: hash -> document, each hash
    checked against its document's sha256."""
    if raw is None or not raw.strip():
        return None
    path = Path(raw.strip())
    try:
        value = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{TRUSTED_DOCUMENTS}: cannot read {raw.strip()[:120]!r} "
                          f"({type(exc).__name__})") from exc
    except ValueError as exc:
        raise ConfigError(f"{TRUSTED_DOCUMENTS}: {path.name!r} is not JSON ({exc})") from exc
    if isinstance(value, dict) and value.get("format") == "apollo-persisted-query-manifest":
        operations = value.get("operations")
        if value.get("version") != 1 or not isinstance(operations, list) or not all(
            isinstance(o, dict) and isinstance(o.get("id"), str)
            and isinstance(o.get("body"), str) for o in operations
        ):
            raise ConfigError(f"{TRUSTED_DOCUMENTS}: {path.name!r} must be {_MANIFEST_FORMS}")
        entries = [(o["id"], o["body"]) for o in operations]
    elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        entries = list(value.items())
    else:
        raise ConfigError(f"{TRUSTED_DOCUMENTS}: {path.name!r} must be {_MANIFEST_FORMS}")
    if not entries:
        raise ConfigError(f"{TRUSTED_DOCUMENTS}: {path.name!r} holds no documents")
    documents: dict[str, str] = {}
    for key, body in entries:
        digest = key.strip().lower().removeprefix("sha256:")
        if digest != hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest():
            raise ConfigError(f"{TRUSTED_DOCUMENTS}: in {path.name!r}, {key[:80]!r} is not the "
                              "sha256 (hex) of its document")
        documents[digest] = body
    return documents


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read KRR_* variables; raise ConfigError naming the variable that is wrong."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("KRR_ENV", "dev")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KRR_ENV must be one of {', '.join(ENVIRONMENTS)} (got {env!r})")
    var_dir = Path(env_vars.get("KRR_VAR_DIR", "var")).resolve()
    idporten = _idporten(env_vars, env)
    return Settings(
        env=env,
        database_url=_database_url(env_vars.get("KRR_DATABASE_URL"), var_dir),
        var_dir=var_dir,
        trusted_issuers=_parse_issuers(env_vars.get("KRR_TRUSTED_ISSUERS")),
        audit_retention_days=_retention_days(
            "KRR_AUDIT_RETENTION_DAYS", env_vars.get("KRR_AUDIT_RETENTION_DAYS"), 1825
        ),
        smtp_url=_smtp_url(env_vars.get("KRR_SMTP_URL")),
        sms_url=_sms_url(env_vars.get("KRR_SMS_URL"), env),
        outbox_interval=_seconds("KRR_OUTBOX_INTERVAL", env_vars.get("KRR_OUTBOX_INTERVAL"),
                                 5.0, 0.1, 3600),
        audit_filer_interval=_seconds("KRR_AUDIT_FILER_INTERVAL",
                                      env_vars.get("KRR_AUDIT_FILER_INTERVAL"), 1.0, 0.1, 3600),
        max_depth=_limit(env_vars, "KRR_MAX_DEPTH", 10),
        max_aliases=_limit(env_vars, "KRR_MAX_ALIASES", 30),
        max_tokens=_limit(env_vars, "KRR_MAX_TOKENS", 5000),
        max_fields=_limit(env_vars, "KRR_MAX_FIELDS", 1000),
        max_body_bytes=_limit(env_vars, "KRR_MAX_BODY_BYTES", 1024 * 1024),
        rate_limits=Limits(
            requests=parse_rate("KRR_RATE_REQUESTS", env_vars.get("KRR_RATE_REQUESTS"),
                                DEFAULT_LIMITS.requests),
            persons=parse_rate("KRR_RATE_PERSONS", env_vars.get("KRR_RATE_PERSONS"),
                               DEFAULT_LIMITS.persons),
            individuals=parse_rate("KRR_RATE_INDIVIDUALS", env_vars.get("KRR_RATE_INDIVIDUALS"),
                                   DEFAULT_LIMITS.for_individuals),
        ),
        rate_wait=_seconds("KRR_RATE_WAIT", env_vars.get("KRR_RATE_WAIT"), DEFAULT_RATE_WAIT,
                           0.0, MAX_RATE_WAIT),
        redis_url=_redis_url(env_vars.get("KRR_REDIS_URL")),
        log_format=_log_format(env_vars.get("KRR_LOG_FORMAT"), env),
        audiences=_audiences(env_vars.get("KRR_AUDIENCE")),
        # From a request's body being read to its answer being ready (app.edge.deadline).
        request_timeout=_seconds("KRR_REQUEST_TIMEOUT", env_vars.get("KRR_REQUEST_TIMEOUT"),
                                 5.0, 0.1, MAX_REQUEST_TIMEOUT),
        header_timeout=_seconds("KRR_HEADER_TIMEOUT", env_vars.get("KRR_HEADER_TIMEOUT"),
                                5.0, 0.1, MAX_REQUEST_TIMEOUT),
        body_timeout=_seconds("KRR_BODY_TIMEOUT", env_vars.get("KRR_BODY_TIMEOUT"),
                              10.0, 0.1, MAX_REQUEST_TIMEOUT),
        max_connections=_limit(env_vars, "KRR_MAX_CONNECTIONS", 1000),
        keep_alive_timeout=_limit(env_vars, "KRR_KEEP_ALIVE_TIMEOUT", 5),
        signing_key=_path(env_vars.get("KRR_SIGNING_KEY")),
        signing_cert=_path(env_vars.get("KRR_SIGNING_CERT")),
        idporten=idporten,
        session_secret=_session_secret(env_vars.get("KRR_SESSION_SECRET"), env, idporten),
        public_url=_public_url(env_vars.get("KRR_PUBLIC_URL"), env, idporten),
        trusted_proxies=_trusted_proxies(env_vars.get("KRR_TRUSTED_PROXIES")),
        trusted_documents=_trusted_documents(env_vars.get(TRUSTED_DOCUMENTS)),
        cors_origins=_cors_origins(env_vars.get(CORS_ORIGINS), env),
        kontakt=_kontakt(env_vars, env),
    )
