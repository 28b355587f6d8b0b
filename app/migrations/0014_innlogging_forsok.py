from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [('models', '0013_revisjon_ufordelt')]

    initial = False

    operations = [
        # The logins begun (app.innlogging.forsok): the PKCE verifier and the nonce kept here,
        # not in the browser's cookie, and each callback taken once (issue 23).
        ops.CreateModel(
            name='Forsok',
            fields=[
                ('id', fields.CharField(primary_key=True, description='sha256 of the state sent to the provider', max_length=64)),
                ('verifier', fields.CharField(description='the PKCE code verifier', max_length=128)),
                ('nonce', fields.CharField(description='the nonce the ID token must carry', max_length=128)),
                ('neste', fields.CharField(description='the page to go to after the login', max_length=200)),
                ('opprettet', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('brukt', fields.DatetimeField(null=True, description='when the callback used it, if it has', auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'innlogging_forsok', 'app': 'models', 'indexes': [Index(fields=['opprettet'], name='innlogging_forsok_opprettet_idx')], 'pk_attr': 'id', 'table_description': 'Logins begun, for ten minutes: each callback is taken once (expired ones deleted).'},
            bases=['Model'],
        ),
    ]
