"""Certificates stored as the register hands them out: bare base64 of DER, no PEM armour, no
line breaks (issue 13). Before this the providers' certificates were stored as PEM.

The conversion is a frozen copy of what app.personer.sertifikat does on the way in (a migration
must mean the same whatever the code becomes). Rows already converted are left alone, so a run
after a partial upgrade, or a second run, changes nothing.
"""

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tortoise import fields, migrations
from tortoise.migrations import operations as ops

PEM_START = "-----BEGIN"
BESKRIVELSE = "X.509 encryption certificate: bare base64 of its DER encoding"


def _plassholdere(conn):
    return ("$1", "$2") if conn.capabilities.dialect == "postgres" else ("?", "?")


async def _skriv_om(schema_editor, er_gammel, ny_form) -> None:
    """Rewrite every provider's certificate for which `er_gammel(text)` holds."""
    if schema_editor.collect_sql:  # sqlmigrate: no SQL to show for a data migration
        return
    conn = schema_editor.client
    verdi, orgnr = _plassholdere(conn)
    _, rader = await conn.execute_query("SELECT orgnr, sertifikat FROM postkasseleverandoer")
    for rad in rader:
        if not er_gammel(rad[1]):
            continue
        try:
            ny = ny_form(rad[1].strip())
        except ValueError as exc:
            raise RuntimeError(
                f"postkasseleverandoer {rad[0]}: sertifikat is not a readable X.509 certificate "
                f"({exc}); correct the row and migrate again"
            ) from exc
        await conn.execute_query(
            f"UPDATE postkasseleverandoer SET sertifikat = {verdi} WHERE orgnr = {orgnr}",
            [ny, rad[0]],
        )


def _pem_til_base64_der(pem: str) -> str:
    der = x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(Encoding.DER)
    return base64.b64encode(der).decode("ascii")


def _base64_der_til_pem(tekst: str) -> str:
    der = base64.b64decode(tekst, validate=True)
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")


async def til_base64_der(apps, schema_editor) -> None:
    await _skriv_om(schema_editor, lambda tekst: PEM_START in tekst, _pem_til_base64_der)


async def til_pem(apps, schema_editor) -> None:
    await _skriv_om(schema_editor, lambda tekst: PEM_START not in tekst, _base64_der_til_pem)


class BeskrivelseAvKolonne(ops.AlterField):
    """Only the column's description changes: PostgreSQL's COMMENT ON COLUMN. SQLite keeps no
    column comments to update, and tortoise's AlterField would remake its table there (a table
    every mailbox refers to), so the database is left alone on SQLite."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0006_delegering_trukket_tilbake_av_org')]

    initial = False

    operations = [
        ops.RunPython(til_base64_der, til_pem),
        BeskrivelseAvKolonne(
            model_name='Postkasseleverandoer',
            name='sertifikat',
            field=fields.TextField(description=BESKRIVELSE, unique=False),
        ),
    ]
