"""The certificate (issue 13, item 1): bare base64 of its DER encoding everywhere, as the real
register gives it (xs:base64Binary), so a Java or .NET client's plain base64 decoder reads it.

One stored form, converted on the way in (app.personer.sertifikat) and by migration 0007 for the
rows stored as PEM before; every way of disclosing a person hands out that value as it is.
"""

from __future__ import annotations

import base64
import csv
import importlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from app import db as database
from app.personer.sertifikat import UgyldigSertifikat, som_base64_der
from app.testdata import csv_export
from app.testdata.seed import DIGIPOST_ORGNR, EBOKS_ORGNR, seed_register
from tests.conftest import FIXED_NOW, POSTGRES_PREFIXES
from tests.test_feed import FEED, HENTENDRING, gql
from tests.test_lookup import KONTAKT, POST, lookup
from tests.test_rest import ENDRINGER, rest, rest_personer

ROOT = Path(__file__).resolve().parent.parent
SEED_DATA = ROOT / "app" / "testdata" / "seed_data"
DIGIPOST_PEM = (SEED_DATA / "digipost.pem").read_text(encoding="ascii")
EBOKS_PEM = (SEED_DATA / "eboks.pem").read_text(encoding="ascii")
SOK = "krr:test/sok.read"

KJELL = "17912099997"  # Digipost, in every seeded register
SAMI = "66829700914"  # e-Boks
MAILBOXES = {KJELL: "Digipost", SAMI: "e-Boks"}

MIGRATION = importlib.import_module("app.migrations.0007_sertifikat_base64_der")


def der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def read_as_a_client_does(value: Any) -> x509.Certificate:
    """What a Java or .NET client does with the field: a plain (strict) base64 decoder, then
    X.509 from the DER bytes."""
    assert isinstance(value, str)
    assert "-----BEGIN" not in value and "\n" not in value and "\r" not in value
    return x509.load_der_x509_certificate(base64.b64decode(value, validate=True))


def common_name(certificate: x509.Certificate) -> Any:
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


# --- the way in -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "given",
    [
        DIGIPOST_PEM,
        DIGIPOST_PEM.replace("\n", "\r\n"),
        b64(der(DIGIPOST_PEM)),
        "\n".join(b64(der(DIGIPOST_PEM))[i:i + 76] for i in range(0, 1300, 76)),  # MIME lines
        f"  {b64(der(DIGIPOST_PEM))}\n",
    ],
    ids=["PEM", "PEM with CRLF", "bare base64", "base64 in lines", "base64 with blanks"],
)
def test_the_way_in_turns_pem_or_base64_into_bare_base64_of_der(given):
    stored = som_base64_der(given)
    assert stored == b64(der(DIGIPOST_PEM))
    assert common_name(read_as_a_client_does(stored)) == "Digipost"
    assert som_base64_der(stored) == stored  # already in the stored form: unchanged


def _public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ("DIGIPOSTCERTIFICATE", "neither PEM nor base64"),  # seed 004's placeholder
        ("not a certificate!", "neither PEM nor base64"),
        (b64(b"hello, world"), "12 bytes are not a DER X.509 certificate"),
        (b64(der(DIGIPOST_PEM) + b"\x00"), "are not a DER X.509 certificate"),
        ("-----BEGIN CERTIFICATE-----\nTESTCERT\n-----END CERTIFICATE-----\n",
         "is PEM, but holds no readable X.509 certificate"),
        (_public_key_pem(), "is PEM of a PUBLIC KEY, not of a CERTIFICATE"),
        (DIGIPOST_PEM + EBOKS_PEM, "PEM with 2 certificates"),
        ("sertifikat æøå", "outside ASCII"),
    ],
    ids=["empty", "blank", "placeholder", "text", "base64 of text", "trailing bytes",
         "PEM of garbage", "PEM of a key", "two certificates", "not ASCII"],
)
def test_the_way_in_refuses_garbage_naming_what_was_wrong(given, named):
    with pytest.raises(UgyldigSertifikat) as refused:
        som_base64_der(given)
    assert named in refused.value.message
    assert refused.value.message.startswith("sertifikat ")
    assert refused.value.extensions == {"code": "BAD_USER_INPUT"}


