"""Connection pages as the Relay specification has them, shared by every paged field."""

from __future__ import annotations

import strawberry


@strawberry.type(
    description="Where a page of a connection lies, as the Relay cursor-connections "
    "specification has it (https://relay.dev/graphql/connections.htm). Pass endCursor as "
    "`after` for the next page."
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when entries follow this page (ask again with `after: endCursor`)."
    )
    has_previous_page: bool = strawberry.field(
        description="True when entries come before this page: false for a first page (no "
        "`after`), else whether the connection holds any entry up to and including `after`'s."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first edge; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last edge; null when the page is empty."
    )
