"""A public body's notification list: who can be notified, and where.

Reads national ids (one per line) from a file or stdin, looks them up in batches of 1000 (the
most one request takes) with `varslingsstatus`, and writes CSV: id, whether the person can be
notified, e-mail, mobile. Paces itself by the service's answers: on 429 it waits `Retry-After`
seconds, on 503 it retries a few times; any other refusal stops it with the service's message.

    KRR_TOKEN=$(.venv/bin/krr token --consumer 974760673 \\
        --scope "krr:global/kontaktinformasjon.read") \\
    python examples/varsle.py ids.txt > varsling.csv

A vendor acting for the body uses a token with `--supplier` (and an active delegation).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

BATCH = 1000
QUERY = """query Varsling($ids: [String!]!) {
  personer(personidentifikatorer: $ids) {
    personidentifikator
    varslingsstatus
    kontaktinformasjon { epostadresse mobiltelefonnummer }
  }
}"""
RETRIES = 5


class Refused(Exception):
    """The service said no (the message and code are its own)."""


def batches(ids: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    batch: list[str] = []
    for raw in ids:
        pid = raw.strip()
        if pid:
            batch.append(pid)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def look_up(client: httpx.AsyncClient, token: str, ids: list[str]) -> list[dict[str, Any]]:
    """One batch: the persons as the service gives them."""
    for attempt in range(RETRIES):
        response = await client.post(
            "/graphql", json={"query": QUERY, "variables": {"ids": ids}},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code in (429, 503) and attempt < RETRIES - 1:
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        body = response.json()
        if body.get("errors"):
            error = body["errors"][0]
            raise Refused(f"{error.get('extensions', {}).get('code')}: {error['message']}")
        return list(body["data"]["personer"])
    raise Refused("the service stayed unavailable")


def rows(persons: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    for p in persons:
        kontakt = p.get("kontaktinformasjon") or {}
        yield [p["personidentifikator"], p["varslingsstatus"],
               kontakt.get("epostadresse") or "", kontakt.get("mobiltelefonnummer") or ""]


async def run(base_url: str, token: str, ids: Iterable[str], out: Any) -> int:
    writer = csv.writer(out)
    writer.writerow(["personidentifikator", "varslingsstatus", "epostadresse",
                     "mobiltelefonnummer"])
    count = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for batch in batches(ids):
            for row in rows(await look_up(client, token, batch)):
                writer.writerow(row)
                count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="-", help="national ids, one per line")
    parser.add_argument("--url", default=os.environ.get("KRR_URL", "http://127.0.0.1:8000"))
    args = parser.parse_args()
    token = os.environ.get("KRR_TOKEN")
    if not token:
        parser.error("set KRR_TOKEN to a token with krr:global/kontaktinformasjon.read")
    source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    try:
        asyncio.run(run(args.url, token, source, sys.stdout))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        if source is not sys.stdin:
            source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
