from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    # 0007 is another branch's; the merge puts this after it.
    dependencies = [('models', '0007_sertifikat_base64_der')]

    initial = False

    operations = [
        # Every public key answers were signed with (app.signing), kept for verification.
        ops.CreateModel(
            name='SigningKeyRecord',
            fields=[
                ('kid', fields.CharField(primary_key=True, unique=True, db_index=True, description='RFC 7638 thumbprint of the public key', max_length=100)),
                ('jwk', fields.TextField(description='the public JWK as published, JSON', unique=False)),
                ('first_used', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_key', 'app': 'models', 'pk_attr': 'kid', 'table_description': 'One public key, recorded when first put to use (at startup, or by the first answer).'},
            bases=['Model'],
        ),
    ]
