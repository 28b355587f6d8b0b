"""`krr organisasjoner importer`: organisation names from Enhetsregisteret's bulk download, on
the test database (SQLite, or PostgreSQL with KRR_TEST_DATABASE_URL)."""

from __future__ import annotations

import gzip
import io
import json
import random
import subprocess
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app import db as database
from app.config import Settings
from app.enhetsregisteret.enheter import BUFFER, GRENSER, Avvist, Enhet, les
from app.enhetsregisteret.grenser import MIB, Grenser, JsonSkanner, OverGrense
from app.enhetsregisteret.importer import Avbrutt, Resultat, TellendeLeser, importer
from authz.identifikatorer import is_valid_orgno
from tests.conftest import ROOT
from tests.servers import KRR

EKSEMPEL = ROOT / "app" / "enhetsregisteret" / "eksempel"
DIGDIR = "991825827"
NAV = "889640782"
SKATT = "974761076"
OSLO = "958935420"
# Organisation numbers the other tests use; the sample must name each (`make run` shows them).
BRUKT = {"991825827", "984661185", "922020175", "974760673", "889640782"}


@pytest.fixture
async def tabell(db: Settings) -> AsyncIterator[Settings]:
    """The organisation table as the migrations left it, put back after the test: it is
    reference data that the other tests read (the `db` fixture keeps it)."""
    conn = database.connection()
    _, rader = await conn.execute_query("SELECT orgnr, navn FROM organisasjon")
    for_ = {r["orgnr"]: r["navn"] for r in rader}
    yield db
    await conn.execute_query("DELETE FROM organisasjon")
    sql = database.Sql()
    verdier = ", ".join(f"({sql(o)}, {sql(n)})" for o, n in for_.items())
    await conn.execute_query(f"INSERT INTO organisasjon (orgnr, navn) VALUES {verdier}",
                             sql.verdier)


async def navnene() -> dict[str, str]:
    _, rader = await database.connection().execute_query("SELECT orgnr, navn FROM organisasjon")
    return {r["orgnr"]: r["navn"] for r in rader}


async def importer_data(data: bytes, **kwargs: int | Grenser) -> tuple[Resultat, list[Avvist]]:
    avvist: list[Avvist] = []
    resultat = await importer(io.BytesIO(data), avvist.append, **kwargs)  # type: ignore[arg-type]
    return resultat, avvist


def orgnumre(antall: int, start: int = 80_000_000) -> Iterator[str]:
    """Valid organisation numbers beginning 8, none of them one the other tests use."""
    n = start
    while antall:
        n += 1
        kandidat = f"{n:09d}"
        if is_valid_orgno(kandidat):
            antall -= 1
            yield kandidat


def json_fil(enheter: list[tuple[str, str]]) -> bytes:
    return json.dumps([{"organisasjonsnummer": o, "navn": n,
                        "organisasjonsform": {"kode": "AS", "beskrivelse": "Aksjeselskap"}}
                       for o, n in enheter]).encode()


# --- the sample files ------------------------------------------------------------------------

def test_the_samples_name_real_looking_units_with_valid_numbers_and_the_ones_in_use():
    with (EKSEMPEL / "enheter.json").open("rb") as j, (EKSEMPEL / "enheter.csv").open("rb") as c:
        fra_json, fra_csv = list(les(j)), list(les(c))
        assert not j.closed and not c.closed  # the caller's to close
    assert fra_json == fra_csv
    assert all(isinstance(e, Enhet) for e in fra_json)
    assert len(fra_json) >= 30
    orgnumre_ = {e.orgnr for e in fra_json if isinstance(e, Enhet)}
    assert BRUKT <= orgnumre_
    assert {DIGDIR: "Digitaliseringsdirektoratet", NAV: "Arbeids- og velferdsetaten",
            SKATT: "Skatteetaten"}.items() <= {e.orgnr: e.navn for e in fra_json
                                                if isinstance(e, Enhet)}.items()


async def test_the_json_sample_is_stored_and_keeps_the_migrations_names(tabell):
    for_ = await navnene()
    resultat, avvist = await importer_data((EKSEMPEL / "enheter.json").read_bytes())
    assert (resultat.lest, resultat.lagret, resultat.hoppet_over) == (31, 31, 0)
    assert avvist == []
    etter = await navnene()
    assert etter[NAV] == "Arbeids- og velferdsetaten"
    assert etter[OSLO] == "Oslo kommune"
    assert {o: etter[o] for o in for_} == for_  # the sample spells them as migration 0002 does
    assert resultat.endret == len(etter) - len(for_)


