"""The `krr` command as a newcomer uses it: migrate, seed, token, serve, export-schema."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess

import httpx
from graphql import build_schema

from authz.dev_issuer import DEFAULT_TTL, MAX_TTL
from tests.conftest import ROOT
from tests.servers import KRR, krr_serving
from tests.test_duplicates import AVVIK


def krr(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KRR, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=check
    )


def test_export_schema_matches_committed_sdl(cli_env):
    out = krr(cli_env, "export-schema").stdout
    assert out == (ROOT / "schema.graphql").read_text(), "run `make schema` and commit it"
    personer = build_schema(out).query_type.fields["personer"]
    assert str(personer.type) == "[Person!]!"
    assert str(personer.args["personidentifikatorer"].type) == "[String!]!"


def test_token_refuses_bad_input(cli_env):
    bad_org = krr(cli_env, "token", "--scope", "x", "--consumer", "123456789", check=False)
    assert bad_org.returncode == 2
    assert "123456789" in bad_org.stderr
    for ttl in ("0", str(MAX_TTL + 1)):
        bad_ttl = krr(cli_env, "token", "--scope", "x", "--consumer", "974760673", "--ttl", ttl,
                      check=False)
        assert bad_ttl.returncode == 2
        assert f"from 1 to {MAX_TTL} seconds" in bad_ttl.stderr


def test_token_help_shows_its_lifetime(cli_env):
    """A README reader exporting a token and trying the clients minutes later met 401s: how
    long a token lasts, and how long it may be made to last, is in `krr token --help`."""
    shown = " ".join(krr(cli_env, "token", "--help").stdout.split())
    assert f"lifetime in seconds: {DEFAULT_TTL} unless given, at most {MAX_TTL}" in shown
    token = krr(cli_env, "token", "--scope", "x", "--consumer", "974760673", "--ttl",
                str(MAX_TTL)).stdout.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == MAX_TTL


def test_token_and_seed_are_refused_in_prod(cli_env):
    prod = cli_env | {"KRR_ENV": "prod"}
    token = krr(prod, "token", "--scope", "x", "--consumer", "974760673", check=False)
    assert token.returncode == 2
    assert krr(prod, "seed", "--persons", "1", check=False).returncode == 2


def test_bad_environment_is_named(cli_env):
    result = krr(cli_env | {"KRR_ENV": "staging"}, "migrate", check=False)
    assert result.returncode == 2
    assert "KRR_ENV" in result.stderr
    result = krr(cli_env | {"KRR_DATABASE_URL": "mysql://x"}, "migrate", check=False)
    assert result.returncode == 2
    assert "KRR_DATABASE_URL" in result.stderr


def test_seed_serve_and_query_with_a_dev_token(cli_env):
    """The README's first steps: seed, serve, and the example query with a token from krr token."""
    krr(cli_env, "migrate")
    seeded = krr(cli_env, "seed", "--persons", "300", "--seed", "7")
    assert seeded.returncode == 0
    token = krr(
        cli_env, "token", "--scope",
        "krr:global/kontaktinformasjon.read krr:global/digitalpost.read",
        "--consumer", "974760673",
    ).stdout.strip()
    with krr_serving(cli_env) as base:
        url = f"{base}/graphql"
        query = """query { personer(personidentifikatorer: ["17912099997", "31819198252"]) {
            personidentifikator status varslingsstatus
            kontaktinformasjon { epostadresse mobiltelefonnummer }
            digitalPost { postkasseadresse postkasseleverandoeradresse } } }"""
        response = httpx.post(url, json={"query": query},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text
        kjell, unknown = response.json()["data"]["personer"]
        assert kjell["status"] == "AKTIV"
        assert kjell["varslingsstatus"] == "KAN_VARSLES"
        assert kjell["kontaktinformasjon"] == {"epostadresse": "kjell@test.no",
                                               "mobiltelefonnummer": "+4798765432"}
        assert kjell["digitalPost"] == {"postkasseadresse": "kjell#digipost",
                                        "postkasseleverandoeradresse": "984661185"}
        assert unknown["status"] == "IKKE_REGISTRERT"
        no_token = httpx.post(url, json={"query": query}, timeout=10)
        assert no_token.status_code == 401


def test_oppdater_duplikater_repairs_flags_left_stale(cli_env, tmp_path):
    """After writes that did not keep the flags (a previous release during a rolling upgrade),
    the command makes every stored flag what the rule says."""

    krr(cli_env, "migrate")
    krr(cli_env, "seed", "--persons", "300", "--seed", "7")
    path = tmp_path / "cli.sqlite3"
    rule = f"SELECT COUNT(*) FROM ({AVVIK}) avvik"
    with sqlite3.connect(path) as conn:
        assert conn.execute(rule).fetchone()[0] == 0
        # an old instance moves two persons onto one address, and a third off an address it
        # shared (its flag, true then, stays true)
        ids = [r[0] for r in conn.execute(
            "SELECT personidentifikator FROM person WHERE status = 'AKTIV' AND NOT"
            " epostadresse_duplisert AND epostadresse IS NOT NULL ORDER BY 1 LIMIT 3")]
        conn.execute("UPDATE person SET epostadresse = 'gammel@example.no'"
                     f" WHERE personidentifikator IN ('{ids[0]}', '{ids[1]}')")
        conn.execute("UPDATE person SET epostadresse = 'egen@example.no',"
                     f" epostadresse_duplisert = 1 WHERE personidentifikator = '{ids[2]}'")
        assert conn.execute(rule).fetchone()[0] >= 3
    done = krr(cli_env, "oppdater-duplikater")
    assert "recomputed" in done.stdout
    with sqlite3.connect(path) as conn:
        assert conn.execute(rule).fetchone()[0] == 0
