"""GraphQL types of a person's entry. Resolvers hand back app.personer.utlevering's answers as
they are: the types below read the same attributes (a test holds the two together)."""

from __future__ import annotations

import datetime as dt

import strawberry

from app.api.internals import enum
from app.personer.paragraf32 import Varslingsstatus
from app.personer.utlevering import JaNei, Status

# The domain's enums, named for the schema (strawberry.enum registers the class itself).
enum(
    Status, name="Status", description="The entry's state in the register.",
    verdier={
        Status.AKTIV: "Registered: the entry holds the person's contact information.",
        Status.SLETTET: "Deleted from the register: contact information and mailbox removed, "
        "everything comes on paper. Only id, status and varslingsstatus are given.",
        Status.IKKE_REGISTRERT: "Never registered: no entry. Only id, status and "
        "varslingsstatus are given.",
    },
)
enum(
    JaNei, name="JaNei", description="Yes or no, as the real register writes it.",
    verdier={JaNei.JA: "Yes.", JaNei.NEI: "No."},
)
enum(
    Varslingsstatus,
    name="Varslingsstatus",
    description="Whether a § 8 notice may be sent digitally (eForvaltningsforskriften § 32).",
    verdier={
        Varslingsstatus.KAN_VARSLES: "AKTIV, not reserved, and at least one channel updated "
        "or confirmed within the last 18 months: notify digitally.",
        Varslingsstatus.KAN_IKKE_VARSLES: "Reserved, SLETTET, IKKE_REGISTRERT, or both "
        "channels past 18 months: send on paper.",
    },
)


@strawberry.type(description="E-mail and mobile with the dates that decide § 32 freshness.")
class Kontaktinformasjon:
    epostadresse: str | None = strawberry.field(
        description="The e-mail address; null when none is registered, or when it is past 18 "
        "months and varslingsstatus was selected (§ 32 filtering)."
    )
    epostadresse_oppdatert: dt.datetime | None = strawberry.field(
        description="When the e-mail address was last changed; null with no address."
    )
    epostadresse_sist_verifisert: dt.datetime | None = strawberry.field(
        description="Last confirmed as correct by the person; null if never."
    )
    epostadresse_sist_validert: dt.datetime | None = strawberry.field(
        description="Last proved with a one-time code; null if never."
    )
    epostadresse_duplisert: JaNei | None = strawberry.field(
        description="JA when another active person has the same address; null with no address."
    )
    mobiltelefonnummer: str | None = strawberry.field(
        description="The mobile number (E.164, e.g. +4798765432); null when none is "
        "registered, or when it is past 18 months and varslingsstatus was selected (§ 32 "
        "filtering)."
    )
    mobiltelefonnummer_oppdatert: dt.datetime | None = strawberry.field(
        description="When the mobile number was last changed; null with no number."
    )
    mobiltelefonnummer_sist_verifisert: dt.datetime | None = strawberry.field(
        description="Last confirmed as correct by the person; null if never."
    )
    mobiltelefonnummer_sist_validert: dt.datetime | None = strawberry.field(
        description="Last proved with a one-time code; null if never."
    )
    mobiltelefonnummer_duplisert: JaNei | None = strawberry.field(
        description="JA when another active person has the same number; null with no number."
    )


@strawberry.type(description="The person's digital mailbox.")
class DigitalPost:
    postkasseadresse: str = strawberry.field(
        description="The address in the provider's mailbox, e.g. kjell#digipost."
    )
    postkasseleverandoeradresse: str = strawberry.field(
        description="Organisation number of the mailbox provider."
    )


@strawberry.type(
    description="One person's entry as disclosed to the caller: the token's scopes decide the "
    "fields (in `meg`, the resident's krr:user scopes instead; see Meg.person)."
)
class Person:
    personidentifikator: str = strawberry.field(
        description="The id asked for: fødselsnummer or D-number (11 digits). Any lookup scope."
    )
    status: Status = strawberry.field(
        description="Whether the person is in the register. Any lookup scope."
    )
    reservasjon: JaNei | None = strawberry.field(
        description="Reserved against digital communication (letters on paper; notices still "
        "go out). Any lookup scope. Null for SLETTET and IKKE_REGISTRERT, as the real register "
        "gives none."
    )
    reservasjonstidspunkt: dt.datetime | None = strawberry.field(
        description="When the person reserved; null unless reserved. Any lookup scope."
    )
    reservasjon_oppdatert: dt.datetime | None = strawberry.field(
        description="When the reservation was last set or lifted; null for SLETTET and "
        "IKKE_REGISTRERT. Any lookup scope."
    )
    varslingsstatus: Varslingsstatus | None = strawberry.field(
        description=(
            "KAN_VARSLES when AKTIV, not reserved and at least one channel is fresh (§ 32). "
            "Selecting it switches § 32 filtering on: expired channels are withheld, and when "
            "both are expired the mailbox and certificate too. A reserved person's contact "
            "information is given as anyone's; their mailbox and certificate never are. Needs "
            "krr:global/kontaktinformasjon.read (null and a FORBIDDEN error without it)."
        )
    )
    kontaktinformasjon: Kontaktinformasjon | None = strawberry.field(
        description="E-mail and mobile with their dates. Needs "
        "krr:global/kontaktinformasjon.read (null and a FORBIDDEN error without it). Null too "
        "for SLETTET and IKKE_REGISTRERT, and when varslingsstatus was selected and both "
        "channels are past 18 months (§ 32)."
    )
    digital_post: DigitalPost | None = strawberry.field(
        description="The chosen digital mailbox. Needs krr:global/digitalpost.read (null and a "
        "FORBIDDEN error without it). Null too with no mailbox, for a reserved person, and when "
        "varslingsstatus was selected and both channels are past 18 months (§ 32)."
    )
    sertifikat: str | None = strawberry.field(
        description=(
            "The mailbox provider's X.509 encryption certificate: bare base64 of its DER "
            "encoding (xs:base64Binary), no PEM armour, no line breaks, as the real register "
            "gives it; decode it with a plain base64 decoder. Needs krr:global/digitalpost.read; "
            "null when digitalPost is."
        )
    )
    spraak: str | None = strawberry.field(
        description="Preferred language of letters: nb, nn, en or se. Needs "
        "krr:global/kontaktinformasjon.read (null and a FORBIDDEN error without it); null too "
        "when none is chosen."
    )
    spraak_oppdatert: dt.datetime | None = strawberry.field(
        description="When the language was last chosen; null without one. Needs "
        "krr:global/kontaktinformasjon.read."
    )
