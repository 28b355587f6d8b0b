"""The `personer` query over HTTP: data per scope, § 32 filtering, bad input, one round trip."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from app.personer import register
from app.personer.models import Registerstatus
from app.revisjon.models import Oppslag
from tests.conftest import FIXED_NOW
from tests.factories import CERT, DIGIPOST, months_ago, new_id, person, provider

KONTAKT = "krr:global/kontaktinformasjon.read"
POST = "krr:global/digitalpost.read"
BOTH = f"{KONTAKT} {POST}"
UNKNOWN = "31819198252"

ALL_FIELDS = """
  personidentifikator status reservasjon reservasjonstidspunkt reservasjonOppdatert
  varslingsstatus spraak spraakOppdatert sertifikat
  digitalPost { postkasseadresse postkasseleverandoeradresse }
  kontaktinformasjon {
    epostadresse epostadresseOppdatert epostadresseSistVerifisert epostadresseSistValidert
    epostadresseDuplisert
    mobiltelefonnummer mobiltelefonnummerOppdatert mobiltelefonnummerSistVerifisert
    mobiltelefonnummerSistValidert mobiltelefonnummerDuplisert
  }
"""
NO_VARSLING = ALL_FIELDS.replace("varslingsstatus", "")


async def lookup(client, token, ids, fields=ALL_FIELDS, variables=None, query=None):
    query = query or (
        f"query($ids: [String!]!) {{ personer(personidentifikatorer: $ids) {{ {fields} }} }}"
    )
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": {"ids": ids, **(variables or {})}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def iso(moment):
    return moment.isoformat()


async def test_fresh_person_with_mailbox_gets_everything(client, mint):
    await provider()
    pid = new_id(0)
    await person(pid, epost="kjell@test.no", mobil="+4798765432",
                 postkasseadresse="kjell#digipost", postkasseleverandoer_id=DIGIPOST)
    body = await lookup(client, mint(BOTH), [pid])
    assert "errors" not in body
    [p] = body["data"]["personer"]
    assert p["personidentifikator"] == pid
    assert p["status"] == "AKTIV"
    assert p["reservasjon"] == "NEI"
    assert p["reservasjonstidspunkt"] is None
    assert p["reservasjonOppdatert"] == iso(months_ago(30))
    assert p["varslingsstatus"] == "KAN_VARSLES"
    assert p["spraak"] == "nb"
    assert p["digitalPost"] == {"postkasseadresse": "kjell#digipost",
                                "postkasseleverandoeradresse": DIGIPOST}
    assert p["sertifikat"] == CERT
    k = p["kontaktinformasjon"]
    assert k["epostadresse"] == "kjell@test.no"
    assert k["epostadresseSistVerifisert"] == iso(months_ago(1))
    assert k["epostadresseOppdatert"] == iso(months_ago(7))
    assert k["mobiltelefonnummer"] == "+4798765432"
    assert k["mobiltelefonnummerSistValidert"] == iso(months_ago(1))
    assert k["epostadresseDuplisert"] == "NEI"
    assert k["mobiltelefonnummerDuplisert"] == "NEI"


async def test_one_entry_per_distinct_id_in_the_order_asked(client, mint):
    a, b = new_id(1), new_id(2)
    await person(a, epost="a@example.no", mobil="+4790000001")
    await person(b, epost="b@example.no", mobil="+4790000002")
    body = await lookup(client, mint(BOTH), [b, UNKNOWN, a, b], "personidentifikator status")
    assert body["data"]["personer"] == [
        {"personidentifikator": b, "status": "AKTIV"},
        {"personidentifikator": UNKNOWN, "status": "IKKE_REGISTRERT"},
        {"personidentifikator": a, "status": "AKTIV"},
    ]


async def test_deleted_and_unregistered_persons_give_only_id_status_and_varslingsstatus(
    client, mint
):
    await provider()
    deleted = new_id(3)
    await person(deleted, status=Registerstatus.SLETTET, epost=None, mobil=None)
    body = await lookup(client, mint(BOTH), [UNKNOWN, deleted])
    assert "errors" not in body
    unknown, slettet = body["data"]["personer"]
    empty = {k: None for k in ("reservasjonstidspunkt", "reservasjonOppdatert", "spraak",
                               "spraakOppdatert", "sertifikat", "digitalPost",
                               "kontaktinformasjon")}
    assert unknown == {"personidentifikator": UNKNOWN, "status": "IKKE_REGISTRERT",
                       "reservasjon": None, "varslingsstatus": "KAN_IKKE_VARSLES", **empty}
    assert slettet == {"personidentifikator": deleted, "status": "SLETTET",
                       "reservasjon": None, "varslingsstatus": "KAN_IKKE_VARSLES", **empty}


async def test_deleted_person_keeps_nothing_even_if_rows_linger(client, mint):
    """A SLETTET row that still holds addresses (e.g. mid-migration) discloses none of them."""
    deleted = new_id(4)
    await person(deleted, status=Registerstatus.SLETTET)
    body = await lookup(client, mint(BOTH), [deleted], NO_VARSLING)
    [p] = body["data"]["personer"]
    assert p["kontaktinformasjon"] is None
    assert p["spraak"] is None


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "bad",
    [["12345"], ["17912099998"], ["1791209999a"], ["17912099997", "17912099998", "123"]],
)
async def test_invalid_ids_are_named_and_nothing_is_returned(client, mint, bad):
    body = await lookup(client, mint(BOTH), bad)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    offending = [i for i in bad if i != "17912099997"]
    assert error["extensions"]["ugyldigePersonidentifikatorer"] == offending
    for i in offending:
        assert i in error["message"]
    assert "17912099997" not in error["extensions"]["ugyldigePersonidentifikatorer"]


async def test_empty_list_is_refused(client, mint):
    body = await lookup(client, mint(BOTH), [])
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at least one" in body["errors"][0]["message"]


async def test_more_than_1000_ids_are_refused(client, mint):
    ids = [new_id(i) for i in range(1001)]
    body = await lookup(client, mint(BOTH), ids, "status")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1001" in body["errors"][0]["message"]


async def test_1000_persons_are_read_with_one_sql_statement(client, mint, monkeypatch):
    ids = [new_id(i) for i in range(1000)]
    for i in ids[:5]:
        await person(i, epost=f"{i}@example.no", mobil=None)
    statements: list[str] = []
    conn = register.db.connection()
    original = conn.execute_query

    async def execute_query(sql, values=None):
        statements.append(sql)
        return await original(sql, values)

    monkeypatch.setattr(conn, "execute_query", execute_query)
    body = await lookup(client, mint(BOTH), ids)
    assert len(body["data"]["personer"]) == 1000
    assert sum(p["status"] == "AKTIV" for p in body["data"]["personer"]) == 5
    # One statement reads the persons; the only other one is the audit record.
    reads = [sql for sql in statements if "FROM person" in sql]
    assert len(reads) == 1


# --- scopes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("scopes", ["", "openid", "krr:global/hentendring.read",
                                    "krr:user/kontaktinformasjon.read"])
async def test_a_token_minted_for_another_api_reads_nothing(client, mint, scopes):
    """Issue 12.18: no lookup scope, no person data, not even id, status and reservation."""
    pid = new_id(5)
    await person(pid)
    body = await lookup(client, mint(scopes), [pid])
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["reason"] == "MANGLER_SCOPE"
    assert KONTAKT in error["extensions"]["scope"] and POST in error["extensions"]["scope"]
    assert await Oppslag.all().count() == 0


async def test_with_the_mailbox_scope_alone_the_contact_fields_are_withheld(client, mint):
    await provider()
    pids = [new_id(5), new_id(6), new_id(7)]
    for n, pid in enumerate(pids):
        await person(pid, epost=f"p{n}@example.no", mobil=f"+479000001{n}")
    body = await lookup(client, mint(POST), pids)
    assert [p["status"] for p in body["data"]["personer"]] == ["AKTIV"] * 3
    for p in body["data"]["personer"]:
        assert p["reservasjon"] == "NEI"
        for withheld in ("varslingsstatus", "kontaktinformasjon", "spraak", "spraakOppdatert"):
            assert p[withheld] is None
    errors = body["errors"]
    # One error per withheld field, not one per person.
    assert sorted(e["extensions"]["field"] for e in errors) == sorted(
        ["varslingsstatus", "kontaktinformasjon", "spraak", "spraakOppdatert"]
    )
    for e in errors:
        assert e["extensions"]["code"] == "FORBIDDEN"
        assert e["extensions"]["scope"] == KONTAKT
        assert KONTAKT in e["message"]


async def test_contact_scope_alone_withholds_the_mailbox(client, mint):
    await provider()
    pid = new_id(8)
    await person(pid, postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    body = await lookup(client, mint(KONTAKT), [pid])
    [p] = body["data"]["personer"]
    assert p["kontaktinformasjon"]["epostadresse"] == "kari@example.no"
    assert p["varslingsstatus"] == "KAN_VARSLES"
    assert p["digitalPost"] is None and p["sertifikat"] is None
    assert sorted(e["extensions"]["field"] for e in body["errors"]) == ["digitalPost", "sertifikat"]
    assert {e["extensions"]["scope"] for e in body["errors"]} == {POST}


async def test_mailbox_scope_alone_withholds_contact_information(client, mint):
    await provider()
    pid = new_id(9)
    await person(pid, postkasseadresse="x#digipost", postkasseleverandoer_id=DIGIPOST)
    body = await lookup(client, mint(POST), [pid], NO_VARSLING)
    [p] = body["data"]["personer"]
    assert p["digitalPost"]["postkasseadresse"] == "x#digipost"
    assert p["sertifikat"] == CERT
    assert p["kontaktinformasjon"] is None and p["spraak"] is None
    assert {e["extensions"]["scope"] for e in body["errors"]} == {KONTAKT}


async def test_delegated_scope_names_do_not_count_without_supplier(client, mint):
    pid = new_id(10)
    await person(pid)
    token = mint("krr:global/kontaktinfo.read")
    body = await lookup(client, token, [pid], "kontaktinformasjon { epostadresse }")
    assert body["data"] is None  # no lookup scope at all, so nothing (issue 12.18)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    token = mint(f"krr:global/kontaktinfo.read {POST}")
    body = await lookup(client, token, [pid], "kontaktinformasjon { epostadresse }")
    assert body["data"]["personer"][0]["kontaktinformasjon"] is None
    assert body["errors"][0]["extensions"]["scope"] == KONTAKT


async def test_unselected_forbidden_fields_raise_no_error(client, mint):
    pid = new_id(11)
    await person(pid)
    fields = "status kontaktinformasjon { mobiltelefonnummer }"
    body = await lookup(client, mint(KONTAKT), [pid], fields)
    assert "errors" not in body


# --- § 32 ------------------------------------------------------------------------------------

async def _register_mix():
    await provider()
    ids = {
        "fresh": new_id(20),
        "email_expired": new_id(21),
        "both_expired": new_id(22),
        "reserved": new_id(23),
    }
    mailbox = {"postkasseadresse": "m#digipost", "postkasseleverandoer_id": DIGIPOST}
    await person(ids["fresh"], epost="f@example.no", mobil="+4790000020", **mailbox)
    await person(ids["email_expired"], epost="e@example.no", epost_alder=19,
                 mobil="+4790000021", **mailbox)
    await person(ids["both_expired"], epost="b@example.no", epost_alder=20,
                 mobil="+4790000022", mobil_alder=20, **mailbox)
    await person(ids["reserved"], epost="r@example.no", mobil="+4790000023",
                 reservasjon=True, reservasjonstidspunkt=months_ago(2), **mailbox)
    return ids


async def test_asking_for_varslingsstatus_filters_per_paragraph_32(client, mint):
    ids = await _register_mix()
    body = await lookup(client, mint(BOTH), list(ids.values()))
    assert "errors" not in body
    fresh, email_expired, both_expired, reserved = body["data"]["personer"]

    assert fresh["varslingsstatus"] == "KAN_VARSLES"
    assert fresh["kontaktinformasjon"]["epostadresse"] == "f@example.no"
    assert fresh["digitalPost"] is not None

    assert email_expired["varslingsstatus"] == "KAN_VARSLES"
    k = email_expired["kontaktinformasjon"]
    assert k["epostadresse"] is None and k["epostadresseOppdatert"] is None
    assert k["epostadresseSistVerifisert"] is None and k["epostadresseDuplisert"] is None
    assert k["mobiltelefonnummer"] == "+4790000021"
    assert email_expired["digitalPost"] is not None

    assert both_expired["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert both_expired["kontaktinformasjon"] is None
    assert both_expired["digitalPost"] is None and both_expired["sertifikat"] is None

    # Reserved: not notifiable, yet its fresh contact information is handed out; the mailbox
    # never is.
    assert reserved["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert reserved["kontaktinformasjon"]["epostadresse"] == "r@example.no"
    assert reserved["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000023"
    assert reserved["digitalPost"] is None and reserved["sertifikat"] is None
    assert reserved["reservasjon"] == "JA"
    assert reserved["reservasjonstidspunkt"] == iso(months_ago(2))


async def test_without_varslingsstatus_expired_information_is_still_given(client, mint):
    ids = await _register_mix()
    body = await lookup(client, mint(BOTH), list(ids.values()), NO_VARSLING)
    _fresh, email_expired, both_expired, reserved = body["data"]["personer"]
    assert email_expired["kontaktinformasjon"]["epostadresse"] == "e@example.no"
    assert both_expired["kontaktinformasjon"]["epostadresse"] == "b@example.no"
    assert both_expired["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000022"
    assert both_expired["digitalPost"]["postkasseadresse"] == "m#digipost"
    assert reserved["kontaktinformasjon"]["epostadresse"] == "r@example.no"


async def test_varslingsstatus_in_a_fragment_or_alias_still_filters(client, mint):
    ids = await _register_mix()
    query = """
      query($ids: [String!]!) {
        personer(personidentifikatorer: $ids) { ...P }
      }
      fragment P on Person {
        ... on Person { kanVarsles: varslingsstatus }
        epost: kontaktinformasjon { adresse: epostadresse }
      }"""
    body = await lookup(client, mint(BOTH), [ids["both_expired"]], query=query)
    assert body["data"]["personer"] == [{"kanVarsles": "KAN_IKKE_VARSLES", "epost": None}]


@pytest.mark.parametrize(("directive", "filtered"), [
    ("@skip(if: $flag)", False), ("@include(if: $flag)", True),
])
async def test_skipped_varslingsstatus_does_not_filter(client, mint, directive, filtered):
    ids = await _register_mix()
    query = f"""
      query($ids: [String!]!, $flag: Boolean!) {{
        personer(personidentifikatorer: $ids) {{
          varslingsstatus {directive}
          kontaktinformasjon {{ epostadresse }}
        }}
      }}"""
    body = await lookup(client, mint(BOTH), [ids["both_expired"]], query=query,
                        variables={"flag": True})
    [p] = body["data"]["personer"]
    assert (p["kontaktinformasjon"] is None) is filtered


async def test_the_clock_decides_expiry(client, mint):
    """One day before the 18 months are up the mobile is fresh, one day after it is not."""
    pid, pid2 = new_id(30), new_id(31)
    await person(pid, epost=None, mobil="+4790000030", mobil_alder=18,
                 mobiltelefonnummer_sist_verifisert=FIXED_NOW.replace(year=2024, month=12, day=16))
    await person(pid2, epost=None, mobil="+4790000031", mobil_alder=18,
                 mobiltelefonnummer_sist_verifisert=FIXED_NOW.replace(year=2024, month=12, day=14))
    body = await lookup(client, mint(KONTAKT), [pid, pid2], "varslingsstatus")
    assert [p["varslingsstatus"] for p in body["data"]["personer"]] == [
        "KAN_VARSLES", "KAN_IKKE_VARSLES"]


# --- duplicates ------------------------------------------------------------------------------

async def test_shared_addresses_are_flagged_only_against_active_persons(client, mint):
    a, b, c, d = new_id(40), new_id(41), new_id(42), new_id(43)
    await person(a, epost="alone@example.no", mobil="+4799999999")
    await person(b, epost="shared-with-deleted@example.no", mobil="+4799999999")
    await person(c, epost="shared-with-deleted@example.no", mobil=None,
                 status=Registerstatus.SLETTET)
    await person(d, epost="alone2@example.no", mobil="+4791111111")
    fields = "kontaktinformasjon { epostadresseDuplisert mobiltelefonnummerDuplisert }"
    body = await lookup(client, mint(KONTAKT), [a, b, d], fields)
    flags = [(p["kontaktinformasjon"]["epostadresseDuplisert"],
              p["kontaktinformasjon"]["mobiltelefonnummerDuplisert"])
             for p in body["data"]["personer"]]
    assert flags == [("NEI", "JA"), ("NEI", "JA"), ("NEI", "NEI")]


async def test_graphql_dates_keep_one_documented_format_utc_rfc_3339(client, mint):
    """GraphQL's DateTime stays UTC (REST's Oslo form is for the real register's clients), in
    the one form its scalar's description gives."""
    pid = new_id(91)
    await provider()
    await person(pid, epostadresse_oppdatert=dt.datetime(2026, 6, 15, 8, 30, 5, tzinfo=dt.UTC),
                 epostadresse_sist_verifisert=dt.datetime(2026, 1, 15, 8, 30, 5, 250000,
                                                          tzinfo=dt.UTC))
    [p] = (await lookup(client, mint(BOTH), [pid]))["data"]["personer"]
    k = p["kontaktinformasjon"]
    assert k["epostadresseOppdatert"] == "2026-06-15T08:30:05+00:00"
    assert k["epostadresseSistVerifisert"] == "2026-01-15T08:30:05.250000+00:00"
    for dato in (p["reservasjonOppdatert"], k["mobiltelefonnummerOppdatert"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", dato)
    sdl = Path(__file__).parent.parent.joinpath("schema.graphql").read_text()
    assert "scalar DateTime" in sdl and "RFC 3339 in UTC" in sdl
