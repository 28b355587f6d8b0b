"""GraphQL documents parsed once per query text and kept across requests, bounded in bytes.

Clients repeat their queries, so a parse is kept: the edge reads a request's document before
GraphQL does (the persons it asks for, whether it is public: app.api.limits, app.edge.graphql),
and GraphQL then finds the same document here (app.api.schema's CachedParse), so a query text
is parsed once per token limit, not once per reader. A query that does not parse raises each
time: nothing is kept for it.

What a parsed document holds is counted (`document_bytes`) and the cache is bounded by it
(app.cache): a few hundred distinct large bodies once held a worker's memory hostage, since a
cache of 256 entries holds whatever they weigh (issue 23). A document is parsed with its
locations (strawberry's errors point into the text), so it keeps its text and every token,
comments included.
"""

from __future__ import annotations

import sys

from graphql import DocumentNode, Token, parse

from app.cache import BoundedCache

# What a parsed document holds per token, at most: its nodes, their locations and the token.
# Measured with graphql-core 3.3 over fifteen shapes (aliases, arguments, variables, nested
# lists, strings, block strings, numbers, comments, fragments, directives, operations), the
# densest being a field per token (`{ a a a ... }`) at 560 bytes; counted as 640.
TOKEN_BYTES = 640

PARSED_BYTES = 16 * 1024 * 1024  # what the parsed documents kept hold, together
# ... and one of them: about 1,600 tokens, far more than a client's query (a lookup of every
# field is about 50). A larger document is parsed again each time it is sent.
PARSED_ENTRY_BYTES = 1024 * 1024

PARSED: BoundedCache[tuple[str, int | None], DocumentNode] = BoundedCache(
    PARSED_BYTES, PARSED_ENTRY_BYTES)


def document_bytes(query: str, document: DocumentNode) -> int:
    """What a document parsed from `query` holds: the text twice (the source it keeps, and
    the tokens' values cut from it) and TOKEN_BYTES for each token it keeps (comments too).
    Without locations there are no tokens to count: one per character is the most there is."""
    if document.loc is None:
        return 2 * sys.getsizeof(query) + TOKEN_BYTES * (len(query) + 2)
    tokens = 0
    token: Token | None = document.loc.start_token
    while token is not None:
        tokens += 1
        token = token.next
    return 2 * sys.getsizeof(query) + TOKEN_BYTES * tokens


def parsed(query: str, max_tokens: int | None = None) -> DocumentNode:
    """`query` parsed (as strawberry parses: with locations), from the cache when it is there.
    Raises GraphQLError when it does not parse (or passes `max_tokens`). Only read it."""
    key = (query, max_tokens)
    document = PARSED.get(key)
    if document is None:
        document = parse(query, max_tokens=max_tokens)
        PARSED.put(key, document, document_bytes(query, document))
    return document
