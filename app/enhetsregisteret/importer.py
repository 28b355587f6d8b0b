"""The import: rows read by `enheter.les`, good ones stored in batches by `store.lagre`, bad ones
handed to the caller as they come. The file is streamed: at most one batch is held.

All or nothing: the batches are written in one transaction, committed when the whole file has
been read. A file that breaks midway (a truncated download, a limit of `grenser` passed, the
process stopped) leaves the table as it was, never half of a year's renames: readers see the
old names until the commit, then all the new ones."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from tortoise.transactions import in_transaction

from app.enhetsregisteret import store
from app.enhetsregisteret.enheter import GRENSER, Avvist, Uleselig, les
from app.enhetsregisteret.grenser import Grenser


@dataclass(slots=True)
class Resultat:
    """What an import did. `lagret` counts the good rows (a duplicate orgnr each time: the last
    one wins); `endret`, the names that were new or different in the table."""

    lest: int = 0
    lagret: int = 0
    hoppet_over: int = 0
    endret: int = 0

    def __str__(self) -> str:
        return (f"{self.lest} organisasjoner lest, {self.lagret} lagret, {self.hoppet_over} "
                f"hoppet over ({self.endret} nye eller endrede navn)")


class Avbrutt(Exception):
    """The input became unreadable (or was never readable), and nothing was written:
    `resultat` counts what was read before the place named in the message."""

    def __init__(self, melding: str, resultat: Resultat) -> None:
        super().__init__(melding)
        self.melding = melding
        self.resultat = resultat


async def importer(
    kilde: IO[bytes] | io.RawIOBase, avvist: Callable[[Avvist], None], *,
    batch: int = store.BATCH, grenser: Grenser = GRENSER,
) -> Resultat:
    """Read every unit in `kilde` and store its name; `avvist` hears of each skipped row.
    Raises Avbrutt, having written nothing, for input that cannot be read whole."""
    resultat = Resultat()
    ventende: dict[str, str] = {}
    try:
        async with in_transaction() as conn:
            for rad in les(kilde, grenser):
                resultat.lest += 1
                if isinstance(rad, Avvist):
                    resultat.hoppet_over += 1
                    avvist(rad)
                    continue
                resultat.lagret += 1
                ventende[rad.orgnr] = rad.navn  # a duplicate within the batch: the last one wins
                if len(ventende) >= batch:
                    resultat.endret += await store.lagre(conn, ventende)
                    ventende.clear()
            resultat.endret += await store.lagre(conn, ventende)
    except Uleselig as exc:  # rolled back
        raise Avbrutt(str(exc), resultat) from None
    return resultat


class TellendeLeser(io.RawIOBase):
    """A byte stream that tells `lest` how many bytes each read took: the progress of an
    import by the bytes of the file as it lies on disk (compressed or not)."""

    def __init__(self, kilde: IO[bytes], lest: Callable[[int], None]) -> None:
        super().__init__()
        self._kilde = kilde
        self._lest = lest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._kilde.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._lest(n)
        return n
