"""What a request's Accept header asks for (RFC 9110 12.5.1): each media type judged by the most
specific range that matches it. Used to choose a signed answer (app.edge.signed) and GraphQL's
response media type (app.edge.graphql)."""

from __future__ import annotations

import math


def _quality(value: str) -> float:
    try:
        q = float(value)
    except ValueError:
        return 0.0
    return min(q, 1.0) if q > 0 and math.isfinite(q) else 0.0


def ranges(accept: str) -> list[tuple[str, float]]:
    """Accept's media ranges, lower-cased, with their quality (1 unless given)."""
    found = []
    for part in accept.split(","):
        media, *parameters = part.split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(value.strip())
        if media.strip():
            found.append((media.strip().lower(), quality))
    return found


def quality_of(media_type: str, accepted: list[tuple[str, float]]) -> float:
    """The quality Accept gives `media_type`: that of the most specific range matching it."""
    kind = media_type.partition("/")[0]
    for candidate in (media_type, f"{kind}/*", "*/*"):
        matching = [q for media, q in accepted if media == candidate]
        if matching:
            return max(matching)
    return 0.0


def named(media_type: str, accepted: list[tuple[str, float]]) -> bool:
    """Whether Accept names `media_type` itself with a quality above 0 (not only by a range)."""
    return any(media == media_type and q > 0 for media, q in accepted)
