"""Tables of the audit log. Append-only: the service inserts, and only pruning deletes."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Oppslag(Model):
    """One request that disclosed person data."""

    id = fields.BigIntField(primary_key=True)
    tidspunkt = fields.DatetimeField()
    dag = fields.DateField(description="the day in Europe/Oslo, for the usage report")
    request_id = fields.CharField(max_length=64)
    consumer = fields.CharField(max_length=9)
    supplier = fields.CharField(max_length=9, null=True)
    actor = fields.CharField(max_length=200, null=True)
    scopes = fields.TextField(description="space-separated scopes the request used")
    varslingsstatus = fields.BooleanField(description="whether varslingsstatus was asked")
    antall = fields.IntField(description="number of persons disclosed")

    class Meta:
        table = "oppslag"
        indexes = (
            # "What did organisation Y look up this month", and the usage report per day.
            Index(fields=("consumer", "dag"), name="oppslag_consumer_dag_idx"),
            Index(fields=("supplier", "dag"), name="oppslag_supplier_dag_idx"),
            Index(fields=("tidspunkt",), name="oppslag_tidspunkt_idx"),
        )


class OppslagPerson(Model):
    """One person disclosed in a request, and the categories given (a bit set)."""

    id = fields.BigIntField(primary_key=True)
    oppslag: fields.ForeignKeyRelation[Oppslag] = fields.ForeignKeyField(
        "models.Oppslag", related_name="personer", on_delete=fields.CASCADE
    )
    personidentifikator = fields.CharField(max_length=11)
    tidspunkt = fields.DatetimeField(description="copied from the request, for per-person order")
    kategorier = fields.SmallIntField(description="bits: 1 grunndata, 2 kontakt, 4 digital post")

    class Meta:
        table = "oppslag_person"
        indexes = (
            # "Who looked up person X", newest first.
            Index(fields=("personidentifikator", "tidspunkt"), name="oppslag_person_pid_idx"),
            # Pruning deletes by request: without it every deleted request scans the table.
            Index(fields=("oppslag_id",), name="oppslag_person_oppslag_idx"),
        )
