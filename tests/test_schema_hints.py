"""Schema hints: a misspelt name must not be answered with the right one in prod.

graphql-core suggests names ("Did you mean 'personer'?") in validation errors and when it
coerces variables and arguments. With introspection off in prod, that is how a caller, even an
anonymous one, would map the schema anyway; outside prod the hints stay, for developers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from authz.tokens import TokenVerifier
from tests.test_edge import edge

ENVS = ("test", "prod")
KONTAKT = "krr:global/kontaktinformasjon.read"

# (the document, its variables, the start of the error message every environment gives)
MISSPELLINGS = {
    "unknown field": ('{ persone(personidentifikatorer: ["17912099997"]) { status } }', None,
                      "Cannot query field 'persone' on type 'Query'."),
    "unknown argument": ('{ personer(personidentifikator: ["17912099997"]) { status } }', None,
                         "Unknown argument 'personidentifikator' on field 'Query.personer'."),
    "unknown subfield": ('{ personer(personidentifikatorer: ["17912099997"]) { statu } }', None,
                         "Cannot query field 'statu' on type 'Person'."),
    "enum value in a literal": ("mutation { sendKode(kanal: MOBILL) { advarsler { kode } } }",
                                None, "Value 'MOBILL' does not exist in 'Kanal' enum."),
    "enum value in a variable": (
        "mutation($kanal: Kanal!) { sendKode(kanal: $kanal) { advarsler { kode } } }",
        {"kanal": "MOBILL"}, "Variable '$kanal' has invalid value: Value 'MOBILL' does not "
        "exist in 'Kanal' enum."),
    "unknown type in a fragment": ("{ ...F } fragment F on Quer { __typename }", None,
                                   "Unknown type 'Quer'."),
    "unknown type of a variable": (
        "query($ids: [Strin!]!) { personer(personidentifikatorer: $ids) { status } }",
        {"ids": ["17912099997"]}, "Unknown type 'Strin'."),
}


@pytest.fixture
def verifiers(dev_issuer: Any) -> Callable[[str], TokenVerifier | None]:
    """env -> the verifier to build the app with (prod trusts the dev issuer as a real one)."""
    return lambda env: TokenVerifier({}, dev_issuer=dev_issuer) if env == "prod" else None


async def _errors(client: Any, mint: Any, query: str, variables: Any) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {mint(KONTAKT)}"}
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    return body["errors"]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("case", MISSPELLINGS)
async def test_misspelt_names_get_no_suggestions_in_prod(db, mint, verifiers, env, case):
    query, variables, message = MISSPELLINGS[case]
    async with edge(db, env, verifiers(env)) as client:
        errors = await _errors(client, mint, query, variables)
    assert errors[0]["message"].startswith(message), errors
    suggested = [e["message"] for e in errors if "Did you mean" in e["message"]]
    if env == "prod":
        assert suggested == [], errors
        assert errors[0]["message"] == message
    else:  # the helpful hint, for developers
        assert suggested, errors


@pytest.mark.parametrize("env", ENVS)
async def test_an_anonymous_caller_gets_no_suggestions_in_prod(db, verifiers, env):
    """The public key figures need no token, and their fields are validated like any."""
    async with edge(db, env, verifiers(env)) as client:
        response = await client.post("/graphql", json={"query": "{ statistikk { aktiv } }"})
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["message"].startswith("Cannot query field 'aktiv' on type 'Statistikk'.")
    assert ("Did you mean" in error["message"]) is (env != "prod")


async def test_repeated_misspellings_from_the_validation_cache_stay_without_hints(
    db, mint, verifiers
):
    """Validation is cached per document across apps in one process: the test app's hinted
    answer must not be what prod serves for the same text, nor the other way round."""
    query, variables, _ = MISSPELLINGS["unknown field"]
    for env in ("test", "prod", "test", "prod"):
        async with edge(db, env, verifiers(env)) as client:
            errors = await _errors(client, mint, query, variables)
        assert ("Did you mean" in errors[0]["message"]) is (env != "prod")
