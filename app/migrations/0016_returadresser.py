from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0015_print_sertifikat')]

    initial = False

    operations = [
        # The return addresses an organisation's login flow may send a resident back to
        # (app.returadresser), as the operator registers them with `krr returadresser` (issue 25).
        # One owner an address (unique), matched by origin (indexed).
        ops.CreateModel(
            name='Returadresse',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('orgnr', fields.CharField(description='the organisation it belongs to', max_length=9)),
                ('adresse', fields.CharField(unique=True, description='the address in its one spelling (app.returadresser.regler): one owner', max_length=2000)),
                ('opphav', fields.CharField(db_index=True, description='its scheme, host and port: the rows a requested address is matched with', max_length=300)),
                ('lagt_til', fields.DatetimeField(description='when it was added', auto_now=False, auto_now_add=False)),
                ('lagt_til_av', fields.CharField(null=True, description='who added it (krr-cli:<OS user>), if known', max_length=200)),
            ],
            options={'table': 'returadresse', 'app': 'models', 'pk_attr': 'id', 'table_description': "A return address an organisation's login flow may send a resident back to."},
            bases=['Model'],
        ),
    ]
