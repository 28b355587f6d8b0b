from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from enum import StrEnum


class Registerstatus(StrEnum):
    """Frozen as of this migration (the model's enum may change later)."""

    AKTIV = "AKTIV"
    SLETTET = "SLETTET"


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Postkasseleverandoer',
            fields=[
                ('orgnr', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=9)),
                ('navn', fields.CharField(max_length=100)),
                ('sertifikat', fields.TextField(description='PEM X.509 encryption certificate', unique=False)),
            ],
            options={'table': 'postkasseleverandoer', 'app': 'models', 'pk_attr': 'orgnr', 'table_description': 'A digital mailbox provider, whose encryption certificate all its mailboxes share.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Person',
            fields=[
                ('personidentifikator', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=11)),
                ('status', fields.CharEnumField(default=Registerstatus.AKTIV, description='AKTIV: AKTIV\nSLETTET: SLETTET', enum_type=Registerstatus, max_length=10)),
                ('reservasjon', fields.BooleanField(default=False)),
                ('reservasjonstidspunkt', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reservasjon_oppdatert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('epostadresse', fields.CharField(null=True, max_length=254)),
                ('epostadresse_oppdatert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('epostadresse_sist_verifisert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('epostadresse_sist_validert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('mobiltelefonnummer', fields.CharField(null=True, max_length=20)),
                ('mobiltelefonnummer_oppdatert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('mobiltelefonnummer_sist_verifisert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('mobiltelefonnummer_sist_validert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('postkasseadresse', fields.CharField(null=True, max_length=100)),
                ('postkasseleverandoer', fields.ForeignKeyField('models.Postkasseleverandoer', source_field='postkasseleverandoeradresse', null=True, db_constraint=True, to_field='orgnr', related_name='postkasser', on_delete=OnDelete.RESTRICT)),
                ('spraak', fields.CharField(null=True, max_length=2)),
                ('spraak_oppdatert', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'person', 'app': 'models', 'indexes': [Index(fields=['epostadresse', 'status'], name='person_epost_status_idx'), Index(fields=['mobiltelefonnummer', 'status'], name='person_mobil_status_idx')], 'pk_attr': 'personidentifikator'},
            bases=['Model'],
        ),
    ]
