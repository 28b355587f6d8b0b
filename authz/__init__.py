"""Authentication for the KRR API: Maskinporten-style access tokens and a local dev issuer.

Kept apart from ``app`` so the token rules can be reviewed and tested without a database.
"""
