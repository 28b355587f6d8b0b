"""Persisted operations: a GraphQL request that names its document by hash.

Resolved in one place, the guard's document step, right after the token (app.edge.guard): the
body that goes on carries the document's text as its `query`, so every check after it (the
persons counted for the rate limit, the limits, validation, the persons cap) and strawberry
read the document that runs.

Two modes:

- Apollo's automatic persisted queries (APQ), by default: `extensions.persistedQuery =
  {"version": 1, "sha256Hash": "<hex>"}` (or a `documentId`, `sha256:<hex>` or the bare hex).
  A hash this process holds runs its document; one it does not hold is PersistedQueryNotFound
  (200, PERSISTED_QUERY_NOT_FOUND, which Apollo's clients expect), and the client sends the
  document with the hash next. That request runs as any other and its document is stored once
  it has passed every limit and validation (execution started); a hash that is not the
  document's sha256 is refused (400 PERSISTED_QUERY_HASH_MISMATCH). The store is this
  process's own (`Dokumentlager`, least recently used first out, bounded in count and bytes):
  a miss costs one more round trip per process, and nothing unbounded lands in a shared store.
  A document is kept for the caller that sent it (an organisation, a vendor for it, a
  person: the rate limit's subject), since its text may name the persons it looks up and
  whether a hash runs would tell another caller who was looked up; only public documents,
  which reveal nothing, are kept for everyone.
- Trusted documents, when the operator sets KRR_TRUSTED_DOCUMENTS (app.config reads and checks
  the manifest): only the manifest's documents run, by hash (APQ or `documentId`) or by their
  full text; anything else is 400 PERSISTED_QUERY_NOT_ALLOWED, and APQ stores nothing.

A caller without a token learns nothing from the store or the manifest
(`resolve_anonymous`): a document's text may name the persons it looks up (the README's
examples do), so whether a hash is held would tell who was looked up. Such a caller runs only
public documents, and every other hash gets one answer, held or not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request

from app.cache import BoundedCache
from app.edge.ratelimit import subject_of
from app.errors import (
    BadRequest,
    PersistedQueryHashMismatch,
    PersistedQueryNotAllowed,
    PersistedQueryNotFound,
)
from app.text import NotJson, load_json
from authz.principal import Anonym, Caller

SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_DOCUMENTS = 1000  # documents one process keeps for APQ
MAX_BYTES = 8 * 1024 * 1024  # ... and their text, all together
MAX_DOCUMENT_BYTES = 64 * 1024  # a longer document is run, never stored
NOT_ALLOWED = ("Only the operations this service is configured with may run: send a known "
               "document, or its sha256 as extensions.persistedQuery or documentId")


def sha256_hex(text: str) -> str:
    """The document's hash as clients compute it (its UTF-8 bytes); a lone surrogate, which
    GraphQL refuses anyway, is hashed rather than crashing."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Dokumentlager:
    """Documents by key (`nokkel`: whose, and the hash; app.cache: the least recently used
    dropped first past `max_documents` or `max_bytes` of text; one over MAX_DOCUMENT_BYTES is
    never kept)."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_bytes: int = MAX_BYTES) -> None:
        self._documents: BoundedCache[str, str] = BoundedCache(
            max_bytes, MAX_DOCUMENT_BYTES, max_documents)

    def get(self, key: str) -> str | None:
        return self._documents.get(key)

    def put(self, key: str, text: str) -> None:
        size = len(key) + len(text.encode("utf-8", "surrogatepass"))
        self._documents.put(key, text, size)

    def __len__(self) -> int:
        return len(self._documents)


class PersistedOperations:
    """The document step of POST /graphql (`resolve` for a verified caller,
    `resolve_anonymous` for one without a token), and the storing of an APQ document once its
    request has run (`remember`). `offentlig` says whether a document needs no token
    (app.edge.graphql)."""

    def __init__(self, trusted: Mapping[str, str] | None = None,
                 lager: Dokumentlager | None = None,
                 offentlig: Callable[[str], bool] = lambda _: False) -> None:
        self.trusted = trusted
        self.lager = lager or Dokumentlager()
        self.offentlig = offentlig
        # The manifest's public documents: the only ones a caller without a token may name.
        self.offentlige = frozenset(digest for digest, text in (trusted or {}).items()
                                    if offentlig(text))

    def resolve(self, request: Request, body: bytes, caller: Caller) -> bytes:
        """The body with the document a hash names as its `query` (among those `caller` sent,
        and the public ones); the body as it is when it names none (and, with trusted
        documents, carries one of them)."""
        payload = _payload(body)
        if payload is None:  # strawberry refuses it, batches are refused before
            return body
        return self._resolved(request, body, payload, caller)

    def _resolved(self, request: Request, body: bytes, payload: dict[str, Any],
                  caller: Caller) -> bytes:
        query = payload.get("query")
        digest = _checked_digest(payload)
        if self.trusted is not None:
            if digest is None and isinstance(query, str):
                digest = sha256_hex(query)
            text = self.trusted.get(digest) if digest is not None else None
            if text is None:
                raise PersistedQueryNotAllowed(NOT_ALLOWED)
            return body if query == text else _with_query(payload, text)
        if digest is None:
            return body
        if isinstance(query, str):
            # stored once it has run (`remember`)
            request.state.persist = (nokkel(caller, digest), digest, query)
            return body
        stored = self.lager.get(nokkel(caller, digest)) or self.lager.get(digest)
        if stored is None:
            raise PersistedQueryNotFound()
        return _with_query(payload, stored)

    def resolve_anonymous(self, request: Request, body: bytes) -> bytes | None:
        """The body as `resolve` gives it, for a caller without a token: only when its
        document is public; None when it needs a token. What the store and the manifest hold
        shows only through their public documents, which reveal nothing, and a hash held is
        looked at no longer than one not held (the public flag was set when it was stored):

        - a document sent as text runs when it is public (with trusted documents, when it is
          also in the manifest: else PERSISTED_QUERY_NOT_ALLOWED, as for a caller with a
          token); anything else needs a token, with no look at the store or the manifest;
        - a hash alone runs the document it names when that is held and public. Any other
          hash, held or not, is answered alike: as one not held with APQ
          (PERSISTED_QUERY_NOT_FOUND: Apollo's clients then send the text, which needs a
          token unless public), and with trusted documents as any document that is not
          public (a token is needed)."""
        payload = _payload(body)
        if payload is None:
            return None
        query = payload.get("query")
        digest = _checked_digest(payload)
        if isinstance(query, str):
            return (self._resolved(request, body, payload, Anonym()) if self.offentlig(query)
                    else None)
        if digest is None:
            return None
        if self.trusted is not None:
            if digest not in self.offentlige:
                return None
            return _with_query(payload, self.trusted[digest])
        stored = self.lager.get(digest)  # the public documents only
        if stored is None:
            raise PersistedQueryNotFound()
        return _with_query(payload, stored)

    def remember(self, request: Request) -> None:
        """Store the document an APQ request sent with its hash, now that it has passed the
        limits and validation (execution started): for its caller, or for everyone when it is
        public (asked once, here, so a hash held is looked up as fast as one not held)."""
        pending = getattr(request.state, "persist", None)
        if pending is not None and not getattr(request.state, "refused_before_execution", True):
            key, digest, query = pending
            self.lager.put(digest if self.offentlig(query) else key, query)


def nokkel(caller: Caller, digest: str) -> str:
    """Where a document `caller` sent is kept: under its rate limit's subject (an
    organisation, a vendor for it, a person's hash; never a personal id), so no other caller
    can run it by hash and learn that it was sent."""
    return f"{subject_of(caller, None)[0]} {digest}"


def _payload(body: bytes) -> dict[str, Any] | None:
    """The body's JSON object; None for anything else (not JSON, not an object)."""
    try:
        payload = load_json(body)
    except NotJson:
        return None
    return payload if isinstance(payload, dict) else None


