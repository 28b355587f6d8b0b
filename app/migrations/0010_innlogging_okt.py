from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [('models', '0009_tilgangsstyrer')]

    initial = False

    operations = [
        # The access managers' sessions (app.innlogging): server-side, so a logout ends them.
        ops.CreateModel(
            name='Okt',
            fields=[
                ('id', fields.CharField(primary_key=True, description="sha256 of the cookie's key (the key itself is not kept)", max_length=64)),
                ('pid', fields.CharField(description='the person logged in (ID-porten pid)', max_length=11)),
                ('acr', fields.CharField(max_length=60)),
                ('issuer', fields.CharField(max_length=200)),
                ('id_token', fields.TextField(description="the provider's ID token, the hint at logout", unique=False)),
                ('csrf', fields.CharField(description="the session's form token", max_length=64)),
                ('opprettet', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sist_brukt', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'innlogging_okt', 'app': 'models', 'indexes': [Index(fields=['sist_brukt'], name='innlogging_okt_sist_brukt_idx')], 'pk_attr': 'id', 'table_description': "Logged-in sessions of the access managers' page (ended ones deleted)."},
            bases=['Model'],
        ),
    ]