async def test_csv_with_commas_the_real_headers_in_capitals(tabell):
    resultat, avvist = await importer_data((EKSEMPEL / "enheter.csv").read_bytes())
    assert (resultat.lest, resultat.hoppet_over, avvist) == (31, 0, [])
    assert (await navnene())[SKATT] == "Skatteetaten"


async def test_csv_with_semicolons_and_other_columns_in_any_order(tabell):
    data = ('\ufeff"Organisasjonsform.kode";"NAVN";"organisasjonsnummer"\r\n'
            'ORGL;"  Skatteetaten  ";974761076\r\n'
            'KOMM;"Oslo kommune";"958935420"\r\n').encode()
    resultat, avvist = await importer_data(data)
    assert (resultat.lest, resultat.lagret, avvist) == (2, 2, [])
    navn = await navnene()
    assert (navn[SKATT], navn[OSLO]) == ("Skatteetaten", "Oslo kommune")  # trimmed


async def test_gzip_is_told_by_its_bytes_json_and_csv_alike(tabell):
    enheter = list(zip(orgnumre(3), ("A AS", "B AS", "C AS"), strict=True))
    resultat, _ = await importer_data(gzip.compress(json_fil(enheter)))
    assert resultat.lagret == 3
    csv = "organisasjonsnummer,navn\n" + "".join(f"{o},{n} endret\n" for o, n in enheter)
    resultat, _ = await importer_data(gzip.compress(csv.encode()))
    assert resultat.lagret == 3
    navn = await navnene()
    assert [navn[o] for o, _ in enheter] == ["A AS endret", "B AS endret", "C AS endret"]


async def test_json_lines_one_object_after_another(tabell):
    [orgnr] = orgnumre(1)
    data = b'{"organisasjonsnummer": "%s", "navn": "Linje AS"}\n{"organisasjonsnummer": 1}\n' % (
        orgnr.encode())
    resultat, avvist = await importer_data(data)
    assert (resultat.lagret, resultat.hoppet_over) == (1, 1)
    assert avvist == [Avvist("element [1]", "organisasjonsnummer is a number, not a string")]


# --- idempotent, last wins, never deletes -------------------------------------------------

async def test_running_twice_gives_the_same_table_and_a_changed_name_is_updated(tabell):
    enheter = list(zip(orgnumre(5), (f"Enhet {i} AS" for i in range(5)), strict=True))
    forste, _ = await importer_data(json_fil(enheter), batch=2)
    etter_forste = await navnene()
    andre, _ = await importer_data(json_fil(enheter), batch=2)
    assert await navnene() == etter_forste
    assert (forste.endret, andre.endret, andre.lagret) == (5, 0, 5)

    endret = [(enheter[1][0], "Nytt Navn AS"), enheter[3]]
    tredje, _ = await importer_data(json_fil(endret))
    assert tredje.endret == 1
    navn = await navnene()
    assert navn[enheter[1][0]] == "Nytt Navn AS"
    assert {o for o, _ in enheter} <= navn.keys()  # the ones not in the file keep their names
    assert navn[DIGDIR] == "Digitaliseringsdirektoratet"


@pytest.mark.parametrize("batch", [1000, 2])
async def test_a_duplicate_in_one_file_the_last_one_wins(tabell, batch):
    a, b = orgnumre(2)
    enheter = [(a, "Først AS"), (b, "B AS"), (a, "Midt AS"), (b, "B AS"), (a, "Sist AS")]
    resultat, _ = await importer_data(json_fil(enheter), batch=batch)
    assert (resultat.lest, resultat.lagret) == (5, 5)
    assert (await navnene())[a] == "Sist AS"


# --- bad rows, bad files --------------------------------------------------------------------

