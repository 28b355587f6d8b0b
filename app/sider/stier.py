"""Where a page may send a browser back to: one rule for every "go back" and "go on" address
(the language chooser's way back, the login's next page), so that none is an open redirect."""

from __future__ import annotations

from urllib.parse import urlsplit


def lokal_sti(sti: str | None, maks: int = 2000) -> str | None:
    """`sti` when it is a path of this service (with its query), else None: never another
    site (`//host`, `/\\host`, a scheme), control characters or spaces a browser might read
    otherwise, nor more than `maks` characters."""
    if (not sti or len(sti) > maks or not sti.startswith("/") or sti.startswith("//")
            or "\\" in sti or any(ord(c) < 0x21 or ord(c) == 0x7F for c in sti)):
        return None
    deler = urlsplit(sti)
    return None if deler.scheme or deler.netloc else sti
