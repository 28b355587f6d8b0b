"""Text the service accepts from a client, and JSON read so that bad text can be named.

Two kinds of string are refused wherever a client hands one in (GraphQL arguments and
variables, REST bodies), before anything runs, naming where it was and never echoing it:

- a NUL character (U+0000): PostgreSQL's text cannot hold it, so it would fail in the database
  (and SQLite would store what PostgreSQL refuses);
- an unpaired surrogate (U+D800 to U+DFFF, as the JSON escape "\\ud800" makes one): it is not
  a character and has no UTF-8 encoding, so no answer that echoed it could be written.

JSON is read by orjson, which refuses unpaired surrogates outright; a body it refuses is read
again the way strawberry and the standard library read JSON, which accept them, so the
refusal can name the field instead of calling the whole body malformed, and so every reader
of a body (the view, the rate limit's count) agrees on what the body says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

NUL = "a NUL character (U+0000)"
SURROGATE = "an unpaired surrogate (U+D800 to U+DFFF)"


def problem(text: str) -> str | None:
    """What is wrong with `text` ("contains ..."), or None when it is fine."""
    if "\x00" in text:
        return f"contains {NUL}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"contains {SURROGATE}"
    return None


# Unicode's bidirectional formatting characters (UAX #9): the marks (U+061C, U+200E, U+200F),
# embeddings and overrides (U+202A to U+202E) and isolates (U+2066 to U+2069). In a name they
# can only reorder what is shown around it (U+202E turns the rest of a line around, on a page
# that asks an access manager to confirm whom they give access), so names never hold them:
# stripped when a name is stored and again when one is shown, and the name shown isolated.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NO_BIDI = str.maketrans("", "", BIDI_CONTROLS)
FSI, PDI = "\u2068", "\u2069"  # first strong isolate, pop directional isolate


def without_bidi_controls(text: str) -> str:
    """`text` without bidirectional formatting characters (see BIDI_CONTROLS)."""
    return text.translate(_NO_BIDI)


def isolated(text: str) -> str:
    """`text` as an isolate in plain text, where HTML's <bdi> cannot go (a page's <title>):
    whatever its direction, it cannot reorder the text around it."""
    return f"{FSI}{without_bidi_controls(text)}{PDI}"


class NotJson(ValueError):
    """The bytes are not a JSON document, whichever way they are read."""


def load_json(data: bytes | str) -> Any:
    """The JSON document in `data`: orjson's reading, or, where orjson refuses (unpaired
    surrogates, NaN, integers beyond 64 bits), the standard library's."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise NotJson(str(exc)[:200]) from None


def _entries(value: dict[Any, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    """(key or index, child) of a JSON object or array, in document order."""
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _clean_strings(value: dict[Any, Any] | list[Any]) -> bool:
    """True for a list of strings none of which is bad, checked at C speed (one join): a
    thousand ids in a variable cost microseconds."""
    if not isinstance(value, list):
        return False
    try:
        joined = "".join(value)
    except TypeError:  # not all strings: walked one by one
        return False
    return problem(joined) is None


MAX_PATH = 200  # characters of a path shown in an error (JSON can nest a thousand deep)


def _path(where: str, label: str | int) -> str:
    if len(where) > MAX_PATH:  # shown clipped anyway: stop building
        return where
    if isinstance(label, int):
        return f"{where}[{label}]"
    return f"{where}.{label}" if where else label


def _shown(where: str) -> str:
    return where if len(where) <= MAX_PATH else where[:MAX_PATH] + "..."


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, problem) for every bad string in a JSON value, its object keys included, in
    document order; `where` is a path like `filter.spraak` or `personidentifikatorer[3]`, built
    only from keys that are fine (a bad key is named by the object holding it: "" for the
    value itself), and only for what is reported or descended into, so a list of a thousand
    ids builds no paths at all. `problem` reads on from `where`: "contains ...", "holds a key
    that contains ...".
    Depth-first with its own stack: JSON nests deeper than Python recurses."""
    if isinstance(value, str):
        if (wrong := problem(value)) is not None:
            yield _shown(path), wrong
        return
    if not isinstance(value, dict | list) or _clean_strings(value):
        return
    stack = [(path, _entries(value))]
    while stack:
        where, entries = stack[-1]
        for label, child in entries:
            if isinstance(label, str) and (wrong := problem(label)) is not None:
                yield _shown(where), f"holds a key that {wrong}"
            elif isinstance(child, str):
                if (wrong := problem(child)) is not None:
                    yield _shown(_path(where, label)), wrong
            elif isinstance(child, dict | list) and not _clean_strings(child):
                stack.append((_path(where, label), _entries(child)))
                break
        else:
            stack.pop()


def first_bad(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first bad string in a JSON value (see `walk`), or None."""
    return next(walk(value, path), None)
