"""The audit log in a cheaper shape (issue 16): writing 1000 person rows cost as much as
fetching the 1000 persons, a third of it the foreign key's trigger, the rest three indexes.

- `oppslag_person` loses its own id and its foreign key: a person row is (oppslag_id,
  personidentifikator, tidspunkt, kategorier); its one index is (personidentifikator,
  tidspunkt, oppslag_id) for "who looked me up", which pages over (tidspunkt, oppslag_id).
- PostgreSQL: both tables are partitioned by RANGE (tidspunkt), one partition per UTC month, so
  retention detaches and drops whole months instead of deleting rows; `oppslag`'s primary key
  becomes (id, tidspunkt), as a partitioned table's key must hold the partition key; the id
  sequence carries on. A BRIN index on the person rows' time lets retention trim the oldest
  month it keeps in part.
- SQLite: `oppslag` stays; `oppslag_person` is rebuilt without id and foreign key, keeping its
  index on oppslag_id (retention deletes by request there, in batches).

Existing rows are copied, in the same transaction. On a large log this takes a while (it was not
measured at millions of rows): run it in a quiet hour (see
docs/deployment.md). The DDL below is a frozen copy of app.revisjon.partisjoner's.
"""

import datetime as dt

from tortoise import migrations
from tortoise.migrations import operations as ops

MAANEDER_FRAMOVER = 3

PG_OPPSLAG = """CREATE TABLE oppslag (
    id BIGINT NOT NULL DEFAULT nextval('oppslag_id_seq'),
    tidspunkt TIMESTAMPTZ NOT NULL,
    dag DATE NOT NULL,
    request_id VARCHAR(64) NOT NULL,
    consumer VARCHAR(9) NOT NULL,
    supplier VARCHAR(9),
    actor VARCHAR(200),
    scopes TEXT NOT NULL,
    varslingsstatus BOOLEAN NOT NULL,
    antall INT NOT NULL,
    PRIMARY KEY (id, tidspunkt)
) PARTITION BY RANGE (tidspunkt)"""

PG_OPPSLAG_PERSON = """CREATE TABLE oppslag_person (
    oppslag_id BIGINT NOT NULL,
    personidentifikator VARCHAR(11) NOT NULL,
    tidspunkt TIMESTAMPTZ NOT NULL,
    kategorier SMALLINT NOT NULL
) PARTITION BY RANGE (tidspunkt)"""

PG_INDEKSER = [
    "CREATE INDEX oppslag_consumer_dag_idx ON oppslag (consumer, dag)",
    "CREATE INDEX oppslag_supplier_dag_idx ON oppslag (supplier, dag)",
    "CREATE INDEX oppslag_tidspunkt_idx ON oppslag (tidspunkt)",
    "CREATE INDEX oppslag_person_pid_idx ON oppslag_person"
    " (personidentifikator, tidspunkt, oppslag_id)",
    "CREATE INDEX oppslag_person_tidspunkt_brin ON oppslag_person USING brin (tidspunkt)",
]

OPPSLAG_KOLONNER = ("id, tidspunkt, dag, request_id, consumer, supplier, actor, scopes,"
                    " varslingsstatus, antall")
PERSON_KOLONNER = "oppslag_id, personidentifikator, tidspunkt, kategorier"

SQLITE_OPPSLAG_PERSON = """CREATE TABLE oppslag_person (
    "oppslag_id" BIGINT NOT NULL,
    "personidentifikator" VARCHAR(11) NOT NULL,
    "tidspunkt" TIMESTAMP NOT NULL  /* copied from the request, for per-person order */,
    "kategorier" SMALLINT NOT NULL  /* bits: 1 grunndata, 2 kontakt, 4 digital post */
)"""


def _maaned(moment: dt.datetime) -> dt.date:
    utc = moment.astimezone(dt.UTC)
    return dt.date(utc.year, utc.month, 1)


def _neste(m: dt.date) -> dt.date:
    return dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)