def _checked_digest(payload: dict[str, Any]) -> str | None:
    """`_digest`, refused when the request also sends a document that is not its hash."""
    digest = _digest(payload)
    query = payload.get("query")
    if digest is not None and isinstance(query, str) and sha256_hex(query) != digest:
        raise PersistedQueryHashMismatch()
    return digest


def _digest(payload: dict[str, Any]) -> str | None:
    """The hash the request names (APQ's extension or `documentId`), lower-cased; BadRequest
    when it names one in a form no client sends, or two that differ."""
    digests: set[str] = set()
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        if not (isinstance(persisted, dict) and persisted.get("version") == 1
                and isinstance(persisted.get("sha256Hash"), str)):
            raise BadRequest('extensions.persistedQuery must be {"version": 1, "sha256Hash": '
                             '"<the document\'s sha256 in hex>"}')
        digests.add(persisted["sha256Hash"].lower())
    document_id = payload.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str):
            raise BadRequest("documentId must be a string: sha256:<the document's sha256 in hex>")
        digests.add(document_id.lower().removeprefix("sha256:"))
    if not digests:
        return None
    if len(digests) > 1:
        raise PersistedQueryHashMismatch()
    digest: str = digests.pop()
    if not SHA256.fullmatch(digest):
        raise BadRequest("A persisted operation is named by its document's sha256: 64 hex digits")
    return digest


def _with_query(payload: dict[str, Any], text: str) -> bytes:
    payload = {**payload, "query": text}
    payload.pop("documentId", None)
    try:
        return orjson.dumps(payload)
    except TypeError:  # a lone surrogate the standard library read: written back escaped
        return json.dumps(payload).encode()
