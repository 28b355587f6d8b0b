"""Person lookup: its GraphQL types and the `personer` query."""
