"""Delegation between organisations (Altinn's API delegation): registry, GraphQL, storage."""
