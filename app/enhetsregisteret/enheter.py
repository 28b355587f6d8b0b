"""Units (enheter) read from Enhetsregisteret's bulk download: a pure parser, no storage.

Brønnøysundregistrene publish every unit as one file, JSON (`enheter_alle.json.gz`: one array
of objects with `organisasjonsnummer`, `navn` and many other fields) or CSV (a header row, then
one unit a row). `les` reads either from a byte stream, gzip or not, as a stream: the JSON file
is about 1 GB unzipped and is never held whole. What it is, is told by its bytes: gzip by its
magic number, then JSON by the first non-space byte (`[` an array; `{` one object after
another, JSON Lines) and anything else as CSV, comma- or semicolon-separated.

Each row becomes an `Enhet` or an `Avvist` (where, and why, never echoing the value itself).
Input that cannot be read as a whole raises `Uleselig`: before the first row for a file that
is neither JSON nor CSV, or a CSV without the two columns; at the place it breaks for a file
that stops being readable midway (a truncated download) or goes past one of the limits of
`grenser` (depth, the size of a unit, the size unpacked), naming the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import ijson

from app.enhetsregisteret.grenser import CsvLinjer, Grenser, JsonSkanner, OverGrense, Vakt
from app.text import problem, without_bidi_controls
from authz.identifikatorer import is_valid_orgno

MAKS_NAVN = 200  # characters: organisasjon.navn is a CharField(200)
BUFFER = 1 << 16  # bytes read at a time; also how far the start is looked at
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
KOLONNER = ("organisasjonsnummer", "navn")  # what a CSV header must hold, in any case
_KONTROLLTEGN = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's category Cc
GRENSER = Grenser()  # the defaults: see grenser
_VIS = 20  # characters of a bad value shown in a reason; longer ones are described


@dataclass(frozen=True, slots=True)
class Enhet:
    """A unit as stored: a valid organisation number and its trimmed name."""

    orgnr: str
    navn: str


@dataclass(frozen=True, slots=True)
class Avvist:
    """A row that is skipped: where it is (`line 12` of a CSV file, `element [3]` of a JSON
    array, counted from 0) and why."""

    hvor: str
    grunn: str


class Uleselig(ValueError):
    """The input cannot be read as Enhetsregisteret's units (the message says why)."""


