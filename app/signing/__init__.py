"""Signed answers: the register's signing key, the JWS it makes of a JSON answer, and the public
keys it publishes (GET /.well-known/jwks.json), every key it ever signed with included."""
