// urql: POST, not its default GET (krr refuses GET: ids in a URL end up in access logs).
import { Client, cacheExchange, fetchExchange, gql } from "@urql/core";

const client = new Client({
  url: `${process.env.KRR_URL}/graphql`,
  exchanges: [cacheExchange, fetchExchange],
  preferGetMethod: false,
  fetchOptions: { headers: { Authorization: `Bearer ${process.env.KRR_TOKEN}` } },
});
const result = await client
  .query(
    gql`query Varsling($ids: [String!]!) {
      personer(personidentifikatorer: $ids) { personidentifikator varslingsstatus }
    }`,
    { ids: ["17912099997", "24907999374"] },
  )
  .toPromise();
if (result.error) throw result.error;
console.log(JSON.stringify(result.data));