def les(kilde: IO[bytes] | io.RawIOBase, grenser: Grenser = GRENSER) -> Iterator[Enhet | Avvist]:
    """Every row of the bulk file in `kilde`, in order (see the module's doc)."""
    hvor = "the start"
    raw = io.BufferedReader(cast(io.RawIOBase, kilde), BUFFER)
    rader: Iterator[_Rad] | None = None
    try:
        data = _utpakket(raw)
        if data.peek(len(BOM))[: len(BOM)] == BOM:
            data.read(len(BOM))
        start = data.peek(BUFFER)[:BUFFER].lstrip()
        if not start:
            raise Uleselig("the file is empty" if not data.peek(1) else
                           f"nothing but white space in its first {BUFFER // 1024} KiB")
        if start[:1] == b"[":  # the units: the array's elements
            rader = _json(ijson.items(_vaktet(data, grenser, JsonSkanner(grenser, 1)), "item"))
        elif start[:1] == b"{":  # JSON Lines: the values at the top
            vakt = _vaktet(data, grenser, JsonSkanner(grenser, 0))
            rader = _json(ijson.items(vakt, "", multiple_values=True))
        else:
            rader = _csv(_vaktet(data, grenser), grenser)
        for hvor, rad in rader:
            yield Avvist(hvor, rad) if isinstance(rad, str) else rad
    except OverGrense as exc:  # a CSV line names itself; a JSON line may hold every unit
        raise Uleselig(f"{exc}, after {hvor}" if hvor.startswith("element") else str(exc)
                       ) from None
    except (ijson.JSONError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # A truncated or corrupt download (gzip, JSON), or the disk failing under it.
        raise Uleselig(f"unreadable after {hvor}: {_kort(str(exc))}") from None
    finally:
        if isinstance(rader, Generator):  # first the CSV reader lets go of the stream (an
            rader.close()  # import stopped half-way by its database, say), then this does
        raw.detach()  # the caller's stream stays open: it is the caller's to close


# The readers below yield (where, the unit or why the row is refused).
_Rad = tuple[str, Enhet | str]


def _utpakket(raw: io.BufferedReader[Any]) -> io.BufferedReader[Any]:
    if raw.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC:
        return io.BufferedReader(cast(io.RawIOBase, gzip.GzipFile(fileobj=raw, mode="rb")),
                                 BUFFER)
    return raw


def _vaktet(data: io.BufferedReader[Any], grenser: Grenser,
            json: JsonSkanner | None = None) -> io.BufferedReader[Any]:
    return io.BufferedReader(Vakt(data, grenser, json), BUFFER)


def _kort(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first[:120]


def _vist(value: str) -> str:
    """A bad value as a reason may show it: short ones quoted (escaped), long ones by size."""
    return repr(value) if len(value) <= _VIS else f"of {len(value)} characters"


def _sjekk(orgnr: str, navn: str) -> Enhet | str:
    """The unit, or why the row is refused."""
    orgnr = orgnr.strip()
    if not is_valid_orgno(orgnr):
        if len(orgnr) == 9 and orgnr.isascii() and orgnr.isdigit():
            return f"organisasjonsnummer {orgnr} fails the mod-11 check"
        return f"organisasjonsnummer {_vist(orgnr)} is not 9 digits"
    navn = without_bidi_controls(navn).strip()  # they could only reorder a page around it
    if not navn:
        return "navn is empty"
    if (feil := problem(navn)) is not None:
        return f"navn {feil}"
    if (tegn := _KONTROLLTEGN.search(navn)) is not None:
        return f"navn contains a control character (U+{ord(tegn.group()):04X})"
    if len(navn) > MAKS_NAVN:
        return f"navn is {len(navn)} characters, more than {MAKS_NAVN}"
    return Enhet(orgnr, navn)


_JSON_TYPER = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPER.get(type(value), "a number")


def _felt(element: dict[str, Any], navn: str) -> str:
    """The string field `navn`, or raises ValueError with the reason."""
    if navn not in element:
        raise ValueError(f"has no {navn}")
    value = element[navn]
    if not isinstance(value, str):
        raise ValueError(f"{navn} is {_json_type(value)}, not a string")
    return value


def _json(elementer: Iterator[Any]) -> Iterator[_Rad]:
    for i, element in enumerate(elementer):
        hvor = f"element [{i}]"
        if not isinstance(element, dict):
            yield hvor, f"is {_json_type(element)}, not an object"
            continue
        if "_embedded" in element:
            raise Uleselig("a page of the search API, not the bulk download (see README: "
                           "Organisasjonsnavn fra Enhetsregisteret)")
        try:
            yield hvor, _sjekk(_felt(element, "organisasjonsnummer"), _felt(element, "navn"))
        except ValueError as exc:
            yield hvor, str(exc)


def _csv(data: io.BufferedReader[Any], grenser: Grenser) -> Iterator[_Rad]:
    # Bytes that are not UTF-8 become lone surrogates, refused in the one row that has them.
    tekst = io.TextIOWrapper(data, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_tekst(tekst, grenser)
    finally:
        tekst.detach()  # closing the text would close the stream under it


def _csv_tekst(tekst: io.TextIOWrapper, grenser: Grenser) -> Iterator[_Rad]:
    """The header (the first line that is not blank), then the rows."""
    linje = 0
    hode = ""
    while not hode.strip():
        hode = tekst.readline(BUFFER)
        linje += 1
        if not hode:
            raise Uleselig("no CSV header: the file has only blank lines")
        if len(hode) == BUFFER and not hode.endswith("\n"):
            raise Uleselig(f"not JSON, and its first line is longer than {BUFFER // 1024} KiB: "
                           "not a CSV header either")
    skille = ";" if hode.count(";") > hode.count(",") else ","
    kolonner = [k.strip().lower() for k in next(csv.reader([hode], delimiter=skille))]
    mangler = [k for k in KOLONNER if k not in kolonner]
    if mangler:
        funnet = ", ".join(_vist(k) for k in kolonner[:8]) + (", ..." if len(kolonner) > 8 else "")
        raise Uleselig(f"not JSON, and not a CSV file with the columns {' and '.join(KOLONNER)}: "
                       f"no column {' or '.join(mangler)} in its first line ({funnet})")
    i_orgnr, i_navn = (kolonner.index(k) for k in KOLONNER)
    linjer = CsvLinjer(tekst, grenser, linje)
    yield from _csv_rader(linjer, skille, linje, len(kolonner), i_orgnr, i_navn)


def _csv_rader(linjer: CsvLinjer, skille: str, linje: int, bredde: int, i_orgnr: int,
               i_navn: int) -> Iterator[_Rad]:
    """The rows after the header (on line `linje`), each with the line it starts on."""
    trengs = max(i_orgnr, i_navn) + 1
    leser = csv.reader(linjer, delimiter=skille)
    forrige = 0  # the reader's line count after the previous row
    while True:
        linjer.ny_rad()
        try:
            rad = next(leser)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the size limit, say; the reader goes on after it
            yield f"line {linje + forrige + 1}", f"is not CSV ({_kort(str(exc))})"
            forrige = leser.line_num
            continue
        hvor = f"line {linje + forrige + 1}"
        forrige = leser.line_num
        if not rad:  # a blank line
            continue
        if len(rad) < trengs:
            felt = f"{len(rad)} field" + "s" * (len(rad) != 1)
            yield hvor, f"has {felt}; the header has {bredde}"
            continue
        yield hvor, _sjekk(rad[i_orgnr], rad[i_navn])
