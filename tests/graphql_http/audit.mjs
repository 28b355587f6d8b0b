// graphql-http's server audits (the GraphQL-over-HTTP spec) against the URL in argv[2], every
// request with the Authorization header in argv[3]; prints one JSON array of
// {id, name, status, reason} on stdout (tests/test_graphql_http.py judges it).
import { auditServer } from 'graphql-http';

const [url, authorization] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
process.stdout.write(JSON.stringify(results.map((r) => ({
  id: r.id, name: r.name, status: r.status, reason: r.status === 'ok' ? null : r.reason,
}))));