def _partisjoner(m: dt.date) -> list[str]:
    fra = dt.datetime(m.year, m.month, 1, tzinfo=dt.UTC).isoformat(" ")
    n = _neste(m)
    til = dt.datetime(n.year, n.month, 1, tzinfo=dt.UTC).isoformat(" ")
    return [
        f"CREATE TABLE {t}_p{m:%Y%m} PARTITION OF {t} FOR VALUES FROM ('{fra}') TO ('{til}')"
        for t in ("oppslag", "oppslag_person")
    ]


async def _postgres(conn) -> None:
    _, [(eldste,)] = await conn.execute_query("SELECT min(tidspunkt) FROM oppslag")
    naa = dt.datetime.now(dt.UTC)
    m, siste = _maaned(eldste or naa), _maaned(naa)
    for _ in range(MAANEDER_FRAMOVER):
        siste = _neste(siste)
    _, [(nyeste,)] = await conn.execute_query("SELECT max(tidspunkt) FROM oppslag")
    if nyeste is not None:
        siste = max(siste, _maaned(nyeste))

    for statement in [
        "ALTER TABLE oppslag_person DROP CONSTRAINT IF EXISTS oppslag_person_oppslag_id_fkey",
        "ALTER TABLE oppslag RENAME TO oppslag_0010",
        "ALTER TABLE oppslag_0010 RENAME CONSTRAINT oppslag_pkey TO oppslag_0010_pkey",
        "ALTER TABLE oppslag_person RENAME TO oppslag_person_0010",
        "DROP INDEX oppslag_consumer_dag_idx, oppslag_supplier_dag_idx, oppslag_tidspunkt_idx,"
        " oppslag_person_pid_idx, oppslag_person_oppslag_idx",
        PG_OPPSLAG,
        "ALTER SEQUENCE oppslag_id_seq OWNED BY oppslag.id",
        PG_OPPSLAG_PERSON,
        *PG_INDEKSER,
    ]:
        await conn.execute_script(statement)
    while m <= siste:
        for statement in _partisjoner(m):
            await conn.execute_script(statement)
        m = _neste(m)
    await conn.execute_script(
        f"INSERT INTO oppslag ({OPPSLAG_KOLONNER}) SELECT {OPPSLAG_KOLONNER} FROM oppslag_0010"
    )
    await conn.execute_script(
        f"INSERT INTO oppslag_person ({PERSON_KOLONNER})"
        f" SELECT {PERSON_KOLONNER} FROM oppslag_person_0010"
    )
    # Ids come from the sequence: at least past every id there is (a partitioned key must hold
    # the month, so the database no longer refuses an id used in another month).
    await conn.execute_script(
        "SELECT setval('oppslag_id_seq', GREATEST((SELECT coalesce(max(id), 1) FROM oppslag),"
        " (SELECT last_value FROM oppslag_id_seq)))"
    )
    await conn.execute_script("DROP TABLE oppslag_person_0010, oppslag_0010")


async def _sqlite(conn) -> None:
    for statement in [
        SQLITE_OPPSLAG_PERSON.replace("TABLE oppslag_person", "TABLE oppslag_person_ny"),
        f"INSERT INTO oppslag_person_ny ({PERSON_KOLONNER})"
        f" SELECT {PERSON_KOLONNER} FROM oppslag_person",
        "DROP TABLE oppslag_person",
        "ALTER TABLE oppslag_person_ny RENAME TO oppslag_person",
        "CREATE INDEX oppslag_person_pid_idx ON oppslag_person"
        " (personidentifikator, tidspunkt, oppslag_id)",
        "CREATE INDEX oppslag_person_oppslag_idx ON oppslag_person (oppslag_id)",
    ]:
        await conn.execute_script(statement)


async def ny_form(apps, schema_editor) -> None:
    if schema_editor.collect_sql:  # sqlmigrate: the statements depend on the data
        return
    conn = schema_editor.client
    if conn.capabilities.dialect == "postgres":
        await _postgres(conn)
    else:
        await _sqlite(conn)


class GlemModell(ops.DeleteModel):
    """The model leaves tortoise's state only: its table was rebuilt above by hand, and is read
    and written with SQL (app.revisjon.store)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0010_innlogging_okt')]

    initial = False

    operations = [
        ops.RunPython(ny_form),
        GlemModell('OppslagPerson'),
    ]
