"""Benchmark: validating GraphQL documents, attacks and ordinary queries alike.

Times the service's validation (app.api.validation, uncached: the document measured, then
graphql-core's rules with the overlapping-fields budget, suggestions hidden as in prod) for
documents an attacker would send and for ordinary ones, beside the validation as it was
before (graphql-core's rules with strawberry's depth and alias limiters, which spread every
fragment again each time it is spread). Validation is the work a request costs before any
token-free refusal can stop it; a worker busy with it answers nothing else, /healthz included.
Prints a Markdown table for the README.

    .venv/bin/python bench/validation.py [--runs 5] [--no-before]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from graphql import DocumentNode, get_introspection_query, parse, specified_rules, validate
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from app.api.internals import STRAWBERRY_RULES, graphql_schema
from app.api.limits import RequestLimits, measure
from app.api.validation import validated
from app.edge.schema import build_schema

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the app importable

# The rules strawberry hands over in prod (its defaults and the introspection rule) ...
PROD_RULES = (*specified_rules, NoSchemaIntrospectionCustomRule)
DEV_RULES = tuple(specified_rules)
# ... and what validation ran before: those, strawberry's depth and alias limiters, and
# strawberry's own two, in one graphql-core validation with its default budgets.
BEFORE = (
    *QueryDepthLimiter(max_depth=10).validation_rules,
    *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    *STRAWBERRY_RULES,
)
SLOW = 1.0  # seconds: a document slower than this is timed once in the "before" column


def fan_out(levels: int, body: str = "...F{next} ...F{next}", leaf: str = "__typename") -> str:
    fragments = [f"fragment F{i} on Query {{ {body.replace('{next}', str(i + 1))} }}"
                 for i in range(levels)]
    return " ".join(["query { ...F0 }", *fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


PERSON = ("personidentifikator status reservasjon reservasjonstidspunkt varslingsstatus "
          "kontaktinformasjon { epostadresse epostadresseOppdatert epostadresseSistVerifisert "
          "mobiltelefonnummer mobiltelefonnummerOppdatert mobiltelefonnummerSistVerifisert } "
          "digitalPost { postkasseadresse postkasseleverandoeradresse } sertifikat spraak")
LOOKUP = '%s: personer(personidentifikatorer: ["17912099997"]) { %s }'

ATTACKS = {
    "20 fragments, each spreading the next twice": fan_out(20),
    "the same through inline fragments": fan_out(
        20, "... on Query { ...F{next} } ... on Query { ...F{next} }"),
    "the same with an alias in every fragment": fan_out(
        20, "a: __typename ...F{next} ...F{next}"),
    "the same, used by no operation": (
        "query { __typename } " + fan_out(20).removeprefix("query { ...F0 } ")),
    "100 operations spreading 4 levels": (
        " ".join(f"query Q{i} {{ ...F0 }}" for i in range(100)) + " "
        + fan_out(4).removeprefix("query { ...F0 } ")),
    "one field 4000 times": "{ " + "__typename " * 4000 + "}",
    "one field 999 times (under the size limit)": "{ " + "__typename " * 999 + "}",
    "a field with a subfield 333 times": "{ " + "statistikk { aktive } " * 333 + "}",
    "150 nested inline fragments": (
        "{ " + "... on Query { " * 150 + "__typename" + " }" * 150 + " }"),
}
ORDINARY = {
    "a lookup of every Person field": "{ " + LOOKUP % ("p", PERSON) + " }",
    "a lookup with its ids in a variable": (
        "query($ids: [String!]!) { personer(personidentifikatorer: $ids) { " + PERSON + " } }"),
    "30 aliased lookups of every field": (
        "{ " + " ".join(LOOKUP % (f"p{i}", PERSON) for i in range(30)) + " }"),
    "a feed page": ("{ endringer(fraEndringsId: 0) { tilEndringsId sisteEndringsId personer "
                    "{ " + PERSON + " } } }"),
    "GraphiQL's introspection (dev)": get_introspection_query(descriptions=True),
}


def timed(run: Callable[[], object], runs: int) -> tuple[float, object]:
    """(median seconds, the last result) of `runs` runs, or of one when the first is slow."""
    times = []
    result: object = None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        if times[0] > SLOW:
            break
    return statistics.median(times), result


def answer(errors: tuple[object, ...] | list[object]) -> str:
    if not errors:
        return "valid"
    codes = [str((getattr(e, "extensions", None) or {}).get("code") or "") for e in errors]
    first = next((c for c in codes if c), "")
    return first or f"{len(errors)} validation errors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-before", action="store_true",
                        help="leave out the validation as it was (tens of seconds)")
    args = parser.parse_args()
    prod = graphql_schema(build_schema(prod=True))
    dev = graphql_schema(build_schema())
    limits = RequestLimits()
    rows = []
    for kind, documents in (("attack", ATTACKS), ("ordinary", ORDINARY)):
        for name, text in documents.items():
            in_dev = "introspection" in name
            schema, rules = (dev, DEV_RULES) if in_dev else (prod, PROD_RULES)
            document: DocumentNode = parse(text, no_location=True, max_tokens=limits.max_tokens)
            now, errors = timed(
                lambda d=document, s=schema, r=rules, hide=not in_dev: validated(
                    s, d, r, limits, hide),
                args.runs)
            before = None
            if not args.no_before:
                before, _ = timed(
                    lambda d=document, s=schema, r=rules: validate(s, d, (*r, *BEFORE)),
                    args.runs)
            rows.append((kind, name, len(text.encode()), measure(document).fields,
                         answer(errors), now, before))

    cpus = os.cpu_count()
    print(f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {cpus} cores, "
          f"Python {platform.python_version()}; median of {args.runs} runs (one when over "
          f"{SLOW:.0f} s), validation uncached.\n")
    print("| | document | bytes | fields once spread | answer | validation | before |")
    print("|---|---|---:|---:|---|---:|---:|")
    for kind, name, size, fields, result, now, before in rows:
        shown = f"{fields:,}" if fields < 10**12 else "> 10^12"
        then = "-" if before is None else f"{before * 1000:,.1f} ms"
        print(f"| {kind} | {name} | {size:,} | {shown} | {result} | {now * 1000:.2f} ms "
              f"| {then} |")


if __name__ == "__main__":
    main()
