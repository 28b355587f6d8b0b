from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Delegeringsordning',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('tittel', fields.CharField(max_length=200)),
                ('eier', fields.CharField(description='orgnr of the owning organisation', max_length=9)),
                ('scopes', fields.TextField(description='space-separated scopes the scheme covers', unique=False)),
            ],
            options={'table': 'delegeringsordning', 'app': 'models', 'pk_attr': 'id', 'table_description': "A delegation scheme (an API in Altinn's words): a titled bundle of scopes."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delegering',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('fra', fields.CharField(description='orgnr of the giver', max_length=9)),
                ('til', fields.CharField(description='orgnr of the receiver', max_length=9)),
                ('ordning', fields.ForeignKeyField('models.Delegeringsordning', source_field='ordning_id', db_constraint=True, to_field='id', related_name='delegeringer', on_delete=OnDelete.RESTRICT)),
                ('opprettet', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('opprettet_av', fields.CharField(max_length=200)),
                ('trukket_tilbake', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('trukket_tilbake_av', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'delegering', 'app': 'models', 'indexes': [Index(fields=['fra', 'til', 'trukket_tilbake'], name='delegering_fra_til_idx'), Index(fields=['til', 'trukket_tilbake'], name='delegering_til_idx')], 'pk_attr': 'id', 'table_description': "A public body's grant to a vendor for one scheme. Active while not revoked."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Oppslag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tidspunkt', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dag', fields.DateField(description='the day in Europe/Oslo, for the usage report')),
                ('request_id', fields.CharField(max_length=64)),
                ('consumer', fields.CharField(max_length=9)),
                ('supplier', fields.CharField(null=True, max_length=9)),
                ('actor', fields.CharField(null=True, max_length=200)),
                ('scopes', fields.TextField(description='space-separated scopes the request used', unique=False)),
                ('varslingsstatus', fields.BooleanField(description='whether varslingsstatus was asked')),
                ('antall', fields.IntField(description='number of persons disclosed')),
            ],
            options={'table': 'oppslag', 'app': 'models', 'indexes': [Index(fields=['consumer', 'dag'], name='oppslag_consumer_dag_idx'), Index(fields=['supplier', 'dag'], name='oppslag_supplier_dag_idx'), Index(fields=['tidspunkt'], name='oppslag_tidspunkt_idx')], 'pk_attr': 'id', 'table_description': 'One request that disclosed person data.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OppslagPerson',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('oppslag', fields.ForeignKeyField('models.Oppslag', source_field='oppslag_id', db_constraint=True, to_field='id', related_name='personer', on_delete=OnDelete.CASCADE)),
                ('personidentifikator', fields.CharField(max_length=11)),
                ('tidspunkt', fields.DatetimeField(description='copied from the request, for per-person order', auto_now=False, auto_now_add=False)),
                ('kategorier', fields.SmallIntField(description='bits: 1 grunndata, 2 kontakt, 4 digital post')),
            ],
            options={'table': 'oppslag_person', 'app': 'models', 'indexes': [Index(fields=['personidentifikator', 'tidspunkt'], name='oppslag_person_pid_idx')], 'pk_attr': 'id', 'table_description': 'One person disclosed in a request, and the categories given (a bit set).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organisasjon',
            fields=[
                ('orgnr', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=9)),
                ('navn', fields.CharField(max_length=200)),
            ],
            options={'table': 'organisasjon', 'app': 'models', 'pk_attr': 'orgnr', 'table_description': 'Display names of organisations, for `Organisasjon { orgnr navn }`.'},
            bases=['Model'],
        ),
        # At most one active delegation per giver, receiver and scheme (granting twice at the
        # same moment must not create two). Partial unique index: SQLite and PostgreSQL alike.
        ops.RunSQL(
            "CREATE UNIQUE INDEX delegering_aktiv_uniq ON delegering (fra, til, ordning_id)"
            " WHERE trukket_tilbake IS NULL",
            reverse_sql="DROP INDEX delegering_aktiv_uniq",
        ),
        # Schemes are data: the first one, Digdir's on-behalf-of scheme for the lookup.
        ops.RunSQL(
            "INSERT INTO delegeringsordning (id, tittel, eier, scopes) VALUES ("
            "'krr-paa-vegne-av', 'KRR - Delegere på-vegne-av-rettighet', '991825827', "
            "'krr:global/kontaktinformasjon.read krr:global/digitalpost.read')",
            reverse_sql="DELETE FROM delegeringsordning WHERE id = 'krr-paa-vegne-av'",
        ),
        ops.RunSQL(
            "INSERT INTO organisasjon (orgnr, navn) VALUES "
            "('991825827', 'Digitaliseringsdirektoratet'), "
            "('984661185', 'Posten Bring AS (Digipost)'), "
            "('922020175', 'e-Boks AS')",
            reverse_sql="DELETE FROM organisasjon WHERE orgnr IN "
            "('991825827', '984661185', '922020175')",
        ),
    ]
