"""Limits on the bulk file, checked on its bytes before a parser sees them, so that what an
import holds in memory does not depend on the file (a gzip of a few KB can unpack to nested
brackets, a line or a string of gigabytes):

- `dybde`: how deep JSON may nest. The real file nests four deep (array, unit, address, its
  lines); a parser builds one container per level, so 20 million brackets were 20 million lists.
- `enhet`: the most one unit may take: an element of the JSON array (or one value of JSON
  Lines) in bytes, a row of CSV in characters; so also the longest string, number or line a
  parser buffers. A real unit is one or two KB, a name at most a few hundred characters.
- `utpakket`: bytes of the file once unpacked (the real one is about 1 GB), so that a bomb is
  refused in bounded time too.

Past a limit, `OverGrense` names the line and the limit. The parsers are handed no deeper
bracket, no longer CSV line, and no more of a JSON unit than the limit and one piece (64 KiB).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class Grenser:
    """The limits of one import; the defaults are far above the real file."""

    dybde: int = 64
    enhet: int = MIB
    utpakket: int = 8 * GIB


class OverGrense(ValueError):
    """The file goes past a limit: on which line, and which limit."""

    def __init__(self, linje: int, grunn: str) -> None:
        super().__init__(f"line {linje}: {grunn}")
        self.linje = linje


def storrelse(antall: int) -> str:
    """A byte count as a person reads it: `8 GiB`, `1 MiB`, `1,500 bytes`."""
    for enhet, navn in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if antall >= enhet and antall % enhet == 0:
            return f"{antall // enhet} {navn}"
    return f"{antall:,} bytes"


class Vakt(io.RawIOBase):
    """The unpacked bytes of `kilde`, read a piece at a time and counted as they pass: lines,
    and the size against `grenser.utpakket`; a JSON file's pieces also go through `json`
    before they are handed on."""

    def __init__(self, kilde: io.BufferedReader[Any], grenser: Grenser,
                 json: JsonSkanner | None = None) -> None:
        super().__init__()
        self._kilde = kilde
        self._grenser = grenser
        self._json = json
        self.tatt = 0  # bytes handed on
        self.linjer = 0  # newlines handed on

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        # A piece at most the size of a unit: a unit is measured a piece at a time.
        data = self._kilde.read1(min(len(buffer), self._grenser.enhet))
        over = self.tatt + len(data) - self._grenser.utpakket
        if over > 0:  # the bytes up to the limit are checked first: their fault comes first
            self._sjekk(data[: len(data) - over])
            raise OverGrense(self.linjer + 1, "the file unpacks to more than "
                             f"{storrelse(self._grenser.utpakket)} (the limit, --max-size)")
        self._sjekk(data)
        n = len(data)
        buffer[:n] = data
        return n

    def _sjekk(self, data: bytes) -> None:
        if self._json is not None:
            self._json.skann(data, self.linjer)
        self.tatt += len(data)
        self.linjer += data.count(b"\n")


# What a piece of JSON is reduced to: its quotes and brackets (C speed: bytes.translate), so the
# structure costs one step a bracket, not a byte, and a string's contents are skipped whole.
_ANFOERSEL, _BAKSTREK = ord('"'), ord("\\")
_STRUKTUR = b'"[]{}'
_ESCAPET = b'"\\'  # what a backslash takes away from the structure (others do not matter)
_ANNET = bytes(sorted(set(range(256)) - set(_STRUKTUR)))
_SAMME = bytes.maketrans(b"[]", b"{}")  # for depth, a bracket is a bracket
_ENDRING = tuple(1 if c in b"[{" else -1 if c in b"]}" else 0 for c in range(256))


@dataclass(slots=True)
class JsonSkanner:
    """Depth, and the length of each unit, followed across the pieces of a JSON file. Units are
    the values at depth `enhetsdybde` (1 in an array, 0 in JSON Lines). A unit's length is
    measured a piece at a time: a run of pieces inside one unit, with no bracket that starts or
    ends one, longer than the limit is refused (so no unit over the limit plus a piece is ever
    handed on); so are pieces between units without a unit starting (white space, values that
    are not objects)."""

    grenser: Grenser
    enhetsdybde: int
    dybde: int = 0
    i_streng: bool = False
    escape: bool = False  # the last piece ended in a backslash: this one's first byte is escaped
    loep: int = 0  # bytes of the pieces since one where a unit started or ended

    def skann(self, data: bytes, linjer: int) -> None:
        """Check `data`, which follows bytes holding `linjer` newlines."""
        if not data:
            return
        for_ = (self.dybde, self.i_streng, self.escape)
        tekst = data
        if self.escape and tekst[:1] in (b"\\", b'"'):
            tekst = b"_" + tekst[1:]
        if b"\\" in tekst:  # escaped quotes and backslashes out of the way, length kept
            tekst = tekst.replace(b"\\\\", b"__").replace(b'\\"', b"__")
        self.escape = tekst.endswith(b"\\")
        # Quotes and brackets only; two adjacent quotes enclose no bracket and go (which quotes
        # pair up, and so which brackets are inside a string, is unchanged).
        struktur = (b'"' * self.i_streng + tekst.translate(None, _ANNET)).replace(b'""', b"")
        self.i_streng = struktur.count(b'"') % 2 == 1
        if struktur.endswith(b'"'):  # a string that runs on into the next piece
            struktur = struktur[:-1]
        if b'"' in struktur:  # a bracket inside a string: rare, and the text is short by now
            utenfor, ute = bytearray(), True
            for tegn in struktur:
                if tegn == _ANFOERSEL:
                    ute = not ute
                elif ute:
                    utenfor.append(tegn)
            struktur = bytes(utenfor)
        # Depth: innermost pairs off, a level a pass, leave closers then openers; the deepest
        # point is at most the passes above what they leave. Past the limit (or with more
        # levels than it), a bracket a step.
        rest, lag, start = struktur.translate(_SAMME), 0, self.dybde
        while b"{}" in rest and lag <= self.grenser.dybde:
            rest, lag = rest.replace(b"{}", b""), lag + 1
        lukket = len(rest) - len(rest.lstrip(b"}"))
        laveste, self.dybde = start - lukket, start - lukket + (len(rest) - lukket)
        if b"{}" in rest or max(start, self.dybde) + lag > self.grenser.dybde:
            dybder = list(itertools.accumulate(map(_ENDRING.__getitem__, struktur),
                                               initial=start))
            laveste, self.dybde = min(dybder), dybder[-1]
            if max(dybder) > self.grenser.dybde:
                dyp = _for_dyp(data, *for_, self.grenser)
                raise OverGrense(linjer + data.count(b"\n", 0, dyp) + 1, f"nested more than "
                                 f"{self.grenser.dybde} deep (the limit, --max-depth)")
        if struktur and laveste <= self.enhetsdybde:
            self.loep = 0  # a unit started or ended in this piece (its shallowest point)
            return
        self.loep += len(data)
        if self.loep > self.grenser.enhet:
            if self.dybde > self.enhetsdybde:
                hva = f"a unit longer than {storrelse(self.grenser.enhet)}"
                hva += ", in a string" * self.i_streng
            else:
                hva = (f"more than {storrelse(self.grenser.enhet)} between units (white space, "
                       "or values that are not objects)")
            # A line of this piece: all of it belongs to the unit (or lies between units).
            raise OverGrense(linjer + data.count(b"\n", 0, len(data) - 1) + 1,
                             f"{hva} (the limit, --max-unit-size)")


def _for_dyp(data: bytes, dybde: int, i_streng: bool, escape: bool, grenser: Grenser) -> int:
    """Where in `data` JSON first nests deeper than the limit: a byte at a time, only once
    `JsonSkanner` has found that it does, to name the line."""
    for i, tegn in enumerate(data):
        if escape:
            escape = False
            if tegn in _ESCAPET:
                continue
        if tegn == _BAKSTREK:
            escape = True
        elif tegn == _ANFOERSEL:
            i_streng = not i_streng
        elif not i_streng and tegn in b"[{]}":
            dybde += _ENDRING[tegn]
            if dybde > grenser.dybde:
                return i
    return len(data)


@dataclass(slots=True)
class CsvLinjer:
    """The lines of a CSV text for `csv.reader`, none longer than the limit, and no row (lines
    joined by a quoted newline) either: `ny_rad` is called before each row is read."""

    tekst: io.TextIOWrapper
    grenser: Grenser
    linje: int  # lines read so far
    _rad_linje: int = 0
    _rad_tegn: int = 0

    def ny_rad(self) -> None:
        self._rad_linje, self._rad_tegn = self.linje + 1, 0

    def __iter__(self) -> Iterator[str]:
        maks = self.grenser.enhet
        while linje := self.tekst.readline(maks + 1):
            self.linje += 1
            if len(linje.rstrip("\r\n")) > maks:
                raise OverGrense(self.linje, f"longer than {maks:,} characters (the limit, "
                                 "--max-unit-size)")
            self._rad_tegn += len(linje)
            if self._rad_tegn > maks + 2:  # the row's own line end is not counted
                raise OverGrense(
                    self._rad_linje, f"a row of {self.linje - self._rad_linje + 1} lines (line "
                    f"breaks inside quotes) longer than {maks:,} characters (the limit, "
                    "--max-unit-size)")
            yield linje
