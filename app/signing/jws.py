"""A signed answer: the JSON answer's members with who asked, what, and when, as the payload
of a compact JWS (RS256; header `kid`, `typ` JWT and `x5c`, the signing key's certificate chain,
leaf first, base64 DER: a verifier that takes the key from the certificate, as eFormidling's
JWTDecoder does with `x5c[0]`, needs nothing else).

The claims, after the answer's own members:

- `iat`: the moment the request was served at, the audit record's moment;
- `jti`: this answer's own id, made by the edge as it signs (app.edge.signed), unique whatever
  the caller sends;
- `audit_ids`: the audit records the request wrote (`oppslag.id`, one per disclosing operation,
  empty when it disclosed no one to an organisation): the link to the audit log;
- `request`: the question the answer answers, as the caller sent it and kept apart from the
  register's words: `id` (the X-Request-ID, the caller's own when it sent one, so not unique),
  `method`, `path`, `body_sha256` (of the body's bytes as received) and, for GraphQL,
  `query_sha256` and `operation_name` (the document that ran, hashed as persisted operations
  hash it);
- for an organisation's token, `consumer` and, when a vendor acts for it, `supplier`, in
  Maskinporten's form. A resident or an anonymous caller gets no such claim: a national id
  never goes in.

No `exp`: the answer is a proof of what the register said and must verify years later; no
`aud`: whoever holds it may check it.

A route whose consumers map the payload onto a class that refuses members it does not know
(REST v1: eFormidling reads it with a plain Jackson ObjectMapper) signs the answer alone as the
payload, and the same claims go in the protected header instead (RFC 7519 5.3 replicates
claims there), where they are as much signed and no parser of the answer meets them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from joserfc.jws import JWSRegistry, serialize_compact
from joserfc.registry import HeaderParameter

from app.signing.keys import ALGORITHM, SigningKey
from authz.identifikatorer import org_claim
from authz.principal import Caller, Principal

_EMPTY_OBJECT = re.compile(rb"\{\s*\}")


def claims(kaller: Caller, now: dt.datetime, jti: str, audit_ids: Iterable[int],
           request: Mapping[str, str | None]) -> dict[str, Any]:
    signed: dict[str, Any] = {"iat": int(now.timestamp()), "jti": jti,
                              "audit_ids": sorted(audit_ids), "request": dict(request)}
    if isinstance(kaller, Principal):
        signed["consumer"] = org_claim(kaller.consumer)
        if kaller.supplier is not None:
            signed["supplier"] = org_claim(kaller.supplier)
    return signed


def payload(answer: bytes, added: dict[str, Any]) -> bytes:
    """The answer (a JSON object, as encoded) with `added`'s members after its own, without
    decoding it again: a 1000-person answer is over half a megabyte. The claims' names are
    never an answer's members (REST's documents, GraphQL's data/errors/extensions)."""
    body = answer.strip()
    if body[:1] != b"{" or body[-1:] != b"}":
        raise ValueError("only a JSON object can be the payload of a signed answer")
    members = orjson.dumps(added)[1:-1]
    if not members:
        return body
    if _EMPTY_OBJECT.fullmatch(body):
        return b"{" + members + b"}"
    return body[:-1] + b"," + members + b"}"


def _is(kind: type) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"must be a {kind.__name__}")
    return check


# The claims as header parameters (`claims`), each checked for its kind as joserfc checks its own.
_REGISTRY = JWSRegistry(header_registry={
    "iat": HeaderParameter("Served at (claim in the header)", "int"),
    "jti": HeaderParameter("The answer's id (claim in the header)", "str"),
    "audit_ids": HeaderParameter("The audit records (claim in the header)", _is(list)),
    "request": HeaderParameter("The question answered (claim in the header)", _is(dict)),
    "consumer": HeaderParameter("The consumer (claim in the header)", _is(dict)),
    "supplier": HeaderParameter("The vendor (claim in the header)", _is(dict)),
}, algorithms=[ALGORITHM])


def compact(key: SigningKey, signed_payload: bytes,
            in_header: Mapping[str, Any] | None = None) -> str:
    """`signed_payload` signed with `key`; `in_header`: claims for the protected header (when the
    payload is the answer alone)."""
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT", "x5c": list(key.chain),
              **(in_header or {})}
    return serialize_compact(header, signed_payload, key.private, registry=_REGISTRY)
