from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [('models', '0008_signing_key')]

    initial = False

    operations = [
        # Access managers per organisation (app.tilgangsstyrere): history kept, removing sets
        # fjernet and fjernet_av.
        ops.CreateModel(
            name='Tilgangsstyrer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('orgnr', fields.CharField(description='the organisation managed', max_length=9)),
                ('pid', fields.CharField(description="the manager's national id", max_length=11)),
                ('lagt_til', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lagt_til_av', fields.CharField(description='the actor who added the role', max_length=200)),
                ('fjernet', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('fjernet_av', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'tilgangsstyrer', 'app': 'models', 'indexes': [Index(fields=['pid', 'fjernet'], name='tilgangsstyrer_pid_idx')], 'pk_attr': 'id', 'table_description': "One person's access-manager role for one organisation, active while not removed."},
            bases=['Model'],
        ),
        # At most one active role per organisation and person (two adds at the same moment must
        # not make two). Partial unique index: SQLite and PostgreSQL alike.
        ops.RunSQL(
            "CREATE UNIQUE INDEX tilgangsstyrer_aktiv_uniq ON tilgangsstyrer (orgnr, pid)"
            " WHERE fjernet IS NULL",
            reverse_sql="DROP INDEX tilgangsstyrer_aktiv_uniq",
        ),
    ]
