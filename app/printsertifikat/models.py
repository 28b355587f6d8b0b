"""The print provider and its certificate as the operator set them, every change kept: the
newest row is the one handed out."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PrintSertifikatRad(Model):
    """One setting of the print provider: who and what, and who set it when."""

    id = fields.BigIntField(primary_key=True)
    postkasseleverandoer_adresse = fields.CharField(
        max_length=9, description="the print provider's organisation number")
    x509_sertifikat = fields.TextField(
        description="its certificate: bare base64 of DER, as handed out")
    satt = fields.DatetimeField(description="when the operator set it")
    satt_av = fields.CharField(max_length=200, description="who set it (krr-cli:<OS user>)")

    class Meta:
        table = "print_sertifikat"
