from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0005_person_duplikatflagg')]

    initial = False

    operations = [
        # The organisation of whoever revoked (the giver, or the receiver giving it up): a
        # person's id is shown only to the person's own organisation. Revocations before this
        # release keep NULL: their side is not known, so neither party is shown the actor.
        ops.AddField(
            model_name='Delegering',
            name='trukket_tilbake_av_org',
            field=fields.CharField(max_length=9, null=True),
        ),
    ]