async def test_bad_rows_are_named_by_element_and_skipped(tabell):
    god, annen = orgnumre(2)
    elementer = [
        {"organisasjonsnummer": god, "navn": "God AS"},
        {"organisasjonsnummer": "991825828", "navn": "Feil kontrollsiffer"},
        {"organisasjonsnummer": annen},
        {"organisasjonsnummer": int(annen), "navn": "Tall"},
        {"organisasjonsnummer": annen, "navn": ["liste"]},
        {"organisasjonsnummer": annen, "navn": "Med\x07bjelle"},
        {"organisasjonsnummer": annen, "navn": "Nul\x00"},
        {"organisasjonsnummer": annen, "navn": "   "},
        {"organisasjonsnummer": annen, "navn": "x" * 201},
        {"organisasjonsnummer": "9" * 5000, "navn": "Langt nummer"},
        "ikke et objekt",
    ]
    resultat, avvist = await importer_data(json.dumps(elementer).encode())
    assert (resultat.lest, resultat.lagret, resultat.hoppet_over) == (11, 1, 10)
    assert avvist == [
        Avvist("element [1]", "organisasjonsnummer 991825828 fails the mod-11 check"),
        Avvist("element [2]", "has no navn"),
        Avvist("element [3]", "organisasjonsnummer is a number, not a string"),
        Avvist("element [4]", "navn is an array, not a string"),
        Avvist("element [5]", "navn contains a control character (U+0007)"),
        Avvist("element [6]", "navn contains a NUL character (U+0000)"),
        Avvist("element [7]", "navn is empty"),
        Avvist("element [8]", "navn is 201 characters, more than 200"),
        Avvist("element [9]", "organisasjonsnummer of 5000 characters is not 9 digits"),
        Avvist("element [10]", "is a string, not an object"),
    ]
    navn = await navnene()
    assert navn[god] == "God AS"
    assert annen not in navn


async def test_bidi_controls_in_a_name_are_stripped_on_import(tabell):
    """They could only reorder a page around the name (issue 23.13): taken out, the rest kept;
    a name of nothing else is empty."""
    a, b, c = orgnumre(3)
    _, avvist = await importer_data(json_fil([
        (a, "\u202eAS Fjell\u202c"), (b, "\u2066\u200f \u2069"),
        (c, "\u061c" * 300 + "Lang AS"),  # under the 200 characters without them
    ]))
    assert avvist == [Avvist("element [1]", "navn is empty")]
    navn = await navnene()
    assert (navn[a], navn[c]) == ("AS Fjell", "Lang AS")


async def test_bad_csv_rows_are_named_by_line_a_quoted_newline_counted(tabell):
    god, annen = orgnumre(2)
    data = (f"organisasjonsnummer;navn\n{god};God AS\n\n123;Kort\n{annen}\n"
            f'{annen};"To\nlinjer"\n{annen};\xff\n{annen};Bra AS\n').encode("latin-1")
    resultat, avvist = await importer_data(data)
    assert [a.hvor for a in avvist] == ["line 4", "line 5", "line 6", "line 8"]
    assert avvist[0].grunn == "organisasjonsnummer '123' is not 9 digits"
    assert avvist[1].grunn == "has 1 field; the header has 2"
    assert avvist[2].grunn == "navn contains a control character (U+000A)"
    assert "surrogate" in avvist[3].grunn  # a byte that is not UTF-8
    assert (resultat.lagret, resultat.hoppet_over) == (2, 4)
    assert (await navnene())[annen] == "Bra AS"


@pytest.mark.parametrize(("data", "grunn"), [
    (b"", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "no column organisasjonsnummer or navn"),
    (b"orgnr,navn\n991825827,X\n", "no column organisasjonsnummer in its first line"),
    (gzip.compress(b"Organisasjonsnummer;Firma\n991825827;X\n"), "no column navn"),
    (b'{"_embedded": {"enheter": []}}', "a page of the search API"),
    (b"\x1f\x8b\x08garbage", "unreadable after the start"),
])
async def test_an_unusable_file_is_refused_and_nothing_is_written(tabell, data, grunn):
    for_ = await navnene()
    with pytest.raises(Avbrutt) as feil:
        await importer_data(data)
    assert grunn in feil.value.melding
    assert feil.value.resultat.lagret == 0
    assert await navnene() == for_


