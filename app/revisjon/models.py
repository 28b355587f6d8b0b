"""Tables of the audit log. Append-only: the service inserts, and only pruning deletes.

Only the request row is a model (for reading it in tests and tools). Its persons live in
`oppslag_person`, one row per person disclosed, which has no key of its own and is written and
read with SQL (app.revisjon.store). On PostgreSQL both tables are partitioned by month
(app.revisjon.partisjoner; migration 0011 made them), so the database's primary key of
`oppslag` is (id, tidspunkt).
"""

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
