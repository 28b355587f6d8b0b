// Apollo Client 4 reads a refusal's code: without a token the service answers 401 in the
// media type Apollo asks for (application/graphql-response+json), so the error is a
// CombinedGraphQLErrors with the service's errors, not a bare ServerError.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";

const client = new ApolloClient({
  link: new HttpLink({ uri: `${process.env.KRR_URL}/graphql` }),
  cache: new InMemoryCache(),
});
const { error } = await client.query({
  query: gql`query Varsling($ids: [String!]!) {
    personer(personidentifikatorer: $ids) { personidentifikator }
  }`,
  variables: { ids: ["17912099997"] },
  errorPolicy: "all",
});
if (!CombinedGraphQLErrors.is(error)) throw error;
console.log(JSON.stringify({ codes: error.errors.map((e) => e.extensions.code) }));
