"""The register of return addresses: one row an address, removed by deleting it."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Returadresse(Model):
    """A return address an organisation's login flow may send a resident back to."""

    id = fields.BigIntField(primary_key=True)
    orgnr = fields.CharField(max_length=9, description="the organisation it belongs to")
    adresse = fields.CharField(
        max_length=2000, unique=True,
        description="the address in its one spelling (app.returadresser.regler): one owner")
    opphav = fields.CharField(
        max_length=300, db_index=True,
        description="its scheme, host and port: the rows a requested address is matched with")
    lagt_til = fields.DatetimeField(description="when it was added")
    lagt_til_av = fields.CharField(
        max_length=200, null=True, description="who added it (krr-cli:<OS user>), if known")

    class Meta:
        table = "returadresse"
