"""krr: the contact and reservation register as a GraphQL API."""
