"""The key figures' running totals, kept by the database itself as persons are written.

Scanning five million persons takes seconds however it is written, so the figures are read
from two small tables that triggers on `person` keep in step, in the writer's own transaction
(no writer in the application knows of them, the seed's COPY and TRUNCATE included):

- `nokkeltall_person`: persons per (status, birth date, mailbox provider, has e-mail, has
  mobile, reserved): some hundred thousand rows at national scale, whatever its size.
- `nokkeltall_fersk`: active, unreserved persons per UTC day of their freshest contact
  information (§ 32: the later of updated/confirmed, the later of the two channels). The count
  that can be notified at `now` is the days after `frist(now)`'s day plus the persons of that
  one day past the cutoff, counted through an index on the same expression.

PostgreSQL: statement triggers with transition tables (a COPY of millions is one aggregate);
SQLite: row triggers. The expressions are built here from § 32's SQL (app.personer.paragraf32)
and the id's birth date (below), and migration 0012 keeps a frozen copy.
Upserts run in key order, and writers of persons already queue on the change counter.
"""

from __future__ import annotations

from app.personer import paragraf32
from authz.identifikatorer import D_NUMBER_DAY_OFFSET, SYNTHETIC_MONTH_OFFSET

NOKLER = ("status", "fodt", "leverandoer", "epost", "mobil", "reservert")
# The triggers adding and subtracting written rows: a bulk load may drop them for its writes
# and fill the tables once after it (fyll_sql) instead, as `krr seed` does.
TRIGGERE = ("nokkeltall_inn", "nokkeltall_ut", "nokkeltall_endre")
TABELLER = ("nokkeltall_person", "nokkeltall_fersk")


def foerste_ni(r: str = "p.") -> str:
    """The id's first nine digits as one integer (DDMMYYIII): a single text-to-number
    conversion per row; the parts below are integer arithmetic on it."""
    return f"CAST({r}personidentifikator AS BIGINT) / 100"


def birth_yyyymmdd(n: str) -> str:
    """SQL for the birth date as the integer YYYYMMDD from `n` (SQL for DDMMYYIII), or NULL
    where the individual number gives no century (authz.identifikatorer.birth_year). Day % 40 and
    month % 80 undo the D-number and synthetic offsets (valid days 1-31, months 1-12)."""
    yy, individual = f"({n} / 1000 % 100)", f"({n} % 1000)"
    century = (
        f"CASE WHEN {individual} < 500 THEN 1900"
        f" WHEN {individual} < 750 AND {yy} >= 54 THEN 1800"
        f" WHEN {yy} < 40 THEN 2000 WHEN {individual} >= 900 THEN 1900 END"
    )
    return (
        f"(({century}) + {yy}) * 10000 + ({n} / 100000 % 100 % {SYNTHETIC_MONTH_OFFSET}) * 100"
        f" + {n} / 10000000 % {D_NUMBER_DAY_OFFSET}"
    )


def _har(kolonne: str, r: str) -> str:
    return paragraf32.har_adresse_sql(kolonne, r)


def _fersk(kanal: str, r: str) -> str:
    return f"CASE WHEN {_har(kanal, r)} THEN {paragraf32.fersk_dato_sql(kanal, r)} END"


def ferskeste_sql(r: str = "") -> str:
    """The moment § 32 judges a person by: the later of the channels' fresh dates (NULL when
    no channel has an address and a date). Portable: CASE only (SQLite's max() is NULL-bound)."""
    e, m = _fersk("epostadresse", r), _fersk("mobiltelefonnummer", r)
    return (f"(CASE WHEN ({e}) IS NULL THEN ({m}) WHEN ({m}) IS NULL THEN ({e})"
            f" WHEN ({e}) >= ({m}) THEN ({e}) ELSE ({m}) END)")


def varslbar_sql(r: str = "") -> str:
    """Active and not reserved: the persons § 32's count is about."""
    return f"({r}status = 'AKTIV' AND NOT {r}reservasjon)"


def dag_sql(uttrykk: str, postgres: bool) -> str:
    """The UTC day of a stored moment (timestamptz, or SQLite's UTC text)."""
    return f"(({uttrykk}) AT TIME ZONE 'UTC')::date" if postgres else f"substr({uttrykk}, 1, 10)"


def nokler_sql(r: str) -> list[str]:
    """The key columns' expressions for a row `r` ("p.", "NEW.", ...); a birth date the id
    gives no century for is 0."""
    postkasse = (f"{_har('postkasseadresse', r)} AND {r}postkasseleverandoeradresse IS NOT NULL")
    return [
        f"{r}status",
        f"COALESCE({birth_yyyymmdd(foerste_ni(r))}, 0)",
        f"CASE WHEN {postkasse} THEN {r}postkasseleverandoeradresse ELSE '' END",
        f"CASE WHEN {_har('epostadresse', r)} THEN 1 ELSE 0 END",
        f"CASE WHEN {_har('mobiltelefonnummer', r)} THEN 1 ELSE 0 END",
        f"CASE WHEN {r}reservasjon THEN 1 ELSE 0 END",
    ]


# --- the tables, their triggers and their first filling (migration 0012's source) -------------