async def test_the_seed_stores_its_pem_certificates_as_bare_base64_of_der(db):
    await seed_register(persons=0, seed=1, now=FIXED_NOW)
    assert await db_rows() == {DIGIPOST_ORGNR: b64(der(DIGIPOST_PEM)),
                               EBOKS_ORGNR: b64(der(EBOKS_PEM))}


async def db_rows() -> dict[str, str]:
    _, rows = await database.connection().execute_query(
        "SELECT orgnr, sertifikat FROM postkasseleverandoer"
    )
    return {row[0]: row[1] for row in rows}


# --- every way out --------------------------------------------------------------------------

async def test_a_plain_base64_decoder_reads_the_certificate_from_rest_graphql_the_feed_and_csv(
    client, mint, db
):
    await seed_register(persons=0, seed=1, now=FIXED_NOW)
    token = mint(f"{KONTAKT} {POST} {HENTENDRING} {SOK}")
    ids = list(MAILBOXES)
    fields = "personidentifikator sertifikat"
    given: dict[str, dict[str, Any]] = {}

    body = await lookup(client, token, ids, fields)
    given["GraphQL personer"] = {p["personidentifikator"]: p["sertifikat"]
                                 for p in body["data"]["personer"]}
    given["REST personer"] = {p["personidentifikator"]: p["sertifikat"]
                              for p in await rest_personer(client, token, ids)}
    body = await gql(client, token, FEED % fields, {"fra": 0})
    given["GraphQL endringer"] = {p["personidentifikator"]: p["sertifikat"]
                                  for p in body["data"]["endringer"]["personer"]
                                  if p["personidentifikator"] in MAILBOXES}
    page = (await rest(client, ENDRINGER, token, {"fraEndringsId": 0})).json()
    given["REST hentEndringer"] = {p["personidentifikator"]: p["sertifikat"]
                                   for p in page["list"] if p["personidentifikator"] in MAILBOXES}
    response = await client.get(csv_export.PATH, params={"harDigitalPostkasse": "true"},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    given["CSV export"] = {r["personidentifikator"]: r["sertifikat"]
                           for r in csv.DictReader(io.StringIO(response.text))
                           if r["personidentifikator"] in MAILBOXES}
    resident = mint("krr:user/kontaktinformasjon.read krr:user/digitalpost.read",
                    consumer=None, pid=KJELL)
    body = await gql(client, resident, "{ meg { person { personidentifikator sertifikat } } }")
    given["GraphQL meg"] = {KJELL: body["data"]["meg"]["person"]["sertifikat"]}

    stored = await db_rows()
    expected = {KJELL: stored[DIGIPOST_ORGNR], SAMI: stored[EBOKS_ORGNR]}
    for where, values in given.items():
        assert values == {pid: expected[pid] for pid in values}, where
        for pid, value in values.items():
            assert common_name(read_as_a_client_does(value)) == MAILBOXES[pid], where


def test_a_certificate_cell_is_one_line_never_a_formula():
    """Base64 holds no comma, quote or line break, and DER begins with a SEQUENCE (0x30), so
    its base64 begins with "M": the cell is written as it is."""
    value = b64(der(DIGIPOST_PEM))
    assert value.startswith("M")
    assert csv_export._celle(value) == value
    assert csv_export._csv([[value, "x"]]) == f"{value},x\r\n"


# --- migration 0007 ---------------------------------------------------------------------------

async def _insert_providers(rows: dict[str, str]) -> None:
    conn = database.connection()
    sql = database.Sql.paa(conn)
    values = ", ".join(f"({sql(orgnr)}, 'p', {sql(cert)})" for orgnr, cert in rows.items())
    await conn.execute_query(
        f"INSERT INTO postkasseleverandoer (orgnr, navn, sertifikat) VALUES {values}", sql.verdier
    )


def _editor() -> SimpleNamespace:
    """What RunPython hands the migration: the schema editor, on the migration's connection."""
    return SimpleNamespace(client=database.connection(), collect_sql=False)


async def test_migration_0007_converts_a_pem_row_and_leaves_a_converted_row(db):
    await _insert_providers({DIGIPOST_ORGNR: DIGIPOST_PEM, EBOKS_ORGNR: b64(der(EBOKS_PEM))})
    await MIGRATION.til_base64_der(None, _editor())
    converted = {DIGIPOST_ORGNR: b64(der(DIGIPOST_PEM)), EBOKS_ORGNR: b64(der(EBOKS_PEM))}
    assert await db_rows() == converted
    await MIGRATION.til_base64_der(None, _editor())  # idempotent
    assert await db_rows() == converted
    # Rolled back the rows are PEM again; forward once more, the same bare base64.
    await MIGRATION.til_pem(None, _editor())
    assert all(v.startswith("-----BEGIN CERTIFICATE-----") for v in (await db_rows()).values())
    await MIGRATION.til_base64_der(None, _editor())
    assert await db_rows() == converted


async def test_migration_0007_stops_at_a_pem_row_that_is_no_certificate_naming_the_provider(db):
    fake = "-----BEGIN CERTIFICATE-----\nTESTCERT\n-----END CERTIFICATE-----\n"
    await _insert_providers({DIGIPOST_ORGNR: fake})
    with pytest.raises(RuntimeError, match=f"postkasseleverandoer {DIGIPOST_ORGNR}: sertifikat"):
        await MIGRATION.til_base64_der(None, _editor())
    assert await db_rows() == {DIGIPOST_ORGNR: fake}


TO_0006 = """
import asyncio
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from app.config import load_settings
from app.db import tortoise_config

async def main():
    await migrate(config=tortoise_config(load_settings()),
                  target="models.0006_delegering_trukket_tilbake_av_org")
    await Tortoise.close_connections()

asyncio.run(main())
"""
INSERT = "INSERT INTO postkasseleverandoer (orgnr, navn, sertifikat) VALUES"
SELECT = "SELECT orgnr, sertifikat FROM postkasseleverandoer ORDER BY orgnr"


class SqliteFile:
    """A register of its own: a new SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    async def create(self) -> None:
        pass

    async def drop(self) -> None:
        pass

    async def insert(self, orgnr: str, sertifikat: str) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute(f"{INSERT} (?, 'Digipost', ?)", (orgnr, sertifikat))
        conn.close()

    async def rows(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute(SELECT).fetchall()
        conn.close()
        return rows


class PostgresSchema:
    """A register of its own: a schema in the test database (tortoise's `schema` parameter)."""

    NAME = "krr_migration_0007"

    def __init__(self, url: str) -> None:
        self.server = url.replace("postgres://", "postgresql://", 1)
        self.url = f"{url}?schema={self.NAME}"

    async def _run(self, sql: str, *args: Any) -> list[Any]:
        conn = await asyncpg.connect(self.server, server_settings={"search_path": self.NAME})
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def create(self) -> None:
        await self.drop()
        await self._run(f"CREATE SCHEMA {self.NAME}")

    async def drop(self) -> None:
        await self._run(f"DROP SCHEMA IF EXISTS {self.NAME} CASCADE")

    async def insert(self, orgnr: str, sertifikat: str) -> None:
        await self._run(f"{INSERT} ($1, 'Digipost', $2)", orgnr, sertifikat)

    async def rows(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in await self._run(SELECT)]


async def test_migrating_a_register_holding_pem_stores_bare_base64_of_der(settings, tmp_path):
    """The whole path, through tortoise's migrator and `krr migrate`, on a register of its own:
    at 0006 the provider holds PEM, after 0007 the stored form."""
    register = (PostgresSchema(settings.database_url)
                if settings.database_url.startswith(POSTGRES_PREFIXES)
                else SqliteFile(tmp_path / "migrering.sqlite3"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp_path / "var"),
            "KRR_DATABASE_URL": register.url, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> None:
        done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr

    await register.create()
    try:
        run("-c", TO_0006)
        await register.insert(DIGIPOST_ORGNR, DIGIPOST_PEM)
        run("-m", "app.cli", "migrate")
        rows = await register.rows()
    finally:
        await register.drop()
    assert rows == [(DIGIPOST_ORGNR, b64(der(DIGIPOST_PEM)))]
    assert common_name(read_as_a_client_does(rows[0][1])) == "Digipost"
