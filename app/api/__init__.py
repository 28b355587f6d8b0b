"""The GraphQL layer: context, errors, schema assembly."""
