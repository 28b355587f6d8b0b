"""Python gql: one lookup over httpx, POST, the token in a header."""

import asyncio
import json
import os

from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport

VARSLING = gql("""
query Varsling($ids: [String!]!) {
  personer(personidentifikatorer: $ids) { personidentifikator varslingsstatus }
}
""")


async def main() -> None:
    transport = HTTPXAsyncTransport(
        url=f"{os.environ['KRR_URL']}/graphql",
        headers={"Authorization": f"Bearer {os.environ['KRR_TOKEN']}"},
    )
    async with Client(transport=transport) as session:
        VARSLING.variable_values = {"ids": ["17912099997", "24907999374"]}
        print(json.dumps(await session.execute(VARSLING)))


asyncio.run(main())
