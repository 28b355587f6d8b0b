from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_delegering_oppslag')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='OppslagPerson',
            index=Index(fields=['oppslag_id'], name='oppslag_person_oppslag_idx'),
        ),
    ]