async def test_a_truncated_download_writes_nothing(tabell):
    """All or nothing: the good rows before the break were sent to the database, in batches,
    and are rolled back with the rest."""
    for_ = await navnene()
    enheter = list(zip(orgnumre(5000), (f"Enhet {i}" for i in range(5000)), strict=True))
    hel = gzip.compress(json_fil(enheter))
    with pytest.raises(Avbrutt) as feil:
        await importer_data(hel[: len(hel) * 2 // 3], batch=1000)
    assert "unreadable after element" in feil.value.melding
    assert 1000 < feil.value.resultat.lest < 5000  # several batches were written, then undone
    assert await navnene() == for_


# --- a large file, streamed -------------------------------------------------------------------

async def test_a_large_gzip_file_is_read_a_buffer_at_a_time(tabell, tmp_path: Path):
    antall = 50_000
    fil = tmp_path / "enheter_alle.json.gz"
    with gzip.open(fil, "wt", encoding="utf-8") as ut:
        ut.write("[")
        for i, orgnr in enumerate(orgnumre(antall, start=90_000_000)):
            ut.write(("," if i else "") + json.dumps({
                "organisasjonsnummer": orgnr, "navn": f"Enhet nummer {i} AS",
                "organisasjonsform": {"kode": "AS", "beskrivelse": "Aksjeselskap"},
                "forretningsadresse": {"land": "Norge", "adresse": [f"Gate {i}"]}}))
        ut.write("]")
    lesninger: list[int] = []
    with fil.open("rb") as inn:
        resultat = await importer(TellendeLeser(inn, lesninger.append), lambda _: None)
    assert (resultat.lest, resultat.lagret, resultat.hoppet_over) == (antall, antall, 0)
    assert max(lesninger) <= BUFFER  # never more than a buffer asked of the file at once
    assert sum(lesninger) == fil.stat().st_size
    assert len(await navnene()) >= antall


# --- bombs: what an import holds does not depend on the file (issue 23.9) ---------------------

async def refusert(data: bytes, grenser: Grenser = GRENSER, batch: int = 2000
                   ) -> tuple[Avbrutt, int, int]:
    """The import of `data`, refused: why, the peak of Python's allocations while it ran, and
    how many bytes of `data` were read (what a parser was handed, and more, is no more)."""
    lest: list[int] = []
    tracemalloc.start()
    try:
        with pytest.raises(Avbrutt) as feil:
            await importer(TellendeLeser(io.BytesIO(data), lest.append), lambda _: None,
                           batch=batch, grenser=grenser)
        topp = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return feil.value, topp, sum(lest)


async def test_a_gzip_of_twenty_million_nested_brackets_is_refused_at_the_depth_limit(tabell):
    """The attack: 40 KB of gzip ended in MemoryError with a traceback (a list a bracket)."""
    for_ = await navnene()
    bombe = gzip.compress(b"[" * 20_000_000)
    assert len(bombe) < 40_000
    feil, topp, _ = await refusert(bombe)
    assert feil.melding == "line 1: nested more than 64 deep (the limit, --max-depth)"
    assert topp < 4 * MIB
    assert await navnene() == for_


@pytest.mark.parametrize(("data", "linje"), [
    (b"[\n" * 100, 65),  # one bracket a line: the 65th goes past 64
    (b'[{"organisasjonsnummer": "991825827", "navn": "Ok", "x": [1, {"y": [[[[[[\n]]]]]]}]},'
     b'\n{"a":\n' + b'{"a": [\n' * 40, 35),  # an ordinary unit first, then nesting by twos
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b":\n'
     + b'{"c": \n' * 64, 65),  # JSON Lines; the brackets in a string are not nesting
])
async def test_nesting_is_refused_naming_the_line_where_it_goes_past_the_limit(tabell, data,
                                                                              linje):
    feil, _, _ = await refusert(data)
    assert feil.melding.startswith(f"line {linje}: nested more than 64 deep"), feil.melding


async def test_one_huge_csv_line_is_refused_without_being_read_whole(tabell):
    """The attack: a 400 KB gzip holding one 400 MB line peaked at 895 MB. The line is read
    no further than the limit, however long it is."""
    [god] = orgnumre(1)
    data = f"organisasjonsnummer,navn\n{god},God AS\n991825827,".encode() + b"x" * (16 * MIB)
    feil, topp, lest = await refusert(data + b"\n")
    assert feil.melding == ("line 3: longer than 1,048,576 characters (the limit, "
                            "--max-unit-size)")
    assert lest < 2 * MIB and topp < 8 * MIB
    assert god not in await navnene()  # the good row before it is not written either
    feil, _, _ = await refusert(gzip.compress(data))  # the same bomb gzipped: 16 KB
    assert feil.melding.startswith("line 3: longer than 1,048,576 characters")


async def test_one_huge_json_string_is_refused_without_being_read_whole(tabell):
    """The attack: a 400 MB string took over two minutes, worse than linear (the parser's
    buffer grew by copies). It is refused once its unit passes the limit."""
    data = b'[{"organisasjonsnummer": "991825827", "navn": "' + b"x" * (16 * MIB) + b'"}]'
    feil, topp, lest = await refusert(data)
    assert feil.melding == ("line 1: a unit longer than 1 MiB, in a string (the limit, "
                            "--max-unit-size)")
    assert lest < 2 * MIB and topp < 8 * MIB
    escaped = b'[{"organisasjonsnummer": "991825827", "navn": "' + b'\\"' * (8 * MIB) + b'"}]'
    feil, _, lest = await refusert(escaped)  # escaped quotes do not end the string
    assert feil.melding.startswith("line 1: a unit longer than 1 MiB, in a string")
    assert lest < 2 * MIB


@pytest.mark.parametrize(("mellom", "etter"), [
    (b"1" * MIB, "[0]"),  # a number no parser should buffer
    (b" " * MIB, "[0]"),
    (b'"x",' * (MIB // 4), "["),  # elements that are no units, each refused, then their run
])
async def test_a_huge_value_or_white_space_between_units_is_refused(tabell, mellom, etter):
    """With the limit lowered to 64 KiB."""
    feil, _, lest = await refusert(b'[{"organisasjonsnummer": "991825827", "navn": "Ok"},'
                                   + mellom + b"1]", grenser=Grenser(enhet=64 * 1024))
    assert feil.melding.startswith(
        "line 1: more than 64 KiB between units (white space, or values that are not objects) "
        f"(the limit, --max-unit-size), after element {etter}")
    assert lest < 4 * 64 * 1024


async def test_a_csv_row_of_many_quoted_lines_is_refused_at_the_limit(tabell):
    """Each field under the csv module's own limit, each line short: the row (lines joined
    by line breaks inside quotes) is what grows, and is measured (the limit lowered to 64 KiB)."""
    data = b'organisasjonsnummer,navn\n991825827,"a\n"' + b',"a\n"' * (64 * 1024) + b"\n"
    feil, topp, lest = await refusert(data, grenser=Grenser(enhet=64 * 1024))
    assert feil.melding == ("line 2: a row of 13107 lines (line breaks inside quotes) longer "
                            "than 65,536 characters (the limit, --max-unit-size)")
    assert lest < 4 * 64 * 1024 and topp < 4 * MIB


async def test_a_gzip_that_unpacks_beyond_the_limit_is_refused_and_nothing_is_written(tabell):
    """With the limit lowered to 256 KiB: the units before it were read and sent in batches,
    and are rolled back."""
    for_ = await navnene()
    enheter = list(zip(orgnumre(5000), (f"Enhet {i} AS" for i in range(5000)), strict=True))
    feil, _, _ = await refusert(gzip.compress(json_fil(enheter)), batch=100,
                                grenser=Grenser(utpakket=256 * 1024))
    assert feil.melding.startswith(
        "line 1: the file unpacks to more than 256 KiB (the limit, --max-size), after element [")
    assert feil.resultat.lest > 1000  # ten batches and more were written, then undone
    assert await navnene() == for_


async def test_a_json_file_on_one_line_is_not_a_long_line(tabell):
    """The bulk JSON may come as one line of a GB: in JSON only a unit is measured."""
    enheter = list(zip(orgnumre(20_000), (f"Enhet {i} AS" for i in range(20_000)), strict=True))
    data = json_fil(enheter)
    assert b"\n" not in data and len(data) > 2 * MIB
    resultat, avvist = await importer_data(data)
    assert (resultat.lagret, avvist) == (20_000, [])


def _les_tegn_for_tegn(data: bytes) -> tuple[int, bool, int]:
    """Depth at the end, inside a string at the end, and the deepest point: a byte at a time."""
    dybde, i_streng, escape, dypest = 0, False, False, 0
    for tegn in data:
        if escape:
            escape = False
            if tegn in b'"\\':
                continue
        if tegn == ord("\\"):
            escape = True
        elif tegn == ord('"'):
            i_streng = not i_streng
        elif not i_streng and tegn in b"[{]}":
            dybde += 1 if tegn in b"[{" else -1
            dypest = max(dypest, dybde)
    return dybde, i_streng, dypest


def test_the_json_checks_see_the_structure_whatever_the_pieces_it_comes_in():
    """The depth check reads a piece's quotes and brackets at C speed, not a byte at a time:
    it agrees with a byte-at-a-time reading on random text cut at random places, strings,
    escapes and brackets inside strings included."""
    tilfeldig = random.Random(23)
    tegn = [b'"', b"\\", b"[", b"]", b"{", b"}", b"a", b",", b"\n"]
    for _ in range(3000):
        data = b"".join(tilfeldig.choice(tegn) for _ in range(tilfeldig.randint(0, 60)))
        dybde, i_streng, dypest = _les_tegn_for_tegn(data)
        maks = tilfeldig.randint(1, 6)
        skanner = JsonSkanner(Grenser(dybde=maks, enhet=MIB), enhetsdybde=1)
        kutt = sorted(tilfeldig.sample(range(len(data) + 1), min(len(data) + 1, 4)))
        try:
            for fra, til in zip([0, *kutt], [*kutt, len(data)], strict=True):
                skanner.skann(data[fra:til], 0)
        except OverGrense:
            assert dypest > maks, data
            continue
        assert dypest <= maks, data
        assert (skanner.dybde, skanner.i_streng) == (dybde, i_streng), data


# --- the command ------------------------------------------------------------------------------

@pytest.fixture
def krr_env(tabell: Settings, cli_env: dict[str, str]) -> dict[str, str]:
    """The command on the test database, the one the fixtures read."""
    return cli_env | {"KRR_DATABASE_URL": tabell.database_url}


def krr(env: dict[str, str], *args: str, inn: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*KRR, "organisasjoner", "importer", *args], env=env, cwd=ROOT,
                          input=inn, capture_output=True, timeout=120, check=False)


async def test_the_command_imports_the_sample_exit_0(krr_env):
    kjort = krr(krr_env, str(EKSEMPEL / "enheter.json"))
    assert kjort.returncode == 0, kjort.stderr
    assert kjort.stdout.decode().strip().startswith(
        "31 organisasjoner lest, 31 lagret, 0 hoppet over")
    assert (await navnene())[OSLO] == "Oslo kommune"


async def test_the_command_reads_gzip_from_stdin_reports_bad_rows_exit_1(krr_env):
    [god] = orgnumre(1)
    data = gzip.compress(f"Organisasjonsnummer,Navn\n{god},Stdin AS\n991825828,Feil\n".encode())
    kjort = krr(krr_env, "-", inn=data)
    assert kjort.returncode == 1
    assert kjort.stderr.decode().splitlines() == [
        "line 3: organisasjonsnummer 991825828 fails the mod-11 check"]
    assert kjort.stdout.decode().startswith("2 organisasjoner lest, 1 lagret, 1 hoppet over")
    assert (await navnene())[god] == "Stdin AS"


async def test_the_command_refuses_an_unusable_file_exit_2(krr_env, tmp_path: Path):
    for_ = await navnene()
    mangler = krr(krr_env, str(tmp_path / "finnes-ikke.json"))
    assert mangler.returncode == 2
    assert "cannot read" in mangler.stderr.decode()
    assert "finnes-ikke.json" in mangler.stderr.decode()
    tekst = tmp_path / "notat.txt"
    tekst.write_text("Dette er ingen fil fra Enhetsregisteret\n")
    feil = krr(krr_env, str(tekst))
    assert feil.returncode == 2
    assert "no column organisasjonsnummer or navn" in feil.stderr.decode()
    assert "nothing was written" in feil.stderr.decode()
    assert await navnene() == for_


async def test_the_command_refuses_a_bomb_exit_2_naming_the_line_without_a_traceback(
    krr_env, tmp_path: Path
):
    for_ = await navnene()
    bombe = tmp_path / "enheter_alle.json.gz"
    bombe.write_bytes(gzip.compress(b"[" * 20_000_000))
    kjort = krr(krr_env, str(bombe))
    assert kjort.returncode == 2
    assert kjort.stderr.decode().splitlines() == [
        f"krr organisasjoner importer: {bombe}: line 1: nested more than 64 deep (the limit, "
        "--max-depth) (nothing was written)"]
    stor = tmp_path / "enheter.json"
    stor.write_bytes(json_fil(list(zip(orgnumre(5000), ("X AS" for _ in range(5000)),
                                       strict=True))))
    kjort = krr(krr_env, "--max-size", "128K", str(stor))
    assert kjort.returncode == 2
    melding = kjort.stderr.decode()
    assert "line 1: the file unpacks to more than 128 KiB (the limit, --max-size), after element ["\
        in melding
    assert "rows read before it; nothing was written)" in melding
    assert "Traceback" not in melding and await navnene() == for_
    ugyldig = krr(krr_env, "--max-unit-size", "0", str(EKSEMPEL / "enheter.json"))
    assert ugyldig.returncode == 2 and "must be 1 or more" in ugyldig.stderr.decode()
