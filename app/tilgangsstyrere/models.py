"""The access-manager registry. History is never deleted: removing a role sets two columns."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Tilgangsstyrer(Model):
    """One person's access-manager role for one organisation, active while not removed.

    At most one active role per organisation and person: the partial unique index
    `tilgangsstyrer_aktiv_uniq` (migration 0009), which also serves the per-organisation reads.
    """

    id = fields.BigIntField(primary_key=True)
    orgnr = fields.CharField(max_length=9, description="the organisation managed")
    pid = fields.CharField(max_length=11, description="the manager's national id")
    lagt_til = fields.DatetimeField()
    lagt_til_av = fields.CharField(max_length=200, description="the actor who added the role")
    fjernet = fields.DatetimeField(null=True)
    fjernet_av = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "tilgangsstyrer"
        indexes = (
            # What the admin page asks on login: the organisations a person manages.
            Index(fields=("pid", "fjernet"), name="tilgangsstyrer_pid_idx"),
        )
