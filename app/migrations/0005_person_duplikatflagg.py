from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_beboere_meldinger_endringer')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Person',
            name='epostadresse_duplisert',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Person',
            name='mobiltelefonnummer_duplisert',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        # The flags of the entries already there, as the lookup computed them until now (as
        # app.register.oppdater_alle_duplikater does; a migration keeps its own frozen copy).
        # Only rows whose address another row also holds can be a duplicate.
        ops.RunSQL(
            "UPDATE person SET epostadresse_duplisert = EXISTS (SELECT 1 FROM person o"
            " WHERE o.epostadresse = person.epostadresse AND o.status = 'AKTIV'"
            " AND o.personidentifikator <> person.personidentifikator)"
            " WHERE epostadresse IN (SELECT epostadresse FROM person"
            " WHERE epostadresse IS NOT NULL GROUP BY epostadresse HAVING COUNT(*) > 1)",
        ),
        ops.RunSQL(
            "UPDATE person SET mobiltelefonnummer_duplisert = EXISTS (SELECT 1 FROM person o"
            " WHERE o.mobiltelefonnummer = person.mobiltelefonnummer AND o.status = 'AKTIV'"
            " AND o.personidentifikator <> person.personidentifikator)"
            " WHERE mobiltelefonnummer IN (SELECT mobiltelefonnummer FROM person"
            " WHERE mobiltelefonnummer IS NOT NULL GROUP BY mobiltelefonnummer"
            " HAVING COUNT(*) > 1)",
        ),
    ]