def _signerte(deler: list[tuple[str, int]], postgres: bool) -> tuple[str, str]:
    """SELECTs of one signed row (`d`) per person of each table in `deler` (alias r): their
    keys, and the fresh day of those § 32 counts."""
    nokler = ", ".join(f"{e} AS {n}" for e, n in zip(nokler_sql("r."), NOKLER, strict=True))
    ferskeste = ferskeste_sql("r.")
    return (
        " UNION ALL ".join(f"SELECT {nokler}, {d} AS d FROM {t} r" for t, d in deler),
        " UNION ALL ".join(
            f"SELECT {dag_sql(ferskeste, postgres)} AS dag, {d} AS d FROM {t} r"
            f" WHERE {varslbar_sql('r.')} AND {ferskeste} IS NOT NULL"
            for t, d in deler
        ),
    )


def summer_sql(deler: list[tuple[str, int]], postgres: bool) -> list[str]:
    """Upserts adding the signed persons of `deler` to both tables, in key order."""
    nokler, fersk = _signerte(deler, postgres)
    kolonner = ", ".join(NOKLER)
    return [
        f"INSERT INTO nokkeltall_person ({kolonner}, antall)"
        f" SELECT {kolonner}, sum(d) FROM ({nokler}) x"
        f" GROUP BY {kolonner} HAVING sum(d) <> 0 ORDER BY {kolonner}"
        f" ON CONFLICT ({kolonner}) DO UPDATE"
        " SET antall = nokkeltall_person.antall + EXCLUDED.antall",
        "INSERT INTO nokkeltall_fersk (dag, antall)"
        f" SELECT dag, sum(d) FROM ({fersk}) x GROUP BY dag HAVING sum(d) <> 0 ORDER BY dag"
        " ON CONFLICT (dag) DO UPDATE SET antall = nokkeltall_fersk.antall + EXCLUDED.antall",
    ]


def tabeller_sql(postgres: bool) -> list[str]:
    dag = "DATE" if postgres else "TEXT"
    return [
        "CREATE TABLE nokkeltall_person (status VARCHAR(10) NOT NULL, fodt INTEGER NOT NULL,"
        " leverandoer VARCHAR(9) NOT NULL, epost SMALLINT NOT NULL, mobil SMALLINT NOT NULL,"
        " reservert SMALLINT NOT NULL, antall BIGINT NOT NULL,"
        f" PRIMARY KEY ({', '.join(NOKLER)}))",
        f"CREATE TABLE nokkeltall_fersk (dag {dag} NOT NULL PRIMARY KEY, antall BIGINT NOT NULL)",
        # The persons of one day past the cutoff, counted without a scan.
        f"CREATE INDEX person_ferskeste_idx ON person ({ferskeste_sql()})"
        f" WHERE {varslbar_sql()}",
    ]


def triggere_sql(postgres: bool) -> list[str]:
    """The triggers keeping both tables in step with `person`."""
    if not postgres:
        def rad(r: str, d: int) -> list[str]:
            return [s.replace(f"FROM {r} r", "").replace("r.", f"{r}.")
                    for s in summer_sql([(r, d)], postgres=False)]
        return [
            f"CREATE TRIGGER nokkeltall_inn AFTER INSERT ON person BEGIN "
            f"{'; '.join(rad('NEW', 1))}; END",
            f"CREATE TRIGGER nokkeltall_ut AFTER DELETE ON person BEGIN "
            f"{'; '.join(rad('OLD', -1))}; END",
            f"CREATE TRIGGER nokkeltall_endre AFTER UPDATE ON person BEGIN "
            f"{'; '.join(rad('OLD', -1) + rad('NEW', 1))}; END",
        ]
    ut = []
    for navn, hendelse, referanser, deler in (
        ("inn", "INSERT", "NEW TABLE AS nye", [("nye", 1)]),
        ("ut", "DELETE", "OLD TABLE AS gamle", [("gamle", -1)]),
        ("endre", "UPDATE", "OLD TABLE AS gamle NEW TABLE AS nye", [("gamle", -1), ("nye", 1)]),
    ):
        kropp = "; ".join(summer_sql(deler, postgres=True))
        ut += [
            f"CREATE FUNCTION nokkeltall_{navn}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {kropp}; RETURN NULL; END $$",
            f"CREATE TRIGGER nokkeltall_{navn} AFTER {hendelse} ON person"
            f" REFERENCING {referanser} FOR EACH STATEMENT EXECUTE FUNCTION nokkeltall_{navn}()",
        ]
    return [
        *ut,
        "CREATE FUNCTION nokkeltall_tom() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN DELETE FROM nokkeltall_person; DELETE FROM nokkeltall_fersk; RETURN NULL;"
        " END $$",
        "CREATE TRIGGER nokkeltall_tom AFTER TRUNCATE ON person"
        " FOR EACH STATEMENT EXECUTE FUNCTION nokkeltall_tom()",
    ]


def fyll_sql(postgres: bool) -> list[str]:
    """Both tables from the persons there are (emptied first): the first filling, a repair."""
    return ["DELETE FROM nokkeltall_person", "DELETE FROM nokkeltall_fersk",
            *summer_sql([("person", 1)], postgres)]
