"""The access managers' sessions, kept server-side so logging out (or an operator) ends them
at once on every instance; the browser holds only a signed random key. Likewise the logins
begun: the browser holds only the state, the verifier and nonce stay here."""

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


class Forsok(Model):
    """One login begun (app.innlogging.forsok): what its callback needs, kept here rather than
    in the browser, and marked when the callback uses it, so it is used once."""

    id = fields.CharField(max_length=64, primary_key=True,
                          description="sha256 of the state sent to the provider")
    verifier = fields.CharField(max_length=128, description="the PKCE code verifier")
    nonce = fields.CharField(max_length=128, description="the nonce the ID token must carry")
    neste = fields.CharField(max_length=200, description="the page to go to after the login")
    opprettet = fields.DatetimeField()
    brukt = fields.DatetimeField(null=True, description="when the callback used it, if it has")

    class Meta:
        table = "innlogging_forsok"
        table_description = ("Logins begun, for ten minutes: each callback is taken once "
                             "(expired ones deleted).")
        indexes = (Index(fields=["opprettet"], name="innlogging_forsok_opprettet_idx"),)
