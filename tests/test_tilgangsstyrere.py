"""Access managers (tilgangsstyrere): the registry's storage and its rules, GraphQL for an
organisation's own token, and the operator's `krr tilgangsstyrer`."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import sqlite3

import pytest
from tortoise.exceptions import IntegrityError

from app.errors import BadInput
from app.tilgangsstyrere import store
from app.tilgangsstyrere.models import Tilgangsstyrer
from authz import avslag as reasons
from authz.identifikatorer import make_id
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import new_id
from tests.test_cli import krr
from tests.test_delegations import gql, refusal

ORG = CONSUMER  # 974760673, no name in the register
OTHER_ORG = "889640782"
DIGDIR = "991825827"  # named in the register
PID = "17912099997"  # a synthetic (Tenor) number
OTHER_PID = "24907999374"
FNR = make_id(dt.date(1985, 3, 14), 123, synthetic=False)  # an ordinary fødselsnummer
D_NUMBER = new_id(1, d_number=True)
LATER = FIXED_NOW + dt.timedelta(days=1)

BAD_ORGNRS = ["123456789", "97476067", " 974760673", "９７４７６０６７３"]
BAD_PIDS = ["1791209999", "17912099998", "1791209999x", "00000000000", "３１８１９１９８２５２"]


def refused(exc_info: pytest.ExceptionInfo[BadInput], reason: str) -> str:
    assert exc_info.value.extensions["reason"] == reason
    return exc_info.value.message


# --- storage ---------------------------------------------------------------------------------

async def test_adding_records_who_and_when(db):
    rolle = await store.legg_til(ORG, PID, "krr-cli:drift", FIXED_NOW)
    assert rolle == store.Rolle(ORG, PID, FIXED_NOW, "krr-cli:drift", None, None)
    assert rolle.aktiv


@pytest.mark.parametrize("pid", [PID, FNR, D_NUMBER], ids=["synthetic", "fnr", "d-number"])
async def test_any_valid_national_id_may_manage(db, pid):
    await store.legg_til(ORG, pid, "a", FIXED_NOW)
    assert await store.er_tilgangsstyrer(pid, ORG)


async def test_adding_an_active_manager_returns_the_active_role(db):
    first = await store.legg_til(ORG, PID, "first", FIXED_NOW)
    again = await store.legg_til(ORG, PID, "second", LATER)
    assert again == first  # the original adder and moment stay on record
    assert await Tilgangsstyrer.all().count() == 1


async def test_concurrent_adds_make_one_active_role(db):
    roller = await asyncio.gather(
        *(store.legg_til(ORG, PID, f"client-{n}", FIXED_NOW) for n in range(5))
    )
    assert len(set(roller)) == 1
    assert await Tilgangsstyrer.all().count() == 1


async def test_losing_the_insert_race_returns_the_winner(db, monkeypatch):
    """The read-then-insert window: the partial unique index refuses the second insert."""
    winner = await store.legg_til(ORG, PID, "first", FIXED_NOW)
    real_aktiv = store._aktiv
    calls = itertools.count()

    async def stale_first_read(*args):
        return None if next(calls) == 0 else await real_aktiv(*args)

    monkeypatch.setattr(store, "_aktiv", stale_first_read)
    loser = await store.legg_til(ORG, PID, "second", LATER)
    assert loser == winner
    assert await Tilgangsstyrer.all().count() == 1


async def test_the_database_allows_one_active_role_and_any_history(db):
    """The index itself, past the store: a second active row is refused, removed ones not."""
    values = {"orgnr": ORG, "pid": PID, "lagt_til": FIXED_NOW, "lagt_til_av": "a"}
    await Tilgangsstyrer.create(**values, fjernet=FIXED_NOW, fjernet_av="a")
    await Tilgangsstyrer.create(**values, fjernet=LATER, fjernet_av="a")
    await Tilgangsstyrer.create(**values)
    await Tilgangsstyrer.create(**values | {"orgnr": OTHER_ORG})
    await Tilgangsstyrer.create(**values | {"pid": OTHER_PID})
    with pytest.raises(IntegrityError):
        await Tilgangsstyrer.create(**values)


async def test_removing_keeps_the_record_and_adding_again_makes_a_new_one(db):
    await store.legg_til(ORG, PID, "adder", FIXED_NOW)
    removed = await store.fjern(ORG, PID, "remover", LATER)
    assert removed == store.Rolle(ORG, PID, FIXED_NOW, "adder", LATER, "remover")
    assert not removed.aktiv
    again = await store.legg_til(ORG, PID, "adder-2", LATER + dt.timedelta(hours=1))
    assert again.aktiv and again.lagt_til_av == "adder-2"
    history = await Tilgangsstyrer.filter(orgnr=ORG, pid=PID).order_by("id").values_list(
        "lagt_til_av", "fjernet_av"
    )
    assert history == [("adder", "remover"), ("adder-2", None)]


async def test_removing_a_role_that_is_not_active_is_refused(db):
    with pytest.raises(store.IkkeTilgangsstyrer) as never_added:
        await store.fjern(ORG, PID, "a", FIXED_NOW)
    message = refused(never_added, store.INGEN_AKTIV_ROLLE)
    assert ORG in message and PID not in message
    await store.legg_til(ORG, PID, "adder", FIXED_NOW)
    await store.fjern(ORG, PID, "first", LATER)
    with pytest.raises(store.IkkeTilgangsstyrer):
        await store.fjern(ORG, PID, "second", LATER)
    [row] = await Tilgangsstyrer.all()
    assert (row.fjernet, row.fjernet_av) == (LATER, "first")  # the first remover stays


async def test_concurrent_removals_one_wins(db):
    await store.legg_til(ORG, PID, "adder", FIXED_NOW)
    outcomes = await asyncio.gather(
        *(store.fjern(ORG, PID, f"remover-{n}", LATER) for n in range(3)),
        return_exceptions=True,
    )
    done = [o for o in outcomes if isinstance(o, store.Rolle)]
    assert len(done) == 1
    assert all(isinstance(o, store.IkkeTilgangsstyrer) for o in outcomes if o not in done)
    [row] = await Tilgangsstyrer.all()
    assert row.fjernet_av == done[0].fjernet_av


async def test_losing_the_removal_race_is_refused_and_the_first_remover_stays(db, monkeypatch):
    """The read-then-update window: the role was read active, then removed by another."""
    await store.legg_til(ORG, PID, "adder", FIXED_NOW)
    stale = await store._aktiv(ORG, PID)
    await store.fjern(ORG, PID, "first", LATER)

    async def stale_read(*args):
        return stale

    monkeypatch.setattr(store, "_aktiv", stale_read)
    with pytest.raises(store.IkkeTilgangsstyrer):
        await store.fjern(ORG, PID, "second", LATER + dt.timedelta(hours=1))
    [row] = await Tilgangsstyrer.all()
    assert (row.fjernet, row.fjernet_av) == (LATER, "first")


async def test_organisasjoner_for_and_er_tilgangsstyrer_follow_adds_and_removes_at_once(db):
    assert await store.organisasjoner_for(PID) == []
    assert not await store.er_tilgangsstyrer(PID, ORG)
    for orgnr in (ORG, DIGDIR, OTHER_ORG):
        await store.legg_til(orgnr, PID, "a", FIXED_NOW)
    await store.legg_til(ORG, OTHER_PID, "a", FIXED_NOW)
    assert await store.organisasjoner_for(PID) == sorted([ORG, DIGDIR, OTHER_ORG])
    assert await store.organisasjoner_for(OTHER_PID) == [ORG]
    assert await store.er_tilgangsstyrer(PID, DIGDIR)
    await store.fjern(DIGDIR, PID, "a", LATER)
    assert await store.organisasjoner_for(PID) == sorted([ORG, OTHER_ORG])
    assert not await store.er_tilgangsstyrer(PID, DIGDIR)
    assert not await store.er_tilgangsstyrer(OTHER_PID, DIGDIR)
    await store.legg_til(DIGDIR, PID, "a", LATER)
    assert await store.er_tilgangsstyrer(PID, DIGDIR)


async def test_liste_and_alle_hold_the_active_roles_longest_serving_first(db):
    await store.legg_til(ORG, OTHER_PID, "a", LATER)
    await store.legg_til(ORG, PID, "a", FIXED_NOW)
    await store.legg_til(DIGDIR, OTHER_PID, "a", FIXED_NOW)
    await store.legg_til(ORG, FNR, "a", FIXED_NOW)
    await store.fjern(ORG, FNR, "a", LATER)
    assert [r.pid for r in await store.liste(ORG)] == [PID, OTHER_PID]
    assert await store.liste(OTHER_ORG) == []
    assert [(r.orgnr, r.pid) for r in await store.alle()] == [
        (ORG, PID), (ORG, OTHER_PID), (DIGDIR, OTHER_PID)
    ]


@pytest.mark.parametrize("orgnr", BAD_ORGNRS)
async def test_a_bad_orgnr_is_refused_naming_it(db, orgnr):
    for call in (lambda: store.legg_til(orgnr, PID, "a", FIXED_NOW),
                 lambda: store.fjern(orgnr, PID, "a", FIXED_NOW),
                 lambda: store.liste(orgnr)):
        with pytest.raises(store.UgyldigRolle) as caught:
            await call()
        message = refused(caught, reasons.UGYLDIG_ORGNR)
        assert message.startswith(f"orgnr {orgnr!r} is not a valid organisation number")
    assert await Tilgangsstyrer.all().count() == 0


@pytest.mark.parametrize("pid", BAD_PIDS)
async def test_a_bad_pid_is_refused_naming_the_problem_not_the_id(db, pid):
    for call in (lambda: store.legg_til(ORG, pid, "a", FIXED_NOW),
                 lambda: store.fjern(ORG, pid, "a", FIXED_NOW)):
        with pytest.raises(store.UgyldigRolle) as caught:
            await call()
        message = refused(caught, store.UGYLDIG_PID)
        assert message.startswith("pid is not a valid national id")
        assert any(why in message for why in ("11 digits", "mod-11", "birth date"))
        assert pid not in message
    assert await Tilgangsstyrer.all().count() == 0


# --- GraphQL, for the organisation's own token ----------------------------------------------

ADMIN = "krr:admin/delegering.write"
VENDOR = "921627009"
STYRER = "pid lagtTil lagtTilAv fjernet fjernetAv aktiv"
LIST = f"{{ tilgangsstyrere {{ {STYRER} }} }}"
ADD = f"mutation($pid: String!) {{ leggTilTilgangsstyrer(pid: $pid) {{ {STYRER} }} }}"
REMOVE = f"mutation($pid: String!) {{ fjernTilgangsstyrer(pid: $pid) {{ {STYRER} }} }}"


async def answer(client, token, query, field, **variables):
    body = await gql(client, token, query, **variables)
    assert "errors" not in body, body
    return body["data"][field]


async def test_an_organisation_adds_lists_and_removes_its_managers(client, mint):
    admin = mint(ADMIN, pid=OTHER_PID)
    added = await answer(client, admin, ADD, "leggTilTilgangsstyrer", pid=PID)
    assert added == {"pid": PID, "lagtTil": FIXED_NOW.isoformat(), "lagtTilAv": OTHER_PID,
                     "fjernet": None, "fjernetAv": None, "aktiv": True}
    assert await store.er_tilgangsstyrer(PID, ORG)
    assert await answer(client, admin, LIST, "tilgangsstyrere") == [added]
    removed = await answer(client, mint(ADMIN), REMOVE, "fjernTilgangsstyrer", pid=PID)
    assert removed == added | {"fjernet": FIXED_NOW.isoformat(), "fjernetAv": "krr-dev-client",
                               "aktiv": False}
    assert not await store.er_tilgangsstyrer(PID, ORG)
    assert await answer(client, admin, LIST, "tilgangsstyrere") == []
    assert await Tilgangsstyrer.all().count() == 1  # the history stays


async def test_adding_an_active_manager_through_graphql_returns_the_active_role(client, mint):
    first = await answer(client, mint(ADMIN, pid=OTHER_PID), ADD, "leggTilTilgangsstyrer",
                         pid=PID)
    again = await answer(client, mint(ADMIN), ADD, "leggTilTilgangsstyrer", pid=PID)
    assert again == first and again["lagtTilAv"] == OTHER_PID
    assert await Tilgangsstyrer.all().count() == 1


async def test_an_organisation_sees_and_changes_only_its_own_managers(client, mint):
    await store.legg_til(DIGDIR, OTHER_PID, "krr-cli:drift", FIXED_NOW)
    await answer(client, mint(ADMIN), ADD, "leggTilTilgangsstyrer", pid=PID)
    assert [s["pid"] for s in await answer(client, mint(ADMIN), LIST, "tilgangsstyrere")] == [PID]
    digdir = mint(ADMIN, consumer=DIGDIR)
    assert await answer(client, digdir, LIST, "tilgangsstyrere") == [
        {"pid": OTHER_PID, "lagtTil": FIXED_NOW.isoformat(), "lagtTilAv": "krr-cli:drift",
         "fjernet": None, "fjernetAv": None, "aktiv": True}
    ]
    body = await gql(client, digdir, REMOVE, pid=PID)  # ORG's manager, not DIGDIR's
    refusal(body, "BAD_USER_INPUT", store.INGEN_AKTIV_ROLLE)
    assert await store.er_tilgangsstyrer(PID, ORG)


async def test_removing_a_manager_who_is_not_active_is_bad_input(client, mint):
    body = await gql(client, mint(ADMIN), REMOVE, pid=PID)
    err = refusal(body, "BAD_USER_INPUT", store.INGEN_AKTIV_ROLLE)
    assert err["message"] == f"pid is not an active access manager of {ORG}"


@pytest.mark.parametrize("query", [ADD, REMOVE])
@pytest.mark.parametrize("pid", BAD_PIDS[:3])
async def test_a_bad_pid_through_graphql_is_bad_input_naming_pid(client, mint, query, pid):
    body = await gql(client, mint(ADMIN), query, pid=pid)
    err = refusal(body, "BAD_USER_INPUT", store.UGYLDIG_PID)
    assert err["message"].startswith("pid is not a valid national id") and pid not in str(body)
    assert await Tilgangsstyrer.all().count() == 0


@pytest.mark.parametrize(
    ("scope", "token_kwargs", "reason"),
    [
        ("krr:global/kontaktinformasjon.read", {}, reasons.MANGLER_SCOPE),
        (ADMIN, {"supplier": VENDOR}, reasons.VIDEREDELEGERING),
        (ADMIN, {"consumer": None, "pid": PID}, reasons.FEIL_TOKENTYPE),
    ],
    ids=["no-admin-scope", "vendor", "resident"],
)
@pytest.mark.parametrize("query", [LIST, ADD, REMOVE], ids=["list", "add", "remove"])
async def test_only_the_organisations_own_admin_token_may_manage(
    client, mint, scope, token_kwargs, reason, query
):
    await store.legg_til(ORG, PID, "krr-cli:drift", FIXED_NOW)
    variables = {} if query == LIST else {"pid": OTHER_PID}
    body = await gql(client, mint(scope, **token_kwargs), query, **variables)
    refusal(body, "FORBIDDEN", reason)
    assert [(r.pid, r.lagt_til_av) for r in await store.alle()] == [(PID, "krr-cli:drift")]
    assert await Tilgangsstyrer.all().count() == 1


# --- krr tilgangsstyrer: the operator's tool -------------------------------------------------

def test_the_operator_adds_lists_and_removes_managers_in_prod(cli_env, tmp_path):
    env = cli_env | {"KRR_ENV": "prod", "LOGNAME": "drift", "USER": "drift"}
    added = krr(env, "tilgangsstyrer", "legg-til", DIGDIR, PID)
    assert added.stdout.startswith(f"{DIGDIR}: access manager added (since ")
    assert "added by krr-cli:drift" in added.stdout
    again = krr(env | {"LOGNAME": "andre", "USER": "andre"}, "tilgangsstyrer", "legg-til",
                DIGDIR, PID)
    assert again.stdout.startswith(f"{DIGDIR}: already an access manager (since ")
    assert "added by krr-cli:drift" in again.stdout
    krr(env, "tilgangsstyrer", "legg-til", ORG, D_NUMBER)

    table = krr(env, "tilgangsstyrer", "list").stdout
    rows = [line for line in table.splitlines() if PID in line or D_NUMBER in line]
    assert [row.split()[1] for row in rows] == [ORG, DIGDIR]  # by organisation
    assert "Digitaliseringsdirektoratet" in rows[1] and PID in rows[1]
    only = krr(env, "tilgangsstyrer", "list", DIGDIR).stdout
    assert PID in only and D_NUMBER not in only

    removed = krr(env, "tilgangsstyrer", "fjern", DIGDIR, PID)
    assert removed.stdout.startswith(f"{DIGDIR}: access manager removed")
    assert krr(env, "tilgangsstyrer", "list", DIGDIR).stdout == (
        f"no active access managers of {DIGDIR}\n"
    )
    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        history = conn.execute("SELECT orgnr, lagt_til_av, fjernet_av FROM tilgangsstyrer"
                               " ORDER BY id").fetchall()
    assert history == [(DIGDIR, "krr-cli:drift", "krr-cli:drift"), (ORG, "krr-cli:drift", None)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["legg-til", "123456789", PID], "orgnr '123456789' is not a valid organisation number"),
        (["legg-til", ORG, "17912099998"], "pid is not a valid national id"),
        (["fjern", ORG, "1791209999"], "pid is not a valid national id"),
        (["list", "97476067"], "orgnr '97476067' is not a valid organisation number"),
        (["fjern", ORG, PID], f"pid is not an active access manager of {ORG}"),
    ],
    ids=["bad-orgnr", "bad-pid", "short-pid", "list-bad-orgnr", "not-active"],
)
def test_the_operators_bad_input_is_exit_2_with_the_problem_named(cli_env, args, says):
    result = krr(cli_env, "tilgangsstyrer", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"krr tilgangsstyrer {args[0]}: {says}")
    assert result.stdout == ""
    assert args[0] == "list" or args[2] not in result.stderr  # a national id is never echoed


# --- no national id in any log line -----------------------------------------------------------

async def test_no_pid_reaches_a_log_line(client, mint, caplog):
    """Before the redacting filter, as written: the ids given, shown and refused are in no
    record's message, arguments or extras (DEBUG is tortoise's SQL trace, never on in prod)."""
    caplog.set_level(logging.INFO)
    admin = mint(ADMIN, pid=OTHER_PID)
    await answer(client, admin, ADD, "leggTilTilgangsstyrer", pid=PID)
    await answer(client, admin, LIST, "tilgangsstyrere")
    await answer(client, admin, REMOVE, "fjernTilgangsstyrer", pid=PID)
    await gql(client, admin, REMOVE, pid=PID)  # not active
    await gql(client, admin, ADD, pid="17912099998")  # fails mod-11
    await gql(client, mint(ADMIN, supplier=VENDOR, pid=OTHER_PID), ADD, pid=PID)  # refused
    assert caplog.records
    written = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "code=BAD_USER_INPUT" in written and "code=FORBIDDEN" in written
    for pid in (PID, OTHER_PID, "17912099998"):
        assert pid not in written
