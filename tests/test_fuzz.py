"""schemathesis against the GraphQL schema (schema.graphql) with a token holding every scope:
generated operations never give a server error (5xx, or an error without a code, which is an
unexpected exception). KRR_FUZZ_EXAMPLES sets how many per root field (default small, for
`make test`); generation is derandomized so CI runs the same cases every time.

The cases are generated first (hypothesis is synchronous) and then sent to the app in-process
over ASGI on the test's own event loop, where the database connections live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from authz import scopes

SCHEMA = Path(__file__).resolve().parent.parent / "schema.graphql"
EXAMPLES = int(os.environ.get("KRR_FUZZ_EXAMPLES", "8"))
ALL_SCOPES = " ".join(
    sorted(v for k, v in vars(scopes).items() if k.isupper() and isinstance(v, str)
           and v.startswith("krr:"))
)


def _cases() -> list[tuple[str, dict[str, Any]]]:
    schema = schemathesis.graphql.from_path(SCHEMA)
    collected: list[tuple[str, dict[str, Any]]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def collect(case: Any) -> None:
            collected.append((case.operation.label, case.as_transport_kwargs()["json"]))

        collect()
    return collected


async def test_generated_operations_give_no_server_error(client: httpx.AsyncClient, mint) -> None:
    cases = _cases()
    assert len({label for label, _ in cases}) > 10  # every root field, not a broken loader
    headers = {"Authorization": f"Bearer {mint(ALL_SCOPES)}"}
    failures: list[str] = []
    for label, body in cases:
        response = await client.post("/graphql", json=body, headers=headers)
        errors = response.json().get("errors") or []
        # A resolver error (it has a path) without a code is an unexpected exception; the
        # parser's and validator's errors (no path) are the client's fault, fine.
        uncoded = [e for e in errors if e.get("path") and not (e.get("extensions") or {})
                   .get("code")]
        if response.status_code >= 500 or uncoded:
            failures.append(f"{label} {response.status_code} {body['query']!r} {errors}")
    assert not failures, "\n".join(failures[:10])
