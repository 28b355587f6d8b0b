"""Tables of the register. Column names mirror the real register's field names; the fields a
lookup reads are declared in app.personer.felt, which a test holds to these columns."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from app.personer.felt import Registerstatus


class Postkasseleverandoer(Model):
    """A digital mailbox provider, whose encryption certificate all its mailboxes share."""

    orgnr = fields.CharField(max_length=9, primary_key=True)
    navn = fields.CharField(max_length=100)
    sertifikat = fields.TextField(
        description="X.509 encryption certificate: bare base64 of its DER encoding"
    )

    class Meta:
        table = "postkasseleverandoer"


class Person(Model):
    personidentifikator = fields.CharField(max_length=11, primary_key=True)
    status = fields.CharEnumField(Registerstatus, max_length=10, default=Registerstatus.AKTIV)
    reservasjon = fields.BooleanField(default=False)
    reservasjonstidspunkt = fields.DatetimeField(null=True)
    reservasjon_oppdatert = fields.DatetimeField(null=True)

    epostadresse = fields.CharField(max_length=254, null=True)
    epostadresse_oppdatert = fields.DatetimeField(null=True)
    epostadresse_sist_verifisert = fields.DatetimeField(null=True)
    epostadresse_sist_validert = fields.DatetimeField(null=True)

    mobiltelefonnummer = fields.CharField(max_length=20, null=True)
    mobiltelefonnummer_oppdatert = fields.DatetimeField(null=True)
    mobiltelefonnummer_sist_verifisert = fields.DatetimeField(null=True)
    mobiltelefonnummer_sist_validert = fields.DatetimeField(null=True)

    # Another AKTIV person has the same address: kept by every writer that changes addresses or
    # status (app.personer.register.oppdater_duplikater), so a lookup reads it instead of probing.
    epostadresse_duplisert = fields.BooleanField(default=False, db_default=False)
    mobiltelefonnummer_duplisert = fields.BooleanField(default=False, db_default=False)

    postkasseadresse = fields.CharField(max_length=100, null=True)
    postkasseleverandoer: fields.ForeignKeyNullableRelation[Postkasseleverandoer] = (
        fields.ForeignKeyField(
            "models.Postkasseleverandoer",
            related_name="postkasser",
            null=True,
            on_delete=fields.RESTRICT,
            source_field="postkasseleverandoeradresse",
        )
    )

    spraak = fields.CharField(max_length=2, null=True)
    spraak_oppdatert = fields.DatetimeField(null=True)

    # Every change to the entry takes the next number from Endringsteller (the change feed).
    endrings_id = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "person"
        # The duplicate flags look up "another AKTIV person with this address" per row.
        indexes = (
            Index(fields=("epostadresse", "status"), name="person_epost_status_idx"),
            Index(fields=("mobiltelefonnummer", "status"), name="person_mobil_status_idx"),
            Index(fields=("endrings_id",), name="person_endrings_id_idx"),
        )


class Endringsteller(Model):
    """One row: the last change id handed out. Taking a number locks the row until commit, so
    numbers become visible in the order they were taken and a feed reader never skips one."""

    id = fields.IntField(primary_key=True)
    siste = fields.BigIntField(default=0)

    class Meta:
        table = "endringsteller"
