"""The access managers' sessions, kept server-side so logging out (or an operator) ends them
at once on every instance; the browser holds only a signed random key."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Okt(Model):
    """One logged-in person's session on the pages (app.innlogging.okter)."""

    id = fields.CharField(max_length=64, primary_key=True,
                          description="sha256 of the cookie's key (the key itself is not kept)")
    pid = fields.CharField(max_length=11, description="the person logged in (ID-porten pid)")
    acr = fields.CharField(max_length=60)
    issuer = fields.CharField(max_length=200)
    id_token = fields.TextField(description="the provider's ID token, the hint at logout")
    csrf = fields.CharField(max_length=64, description="the session's form token")
    opprettet = fields.DatetimeField()
    sist_brukt = fields.DatetimeField()

    class Meta:
        table = "innlogging_okt"
        table_description = "Logged-in sessions of the access managers' page (ended ones deleted)."
        indexes = (Index(fields=["sist_brukt"], name="innlogging_okt_sist_brukt_idx"),)
