// graphql-request: one lookup, the token in a header, POST (its default).
import { GraphQLClient, gql } from "graphql-request";

const client = new GraphQLClient(`${process.env.KRR_URL}/graphql`, {
  headers: { Authorization: `Bearer ${process.env.KRR_TOKEN}` },
});
const data = await client.request(
  gql`query Varsling($ids: [String!]!) {
    personer(personidentifikatorer: $ids) { personidentifikator varslingsstatus }
  }`,
  { ids: ["17912099997", "24907999374"] },
);
console.log(JSON.stringify(data));
