"""The outbox and one-time codes. A message is written in the same transaction as the change
that causes it, and sent later, so a failed send is retried and never lost."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from app.personer.felt import Kanal


class Melding(Model):
    """One message to one address. `noekkel` makes queuing idempotent (one reminder per expiry)."""

    id = fields.BigIntField(primary_key=True)
    noekkel = fields.CharField(max_length=200, unique=True)
    kanal = fields.CharEnumField(Kanal, max_length=5)
    mottaker = fields.CharField(max_length=254)
    emne = fields.CharField(max_length=200)
    tekst = fields.TextField()
    opprettet = fields.DatetimeField()
    sendt = fields.DatetimeField(null=True)
    forsok = fields.IntField(default=0)
    neste_forsok = fields.DatetimeField()
    siste_feil = fields.TextField(null=True)

    class Meta:
        table = "melding"
        indexes = (Index(fields=("sendt", "neste_forsok"), name="melding_ventende_idx"),)


class Engangskode(Model):
    """A one-time code for proving a channel: kept hashed, short-lived, few tries."""

    id = fields.BigIntField(primary_key=True)
    personidentifikator = fields.CharField(max_length=11)
    kanal = fields.CharEnumField(Kanal, max_length=5)
    adresse = fields.CharField(max_length=254, description="the address the code was sent to")
    kode_hash = fields.CharField(max_length=128)
    opprettet = fields.DatetimeField()
    utloper = fields.DatetimeField()
    feil_forsok = fields.IntField(default=0)
    brukt = fields.DatetimeField(null=True)

    class Meta:
        table = "engangskode"
        indexes = (Index(fields=("personidentifikator", "kanal"), name="engangskode_pid_idx"),)
