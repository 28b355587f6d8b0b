"""Cursors that tell nothing: a connection's position sealed with a key of the service's.

A keyset cursor names the last entry a page showed. Where that is a person's national id
(`sokPersoner` pages in id order), a cursor written as it is would carry the id to the client
and into anything that keeps a request's variables; base64 hides nothing. So the position is
sealed: AES-SIV (cryptography's deterministic authenticated encryption: the same position gives
the same cursor, and a changed cursor does not open), under a key the edge derives from the
service's secret, which every worker and restart share, with the connection's name bound in,
so a cursor opens only for the connection that gave it. A cursor that does not open is the
client's mistake (BAD_USER_INPUT).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from app.errors import BadInput


class Cursors:
    """Seals and opens the positions of every connection with one key (32 bytes)."""

    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(key)

    def seal(self, connection: str, position: str) -> str:
        sealed = self._siv.encrypt(position.encode(), [connection.encode()])
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, connection: str, cursor: str) -> str:
        """The position `cursor` holds; BadInput for anything `connection` did not hand out."""
        try:
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            return self._siv.decrypt(sealed, [connection.encode()]).decode()
        except (ValueError, binascii.Error, InvalidTag, UnicodeError):
            raise BadInput(f"after is not a cursor handed out by {connection} (pass an edge's "
                           "cursor or pageInfo.endCursor as it was given)") from None
