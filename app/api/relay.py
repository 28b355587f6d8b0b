"""Connection pages as the Relay specification has them, shared by every paged field."""

from __future__ import annotations

import strawberry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
