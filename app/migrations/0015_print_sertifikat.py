from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0014_innlogging_forsok')]

    initial = False

    operations = [
        # The print provider and its certificate (app.printsertifikat), as the operator set them
        # with `krr print-sertifikat sett`: every change kept, the newest handed out (issue 24).
        ops.CreateModel(
            name='PrintSertifikatRad',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('postkasseleverandoer_adresse', fields.CharField(description="the print provider's organisation number", max_length=9)),
                ('x509_sertifikat', fields.TextField(description='its certificate: bare base64 of DER, as handed out', unique=False)),
                ('satt', fields.DatetimeField(description='when the operator set it', auto_now=False, auto_now_add=False)),
                ('satt_av', fields.CharField(description='who set it (krr-cli:<OS user>)', max_length=200)),
            ],
            options={'table': 'print_sertifikat', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One setting of the print provider: who and what, and who set it when.'},
            bases=['Model'],
        ),
    ]
