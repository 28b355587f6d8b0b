"""Which return addresses (`?returner_til=`) the register sends a resident back to: only those
an organisation has registered, matched so that no spelling can lead anywhere else (an open
redirect from a national register's domain is a phishing tool).

The policy, one rule for what is registered and what is asked for:
- an absolute URL of https; http only for localhost or 127.0.0.1, and only outside prod;
- no userinfo (`https://a.no@evil.no`), no fragment, no backslash, no control character or
  whitespace, at most 2000 characters, nothing but ASCII: a host in its IDNA form (xn--),
  anything else percent-encoded;
- the host a DNS name (letters, digits, hyphens; compared in lower case), no trailing dot, no
  IP address but 127.0.0.1 outside prod; a default port (443, 80) the same as none;
- no dot segments (`/cb/../x`, `/cb/..;x/`) and no percent-encoded dot, slash or backslash in
  the path: refused rather than normalised, because browsers, proxies and servers normalise
  them differently, and the address checked must be the address opened;
- asked-for: allowed when scheme, host and port equal a registered address's and its path is
  that path or below it at a segment boundary (`https://a.no/cb` covers `/cb` and `/cb/x`, not
  `/cbevil`); a query is allowed (agencies carry their state in it). The longest registered
  path decides which organisation it belongs to.
- registered: a valid organisation number, and no query (an address covers what is below it).

Pure: no I/O. The reasons are codes (`Grunn`) for a page to say in its own language, and an
English message for the operator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import idna

from app.errors import BadInput
from authz.avslag import UGYLDIG_ORGNR
from authz.identifikatorer import is_valid_orgno

MAKS_LENGDE = 2000
LOKALE_VERTER = frozenset({"localhost", "127.0.0.1"})
STANDARDPORT = {"https": 443, "http": 80}


class Grunn(StrEnum):
    """Why an address is refused (`extensions.reason`, and a page's message key)."""

    IKKE_TEKST = "IKKE_TEKST"
    TOM = "TOM"
    FOR_LANG = "FOR_LANG"
    KONTROLLTEGN = "KONTROLLTEGN"  # control characters or whitespace
    BAKSTREK = "BAKSTREK"  # a backslash
    IKKE_ABSOLUTT = "IKKE_ABSOLUTT"  # no scheme: relative, or protocol-relative (//evil)
    SKJEMA = "SKJEMA"  # neither https nor http (javascript:, data:, ...)
    KREVER_HTTPS = "KREVER_HTTPS"  # http other than to localhost outside prod
    FRAGMENT = "FRAGMENT"
    INGEN_VERT = "INGEN_VERT"
    BRUKERINFO = "BRUKERINFO"  # userinfo before the host
    IKKE_IDNA = "IKKE_IDNA"  # a host with other than ASCII, or not valid IDNA
    UGYLDIG_VERT = "UGYLDIG_VERT"
    IP_ADRESSE = "IP_ADRESSE"
    LOKAL_VERT = "LOKAL_VERT"  # localhost or 127.0.0.1 in prod
    UGYLDIG_PORT = "UGYLDIG_PORT"
    IKKE_ASCII = "IKKE_ASCII"  # outside the host: must be percent-encoded
    UGYLDIG_TEGN = "UGYLDIG_TEGN"  # not allowed in a URL, or a broken %-escape
    PUNKTSEGMENT = "PUNKTSEGMENT"  # . or .. as a path segment (before any ;parameters)
    KODET_STI = "KODET_STI"  # %2e, %2f or %5c in the path
    SPORRING_REGISTRERT = "SPORRING_REGISTRERT"  # a registered address with a query
    IKKE_REGISTRERT = "IKKE_REGISTRERT"


MELDINGER: dict[Grunn, str] = {
    Grunn.IKKE_TEKST: "is not text",
    Grunn.TOM: "is empty",
    Grunn.FOR_LANG: f"is longer than {MAKS_LENGDE} characters",
    Grunn.KONTROLLTEGN: "holds a control character or whitespace",
    Grunn.BAKSTREK: "holds a backslash",
    Grunn.IKKE_ABSOLUTT: "is not an absolute URL (it must begin with https://)",
    Grunn.SKJEMA: "has a scheme other than https",
    Grunn.KREVER_HTTPS: "must use https (http only for localhost or 127.0.0.1, not in prod)",
    Grunn.FRAGMENT: "has a fragment (#...)",
    Grunn.INGEN_VERT: "names no host (it must begin with https:// and a host)",
    Grunn.BRUKERINFO: "has userinfo (...@) before the host",
    Grunn.IKKE_IDNA: "has a host that is not in IDNA form (write a non-ASCII name as xn--...)",
    Grunn.UGYLDIG_VERT: "has a host that is not a DNS name (letters, digits, hyphens, dots)",
    Grunn.IP_ADRESSE: "has an IP address as its host (only 127.0.0.1, and not in prod)",
    Grunn.LOKAL_VERT: "points to localhost, which is not allowed in prod",
    Grunn.UGYLDIG_PORT: "has a port that is not a number from 1 to 65535",
    Grunn.IKKE_ASCII: "holds characters other than ASCII (percent-encode them)",
    Grunn.UGYLDIG_TEGN: "holds a character not allowed in a URL, or a broken %-escape",
    Grunn.PUNKTSEGMENT: "has a . or .. segment in its path",
    Grunn.KODET_STI: "has a percent-encoded dot, slash or backslash in its path",
    Grunn.SPORRING_REGISTRERT: "has a query; a registered address is a path, covering the "
    "addresses below it whatever their query",
    Grunn.IKKE_REGISTRERT: "is not a return address registered for any organisation",
}


class UgyldigReturadresse(BadInput):
    """An address (or organisation number) the policy refuses; nothing was done."""

    def __init__(self, grunn: str, melding: str) -> None:
        super().__init__(melding, reason=grunn)
        self.grunn = grunn


@dataclass(frozen=True, slots=True)
class Adresse:
    """An address that passed the policy, in its one spelling: scheme and host in lower case,
    a default port dropped, an empty path as `/`."""

    skjema: str
    vert: str
    port: int | None
    sti: str
    sporring: str | None

    @property
    def opphav(self) -> str:
        """Scheme, host and port (the origin): what must equal a registered address's."""
        port = "" if self.port is None else f":{self.port}"
        return f"{self.skjema}://{self.vert}{port}"

    @property
    def tekst(self) -> str:
        sporring = "" if self.sporring is None else f"?{self.sporring}"
        return f"{self.opphav}{self.sti}{sporring}"

    def dekker(self, onsket: Adresse) -> bool:
        """Whether this (registered) address covers `onsket`: the same origin, and its path
        this path or below it at a segment boundary."""
        if onsket.opphav != self.opphav:
            return False
        under = self.sti if self.sti.endswith("/") else self.sti + "/"
        return onsket.sti == self.sti or onsket.sti.startswith(under)


@dataclass(frozen=True, slots=True)
class Registrert:
    """A registered return address and the organisation it belongs to."""

    orgnr: str
    adresse: str


@dataclass(frozen=True, slots=True)
class Tillatt:
    """Allowed: send the resident to `adresse` (the asked-for address in its one spelling),
    on behalf of `orgnr`, whose registered `registrert` covers it."""

    orgnr: str
    adresse: str
    registrert: str


@dataclass(frozen=True, slots=True)
class Avvist:
    """Refused, with why."""

    grunn: Grunn

    @property
    def melding(self) -> str:
        return f"the return address {MELDINGER[self.grunn]}"


_SKJEMA = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_KONTROLL_ELLER_MELLOMROM = re.compile(r"[\x00-\x20\x7f]")
_ETIKETT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TALLETIKETT = re.compile(r"[0-9]+|0x[0-9a-f]*")  # what browsers read as (part of) an IPv4
_PCHAR = r"[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}"
_STI = re.compile(rf"(?:{_PCHAR}|/)*")
_SPORRING = re.compile(rf"(?:{_PCHAR}|[/?])*")
_KODET = re.compile(r"%(?:2e|2f|5c)", re.IGNORECASE)


def _avvis(grunn: Grunn) -> UgyldigReturadresse:
    return UgyldigReturadresse(grunn, f"the return address {MELDINGER[grunn]}")


def _vert(tekst: str, *, prod: bool) -> str:
    """The host in lower case, or refused: a DNS name in IDNA form; localhost and 127.0.0.1
    outside prod only."""
    if not tekst:
        raise _avvis(Grunn.INGEN_VERT)
    if not tekst.isascii():
        raise _avvis(Grunn.IKKE_IDNA)
    vert = tekst.lower()
    if vert.startswith("["):
        raise _avvis(Grunn.IP_ADRESSE)
    if vert in LOKALE_VERTER:
        if prod:
            raise _avvis(Grunn.LOKAL_VERT)
        return vert
    etiketter = vert.split(".")
    if len(vert) > 253 or not all(_ETIKETT.fullmatch(e) for e in etiketter):
        raise _avvis(Grunn.UGYLDIG_VERT)
    if _TALLETIKETT.fullmatch(etiketter[-1]):
        raise _avvis(Grunn.IP_ADRESSE)
    if any(e.startswith("xn--") for e in etiketter):
        try:
            if idna.encode(idna.decode(vert)).decode("ascii") != vert:
                raise _avvis(Grunn.IKKE_IDNA)
        except idna.IDNAError:
            raise _avvis(Grunn.IKKE_IDNA) from None
    return vert


def _port(tekst: str | None, skjema: str) -> int | None:
    """None for no port or the scheme's default one."""
    if tekst is None:
        return None
    if not (tekst.isascii() and tekst.isdigit() and len(tekst) <= 5 and 0 < int(tekst) < 65536):
        raise _avvis(Grunn.UGYLDIG_PORT)
    port = int(tekst)
    return None if port == STANDARDPORT[skjema] else port


def les(tekst: object, *, prod: bool) -> Adresse:
    """`tekst` as an address in its one spelling, or UgyldigReturadresse saying why not."""
    if not isinstance(tekst, str):
        raise _avvis(Grunn.IKKE_TEKST)
    if not tekst:
        raise _avvis(Grunn.TOM)
    if len(tekst) > MAKS_LENGDE:
        raise _avvis(Grunn.FOR_LANG)
    if _KONTROLL_ELLER_MELLOMROM.search(tekst) or any(t.isspace() for t in tekst):
        raise _avvis(Grunn.KONTROLLTEGN)
    if "\\" in tekst:
        raise _avvis(Grunn.BAKSTREK)
    skjema_funnet = _SKJEMA.match(tekst)
    if skjema_funnet is None:
        raise _avvis(Grunn.IKKE_ABSOLUTT)
    skjema = skjema_funnet.group(1).lower()
    if skjema not in STANDARDPORT:
        raise _avvis(Grunn.SKJEMA)
    if "#" in tekst:
        raise _avvis(Grunn.FRAGMENT)
    resten = tekst[skjema_funnet.end():]
    if not resten.startswith("//"):
        raise _avvis(Grunn.INGEN_VERT)
    etter = resten[2:]
    slutt = next((i for i, tegn in enumerate(etter) if tegn in "/?"), len(etter))
    autoritet, sti_og_sporring = etter[:slutt], etter[slutt:]
    if "@" in autoritet:
        raise _avvis(Grunn.BRUKERINFO)
    vert_tekst, kolon, port_tekst = autoritet.rpartition(":") if ":" in autoritet else (
        autoritet, "", "")
    vert = _vert(vert_tekst, prod=prod)
    port = _port(port_tekst if kolon else None, skjema)
    if skjema == "http" and (prod or vert not in LOKALE_VERTER):
        raise _avvis(Grunn.KREVER_HTTPS)
    if not sti_og_sporring.isascii():
        raise _avvis(Grunn.IKKE_ASCII)
    sti, spm, sporring = sti_og_sporring.partition("?")
    if not (_STI.fullmatch(sti) and _SPORRING.fullmatch(sporring)):
        raise _avvis(Grunn.UGYLDIG_TEGN)
    # with its parameters too: Tomcat and Jetty read /cb/..;x/ as /cb/../
    if any(segment.partition(";")[0] in (".", "..") for segment in sti.split("/")):
        raise _avvis(Grunn.PUNKTSEGMENT)
    if _KODET.search(sti):
        raise _avvis(Grunn.KODET_STI)
    return Adresse(skjema, vert, port, sti or "/", sporring if spm else None)


def valider_orgnr(orgnr: str) -> None:
    """UgyldigReturadresse naming `orgnr` unless it is a valid organisation number."""
    if not is_valid_orgno(orgnr):
        raise UgyldigReturadresse(
            UGYLDIG_ORGNR, f"orgnr {orgnr[:20]!r} is not a valid organisation number (9 digits, "
            "mod-11 check digit)")


def registrerbar(orgnr: str, tekst: str, *, prod: bool) -> Adresse:
    """`tekst` as a return address for `orgnr` to register, or UgyldigReturadresse naming
    what is wrong: the organisation number, or the address by the policy (and no query)."""
    valider_orgnr(orgnr)
    adresse = les(tekst, prod=prod)
    if adresse.sporring is not None:
        raise _avvis(Grunn.SPORRING_REGISTRERT)
    return adresse


def vurder(onsket: object, registrerte: Iterable[Registrert], *, prod: bool) -> Tillatt | Avvist:
    """Whether the resident may be sent to `onsket`, and on whose behalf: the registered
    address with the longest path that covers it. A registered address the policy refuses
    now (http://localhost once in prod) covers nothing."""
    try:
        adresse = les(onsket, prod=prod)
    except UgyldigReturadresse as exc:
        return Avvist(Grunn(exc.grunn))
    beste: tuple[Registrert, Adresse] | None = None
    for rad in registrerte:
        try:
            registrert = les(rad.adresse, prod=prod)
        except UgyldigReturadresse:
            continue
        lengre = beste is None or len(registrert.sti) > len(beste[1].sti)
        if registrert.dekker(adresse) and lengre:
            beste = rad, registrert
    if beste is None:
        return Avvist(Grunn.IKKE_REGISTRERT)
    return Tillatt(beste[0].orgnr, adresse.tekst, beste[1].tekst)
