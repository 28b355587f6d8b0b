"""GET /statistikk in a real browser: `krr serve` on its own SQLite register with a known set of
persons, opened by Debian's headless Chromium (`make test` installs it); the test reads the DOM
Chromium built, i.e. what a person sees."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from authz.identifikatorer import make_id
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
DIGIPOST = "984661185"


def _pid(birth: dt.date, n: int) -> str:
    """The n-th id for the birth date (individual numbers from 500 for the 2000s)."""
    start = (500 if birth.year >= 2000 else 0) + 10 * n
    for individual in range(start, start + 10):
        number = make_id(birth, individual)
        if number is not None:
            return number
    raise AssertionError("no id")


# Age group -> (persons, of them with a mailbox): shares 100 %, 50 %, 25 %, 0 %.
KNOWN = {17: (2, 2), 23: (2, 1), 28: (4, 1), 33: (1, 0)}


def _fill(path: Path) -> None:
    """Nine active persons as in KNOWN (ages well away from a birthday, fresh e-mail), and one
    deleted, written straight into the migrated register."""
    now = dt.datetime.now(dt.UTC)
    fresh = (now - dt.timedelta(days=30)).isoformat(" ")
    today = now.date()
    rows = []
    n = 0
    for age, (persons, mailboxes) in KNOWN.items():
        for i in range(persons):
            birth = today - relativedelta(years=age, days=100 + i)
            mailbox = ("p#digipost", DIGIPOST) if i < mailboxes else (None, None)
            rows.append((_pid(birth, n), "AKTIV", f"p{n}@example.no", fresh, *mailbox))
            n += 1
    rows.append((_pid(today - relativedelta(years=50), 40), "SLETTET", None, None, None, None))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO postkasseleverandoer (orgnr, navn, sertifikat) VALUES (?, ?, ?)",
                     (DIGIPOST, "Digipost", "-----BEGIN CERTIFICATE-----"))
        conn.executemany(
            "INSERT INTO person (personidentifikator, status, reservasjon, epostadresse,"
            " epostadresse_oppdatert, postkasseadresse, postkasseleverandoeradresse)"
            " VALUES (?, ?, 0, ?, ?, ?, ?)",
            rows,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`krr serve` on an isolated, known register; yields its base URL."""
    database = tmp_path / "side.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp_path / "var"),
            "KRR_DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(ROOT)}
    krr = [sys.executable, "-m", "app.cli"]
    subprocess.run([*krr, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True,
                   timeout=120)
    _fill(database)
    port = free_port()
    proc = subprocess.Popen([*krr, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/statistikk", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "krr serve exited"
            assert time.monotonic() < deadline, "krr serve did not answer within 30 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Dom(HTMLParser):
    """The bars' widths, the rows of each table by id, and the SVG's title."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, float]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.svg_title = ""
        self._group = ""
        self._table = ""
        self._cell: list[str] | None = None
        self._in_title = False
        self._in_svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "g" and a.get("data-gruppe"):
            self._group = a["data-gruppe"] or ""
        elif tag == "rect" and a.get("class") == "bar":
            self.bars.append((self._group, float(a["width"] or 0)))
        elif tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "svg":
            self._in_svg = True
        elif tag == "title" and self._in_svg:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = ""
        elif tag == "title":
            self._in_title = False
        elif tag == "svg":
            self._in_svg = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data.replace("\u00a0", " "))
        if self._in_title:
            self.svg_title += data


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test`, which installs Debian's "
                    "chromium package before the tests")
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr",
         *args],
        capture_output=True, text=True, timeout=120, check=True,
    )


def test_page_in_a_browser(server: str, tmp_path: Path):
    # Asking for bokmål, as a Norwegian browser does (headless Chromium asks for en-US).
    shown = _chromium(["--accept-lang=nb-NO,nb", "--dump-dom", f"{server}/statistikk"],
                      tmp_path / "profile")
    # Chromium logs each CSP violation (e.g. the inline style's hash not matching) to stderr.
    assert "Content Security Policy" not in shown.stderr, shown.stderr
    dom = _Dom()
    dom.feed(shown.stdout)

    figures = dict(tuple(r) for r in dom.tables["nokkeltall"] if len(r) == 2)
    assert figures["Registrerte oppføringer (aktive og slettede)"] == "10"
    assert figures["Aktive"] == "9"
    assert figures["Slettede"] == "1"
    assert figures["Med e-postadresse"] == "9"
    assert figures["Med mobilnummer"] == "0"
    assert figures["Med digital postkasse"] == "4"
    assert next(v for k, v in figures.items() if k.startswith("Kan varsles")) == "9"
    assert dom.tables["postkasser"][1] == ["Digipost", DIGIPOST, "4"]

    # One bar per age group, in seed 004's order, as long as the share.
    assert [g for g, _ in dom.bars] == [
        "15-20", "21-25", "26-30", "31-35", "36-40", "41-45", "46-50", "51-55", "56-60",
        "61-65", "66-70", "71-75", "76-80", "81-85", "86-90", "90+"]
    widths = [w for _, w in dom.bars]
    assert widths[0] > widths[1] > widths[2] > widths[3] == 0
    assert widths[:3] == [400, 200, 100]
    assert all(w == 0 for w in widths[3:])
    assert "Andel med digital postkasse" in dom.svg_title
    # The table beside the chart has the same numbers.
    ages = {r[0]: r[1:] for r in dom.tables["aldersgrupper"][1:]}
    assert ages["15-20 år"] == ["2", "2", "100,00 %"]
    assert ages["21-25 år"] == ["2", "1", "50,00 %"]
    assert ages["26-30 år"] == ["4", "1", "25,00 %"]
    assert ages["31-35 år"] == ["1", "0", "0,00 %"]
    assert ages["90+ år"] == ["0", "0", "0,00 %"]
