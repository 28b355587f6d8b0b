"""The public keys answers have been signed with: kept for good, so a signed answer can be
verified years later and every instance publishes the same set after a rotation."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SigningKeyRecord(Model):
    """One public key, recorded when first put to use (at startup, or by the first answer)."""

    kid = fields.CharField(max_length=100, primary_key=True,
                           description="RFC 7638 thumbprint of the public key")
    jwk = fields.TextField(description="the public JWK as published, JSON")
    first_used = fields.DatetimeField()

    class Meta:
        table = "signing_key"
