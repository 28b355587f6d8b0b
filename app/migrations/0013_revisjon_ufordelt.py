"""The audit log's persons written with the request, filed into the per-person index after it
(issue 16): a lookup's record is its request row and one row here holding the persons and
their categories as arrays, written in one statement before anything is disclosed; the
filer (app.revisjon.fordeling) then moves them into `oppslag_person` and deletes the row here.
Readers of "who looked me up" read both (app.revisjon.store).

Frozen copy of the tables as app.revisjon.fordeling reads and writes them when this was
written. The table is a queue: it stays small (seconds of lookups), so it has no index but its
key, and autovacuum is told to clean it by rows, not by a fraction of its size.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

POSTGRES = [
    "CREATE TABLE oppslag_ufordelt ("
    " oppslag_id BIGINT NOT NULL PRIMARY KEY,"
    " tidspunkt TIMESTAMPTZ NOT NULL,"
    " personer VARCHAR(11)[] NOT NULL,"
    " kategorier SMALLINT[] NOT NULL,"
    " CHECK (array_position(personer, NULL) IS NULL AND array_position(kategorier, NULL) IS NULL"
    " AND cardinality(personer) = cardinality(kategorier)))",
    "ALTER TABLE oppslag_ufordelt SET (autovacuum_vacuum_scale_factor = 0,"
    " autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0,"
    " toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = 1000)",
]

SQLITE = [
    'CREATE TABLE oppslag_ufordelt ('
    ' "oppslag_id" INTEGER NOT NULL PRIMARY KEY,'
    ' "tidspunkt" TIMESTAMP NOT NULL,'
    ' "personer" TEXT NOT NULL,'
    ' "kategorier" TEXT NOT NULL,'
    ' CHECK (json_array_length("personer") = json_array_length("kategorier")))',
]


async def _kjoer(schema_editor, postgres, sqlite) -> None:
    if schema_editor.collect_sql:
        return
    conn = schema_editor.client
    for statement in postgres if conn.capabilities.dialect == "postgres" else sqlite:
        await conn.execute_script(statement)


async def fram(apps, schema_editor) -> None:
    await _kjoer(schema_editor, POSTGRES, SQLITE)


async def tilbake(apps, schema_editor) -> None:
    """Back: what is not filed yet is filed first, so no record is lost."""
    fil = [
        "INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)"
        " SELECT u.oppslag_id, p.pid, u.tidspunkt, p.k"
        " FROM oppslag_ufordelt u, unnest(u.personer, u.kategorier) AS p(pid, k)",
        "DROP TABLE oppslag_ufordelt",
    ]
    fil_sqlite = [
        "INSERT INTO oppslag_person (oppslag_id, personidentifikator, tidspunkt, kategorier)"
        " SELECT u.oppslag_id, p.value, u.tidspunkt, json_extract(u.kategorier, '$[' || p.key || ']')"
        " FROM oppslag_ufordelt u, json_each(u.personer) AS p",
        "DROP TABLE oppslag_ufordelt",
    ]
    await _kjoer(schema_editor, fil, fil_sqlite)


class Migration(migrations.Migration):
    dependencies = [('models', '0012_nokkeltall')]

    initial = False

    operations = [
        ops.RunPython(fram, tilbake),
    ]
