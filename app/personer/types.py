"""GraphQL types of a person's entry. Resolvers hand back app.personer.utlevering's answers as
they are: the types below read the same attributes (a test holds the two together)."""

from __future__ import annotations

import datetime as dt

import strawberry

from app.personer.paragraf32 import Varslingsstatus
from app.personer.utlevering import JaNei, Status

# The domain's enums, named for the schema (strawberry.enum registers the class itself).
strawberry.enum(Status, name="Status", description="The entry's state in the register.")
strawberry.enum(JaNei, name="JaNei")
strawberry.enum(
    Varslingsstatus,
    name="Varslingsstatus",
    description="Whether a § 8 notice may be sent digitally (eForvaltningsforskriften § 32).",
)


@strawberry.type(description="E-mail and mobile with the dates that decide § 32 freshness.")
class Kontaktinformasjon:
    epostadresse: str | None
    epostadresse_oppdatert: dt.datetime | None
    epostadresse_sist_verifisert: dt.datetime | None = strawberry.field(
        description="Last confirmed as correct by the person."
    )
    epostadresse_sist_validert: dt.datetime | None = strawberry.field(
        description="Last proved with a one-time code."
    )
    epostadresse_duplisert: JaNei | None = strawberry.field(
        description="JA when another active person has the same address."
    )
    mobiltelefonnummer: str | None
    mobiltelefonnummer_oppdatert: dt.datetime | None
    mobiltelefonnummer_sist_verifisert: dt.datetime | None
    mobiltelefonnummer_sist_validert: dt.datetime | None
    mobiltelefonnummer_duplisert: JaNei | None


@strawberry.type(description="The person's digital mailbox.")
class DigitalPost:
    postkasseadresse: str
    postkasseleverandoeradresse: str = strawberry.field(
        description="Organisation number of the mailbox provider."
    )


@strawberry.type(description="One person's entry as disclosed to the caller.")
class Person:
    personidentifikator: str
    status: Status
    reservasjon: JaNei | None = strawberry.field(
        description="Reserved against digital communication (letters on paper; notices still "
        "go out). Null for SLETTET and IKKE_REGISTRERT, as the real register gives none."
    )
    reservasjonstidspunkt: dt.datetime | None = strawberry.field(
        description="Only when reserved."
    )
    reservasjon_oppdatert: dt.datetime | None
    varslingsstatus: Varslingsstatus | None = strawberry.field(
        description=(
            "KAN_VARSLES when AKTIV, not reserved and at least one channel is fresh (§ 32). "
            "Selecting it switches § 32 filtering on: expired channels are withheld, and when "
            "both are expired the mailbox and certificate too. A reserved person's contact "
            "information is given as anyone's; their mailbox and certificate never are."
        )
    )
    kontaktinformasjon: Kontaktinformasjon | None
    digital_post: DigitalPost | None
    sertifikat: str | None = strawberry.field(
        description=(
            "The mailbox provider's X.509 encryption certificate: bare base64 of its DER "
            "encoding (xs:base64Binary), no PEM armour, no line breaks, as the real register "
            "gives it; decode it with a plain base64 decoder."
        )
    )
    spraak: str | None = strawberry.field(description="nb, nn, en or se.")
    spraak_oppdatert: dt.datetime | None
