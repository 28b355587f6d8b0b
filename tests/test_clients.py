"""The clients the README shows (its "Clients" section), each run against a live `krr serve`:
Python gql, graphql-request, urql (POST), urql and Apollo Client 4 with automatic persisted
queries, and Apollo Client 4 reading a refusal's code. The README holds each snippet verbatim,
and names the versions tests/clients/package.json pins, so what it shows is what ran."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import CONSUMER, ROOT
from tests.servers import krr_serving
from tests.test_cli import krr

CLIENTS = ROOT / "tests" / "clients"
SNIPPETS = ["gql_klient.py", "graphql-request.mjs", "urql.mjs", "urql-persisted.mjs",
            "apollo.mjs"]
# The JavaScript clients the README names with their versions.
PACKAGES = ["graphql-request", "@urql/core", "@urql/exchange-persisted", "@apollo/client"]
EXPECTED = {"personer": [
    {"personidentifikator": "17912099997", "varslingsstatus": "KAN_VARSLES"},
    {"personidentifikator": "24907999374", "varslingsstatus": "KAN_VARSLES"},
]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("clients")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRR_")}
    env |= {"KRR_ENV": "dev", "KRR_VAR_DIR": str(tmp / "var"),
            "KRR_DATABASE_URL": f"sqlite:///{tmp / 'clients.sqlite3'}", "PYTHONPATH": str(ROOT)}
    krr(env, "migrate")
    krr(env, "seed", "--persons", "10")
    token = krr(env, "token", "--consumer", CONSUMER, "--scope",
                "krr:global/kontaktinformasjon.read").stdout.strip()
    with krr_serving(env) as base:
        yield env | {"KRR_URL": base, "KRR_TOKEN": token}


def _run(snippet: str, env: dict[str, str]) -> list[dict]:
    if snippet.endswith(".py"):
        command = [sys.executable, str(CLIENTS / snippet)]
    else:
        node = shutil.which("node")
        if node is None or not (CLIENTS / "node_modules").is_dir():
            pytest.fail("node and tests/clients/node_modules are needed: run `make test`")
        command = [node, str(CLIENTS / snippet)]
    done = subprocess.run(command, env=env, cwd=CLIENTS, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_the_client_is_served(live, snippet):
    answers = _run(snippet, live)
    assert answers
    for answer in answers:
        for person in answer["personer"]:
            person.pop("__typename", None)  # urql and Apollo ask for it
        assert answer == EXPECTED


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_the_readme_shows_the_snippet_that_ran(snippet):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (CLIENTS / snippet).read_text(encoding="utf-8").strip() in readme, (
        f"README's Clients section must hold tests/clients/{snippet} verbatim")


def test_the_readme_names_the_client_versions_the_suite_runs():
    """The README's Apollo example needs Apollo Client 4 (3.x has other imports and answers):
    it names the version of each client, and it is the one the suite installs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pinned = json.loads((CLIENTS / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for package in PACKAGES:
        assert f"`{package}@{pinned[package]}`" in readme, package
    assert pinned["@apollo/client"].startswith("4.")


def test_apollo_client_4_shows_the_code_of_a_refusal(live):
    """Without a token the service refuses before execution (401). Apollo Client 4 reads the
    errors of a 4xx only from `application/graphql-response+json`, which it asks for: it
    shows UNAUTHENTICATED, where an `application/json` 401 was a bare ServerError."""
    assert _run("apollo-refusal.mjs", live) == [{"codes": ["UNAUTHENTICATED"]}]
