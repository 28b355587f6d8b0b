// Apollo Client with automatic persisted queries: the first request sends only the hash, the
// service answers PERSISTED_QUERY_NOT_FOUND, the link sends the whole query once, and from then
// on the hash is enough. POST throughout (useGETForHashedQueries stays false).
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const link = new PersistedQueryLink({
  sha256: (query) => createHash("sha256").update(query).digest("hex"),
}).concat(new HttpLink({
  uri: `${process.env.KRR_URL}/graphql`,
  headers: { Authorization: `Bearer ${process.env.KRR_TOKEN}` },
}));
const client = new ApolloClient({ link, cache: new InMemoryCache() });
const VARSLING = gql`query Varsling($ids: [String!]!) {
  personer(personidentifikatorer: $ids) { personidentifikator varslingsstatus }
}`;
for (let round = 0; round < 2; round++) {  // the second round is served by hash alone
  const { data } = await client.query({
    query: VARSLING, variables: { ids: ["17912099997", "24907999374"] },
    fetchPolicy: "network-only",
  });
  console.log(JSON.stringify(data));
}
