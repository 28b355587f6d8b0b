"""Tables of the delegation registry. History is never deleted: revoking sets two columns."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Organisasjon(Model):
    """Display names of organisations, for `Organisasjon { orgnr navn }`."""

    orgnr = fields.CharField(max_length=9, primary_key=True)
    navn = fields.CharField(max_length=200)

    class Meta:
        table = "organisasjon"


class Delegeringsordning(Model):
    """A delegation scheme (an API in Altinn's words): a titled bundle of scopes."""

    id = fields.CharField(max_length=100, primary_key=True)
    tittel = fields.CharField(max_length=200)
    eier = fields.CharField(max_length=9, description="orgnr of the owning organisation")
    scopes = fields.TextField(description="space-separated scopes the scheme covers")

    class Meta:
        table = "delegeringsordning"


class Delegering(Model):
    """A public body's grant to a vendor for one scheme. Active while not revoked."""

    id = fields.UUIDField(primary_key=True)
    fra = fields.CharField(max_length=9, description="orgnr of the giver")
    til = fields.CharField(max_length=9, description="orgnr of the receiver")
    ordning: fields.ForeignKeyRelation[Delegeringsordning] = fields.ForeignKeyField(
        "models.Delegeringsordning", related_name="delegeringer", on_delete=fields.RESTRICT
    )
    opprettet = fields.DatetimeField()
    opprettet_av = fields.CharField(max_length=200, description="the actor, of the giver")
    trukket_tilbake = fields.DatetimeField(null=True)
    trukket_tilbake_av = fields.CharField(max_length=200, null=True)
    trukket_tilbake_av_org = fields.CharField(
        max_length=9, null=True, description="orgnr of the revoker: the giver or the receiver"
    )

    class Meta:
        table = "delegering"
        indexes = (
            # The per-request check: active delegations from consumer to supplier.
            Index(fields=("fra", "til", "trukket_tilbake"), name="delegering_fra_til_idx"),
            Index(fields=("til", "trukket_tilbake"), name="delegering_til_idx"),
        )
