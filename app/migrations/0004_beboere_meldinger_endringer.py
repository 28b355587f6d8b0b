from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

from enum import StrEnum


class Kanal(StrEnum):
    """Frozen as of this migration (the model's enum may change later)."""

    EPOST = "EPOST"
    MOBIL = "MOBIL"


class Migration(migrations.Migration):
    dependencies = [('models', '0003_oppslag_person_oppslag_idx')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Endringsteller',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('siste', fields.BigIntField(default=0)),
            ],
            options={'table': 'endringsteller', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row: the last change id handed out. Taking a number locks the row until commit, so'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Engangskode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('personidentifikator', fields.CharField(max_length=11)),
                ('kanal', fields.CharEnumField(description='EPOST: EPOST\nMOBIL: MOBIL', enum_type=Kanal, max_length=5)),
                ('adresse', fields.CharField(description='the address the code was sent to', max_length=254)),
                ('kode_hash', fields.CharField(max_length=128)),
                ('opprettet', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('utloper', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('feil_forsok', fields.IntField(default=0)),
                ('brukt', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'engangskode', 'app': 'models', 'indexes': [Index(fields=['personidentifikator', 'kanal'], name='engangskode_pid_idx')], 'pk_attr': 'id', 'table_description': 'A one-time code for proving a channel: kept hashed, short-lived, few tries.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Melding',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('noekkel', fields.CharField(unique=True, max_length=200)),
                ('kanal', fields.CharEnumField(description='EPOST: EPOST\nMOBIL: MOBIL', enum_type=Kanal, max_length=5)),
                ('mottaker', fields.CharField(max_length=254)),
                ('emne', fields.CharField(max_length=200)),
                ('tekst', fields.TextField(unique=False)),
                ('opprettet', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sendt', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('forsok', fields.IntField(default=0)),
                ('neste_forsok', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('siste_feil', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'melding', 'app': 'models', 'indexes': [Index(fields=['sendt', 'neste_forsok'], name='melding_ventende_idx')], 'pk_attr': 'id', 'table_description': 'One message to one address. `noekkel` makes queuing idempotent (one reminder per expiry).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Person',
            name='endrings_id',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['endrings_id'], name='person_endrings_id_idx'),
        ),
        ops.RunSQL(
            "INSERT INTO endringsteller (id, siste) VALUES (1, 0)",
            reverse_sql="DELETE FROM endringsteller WHERE id = 1",
        ),
        # Entries that existed before the feed get numbers in id order, and the counter follows.
        ops.RunSQL(
            "UPDATE person SET endrings_id = n.rn FROM (SELECT personidentifikator AS pid,"
            " row_number() OVER (ORDER BY personidentifikator) AS rn FROM person) AS n"
            " WHERE person.personidentifikator = n.pid",
        ),
        ops.RunSQL("UPDATE endringsteller SET siste = (SELECT COUNT(*) FROM person) WHERE id = 1"),
    ]
