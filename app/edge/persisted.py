"""Persisted operations: a GraphQL request that names its document by hash.

Resolved in one place, the guard's body step (`Rutekrav.dokument`), right after the body's
media type and shape are checked: the body that goes on carries the document's text as its
`query`, so every check after it (anonymous public fields, the persons counted for the rate
limit, the limits, validation, the persons cap) and strawberry read the document that runs.

Two modes:

- Apollo's automatic persisted queries (APQ), by default: `extensions.persistedQuery =
  {"version": 1, "sha256Hash": "<hex>"}` (or a `documentId`, `sha256:<hex>` or the bare hex).
  A hash this process holds runs its document; one it does not hold is PersistedQueryNotFound
  (200, PERSISTED_QUERY_NOT_FOUND, which Apollo's clients expect), and the client sends the
  document with the hash next. That request runs as any other and its document is stored once
  it has passed every limit and validation (execution started); a hash that is not the
  document's sha256 is refused (400 PERSISTED_QUERY_HASH_MISMATCH). The store is this
  process's own (`Dokumentlager`, least recently used first out, bounded in count and bytes):
  a miss costs one more round trip per process, documents are not personal data, and nothing
  unbounded lands in a shared store.
- Trusted documents, when the operator sets KRR_TRUSTED_DOCUMENTS (app.config reads and checks
  the manifest): only the manifest's documents run, by hash (APQ or `documentId`) or by their
  full text; anything else is 400 PERSISTED_QUERY_NOT_ALLOWED, and APQ stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from app.errors import (
    BadRequest,
    PersistedQueryHashMismatch,
    PersistedQueryNotAllowed,
    PersistedQueryNotFound,
)
from app.text import NotJson, load_json

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
    """Documents by hash, the least recently used dropped first past `max_documents` or
    `max_bytes` of text."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_bytes: int = MAX_BYTES) -> None:
        self.max_documents, self.max_bytes = max_documents, max_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def get(self, digest: str) -> str | None:
        text = self._documents.get(digest)
        if text is not None:
            self._documents.move_to_end(digest)
        return text

    def put(self, digest: str, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        if digest in self._documents or size > min(MAX_DOCUMENT_BYTES, self.max_bytes):
            return
        self._documents[digest] = text
        self._bytes += size
        while len(self._documents) > self.max_documents or self._bytes > self.max_bytes:
            _, dropped = self._documents.popitem(last=False)
            self._bytes -= len(dropped.encode("utf-8", "surrogatepass"))

    def __len__(self) -> int:
        return len(self._documents)


class PersistedOperations:
    """The body step of POST /graphql (`resolve`), and the storing of an APQ document once its
    request has run (`remember`)."""

    def __init__(self, trusted: Mapping[str, str] | None = None,
                 lager: Dokumentlager | None = None) -> None:
        self.trusted = trusted
        self.lager = lager or Dokumentlager()

    def resolve(self, request: Request, body: bytes) -> bytes:
        """The body with the document a hash names as its `query`; the body as it is when it
        names none (and, with trusted documents, carries one of them)."""
        try:
            payload = load_json(body)
        except NotJson:
            payload = None
        if not isinstance(payload, dict):  # strawberry refuses it, batches are refused before
            return body
        query = payload.get("query")
        digest = _digest(payload)
        if digest is not None and isinstance(query, str) and sha256_hex(query) != digest:
            raise PersistedQueryHashMismatch()
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
            request.state.persist = (digest, query)  # stored once it has run (`remember`)
            return body
        text = self.lager.get(digest)
        if text is None:
            raise PersistedQueryNotFound()
        return _with_query(payload, text)

    def remember(self, request: Request) -> None:
        """Store the document an APQ request sent with its hash, now that it has passed the
        limits and validation (execution started)."""
        pending = getattr(request.state, "persist", None)
        if pending is not None and not getattr(request.state, "refused_before_execution", True):
            self.lager.put(*pending)


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
