"""The REST v1 consumers that nobody here wrote, ported from their own source (docs/rest-v1.md
names each file and commit): what they send, how they parse our answer, what they do with it.
A port is as lenient as its original and never more: where the original tolerates something
(Jackson ignores `required` on a setter property) the port says so and why.
"""

from __future__ import annotations

import base64
import re
from enum import Enum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from tests.efm_jwtdecoder import getpayload

V1 = "/rest/v1/personer"


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# --- eFormidling: felleslosninger/efm-service-registry, kontakt-reservasjonsregister-client ----
# Its ObjectMapper is SRConfig's plain `new ObjectMapper()` (FAIL_ON_UNKNOWN_PROPERTIES on);
# PersonResource, ContactInfoResource and DigitalPostResource say ignoreUnknown = true,
# PersonerResponse does not. `required = true` on personidentifikator, reservasjon and status is
# not enforced: Jackson checks it for creator properties only, and these are set by setters
# (checked with Jackson 2.14: a SLETTET entry without reservasjon reads).


class _Jackson(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class EfmContactInfoResource(_Jackson):
    epostadresse: str | None = None
    epostadresse_oppdatert: str | None = None
    mobiltelefonnummer: str | None = None
    mobiltelefonnummer_oppdatert: str | None = None


class EfmDigitalPostResource(_Jackson):
    postkasseadresse: str | None = None
    postkasseleverandoeradresse: str | None = None


class EfmPersonResource(_Jackson):
    personidentifikator: str | None = None
    reservasjon: str | None = None
    status: str | None = None
    varslingsstatus: str | None = None
    kontaktinformasjon: EfmContactInfoResource | None = None
    digital_post: EfmDigitalPostResource | None = None
    sertifikat: str | None = None
    spraak: str | None = None

    def has_mailbox(self) -> bool:
        return bool(self.sertifikat) and self.digital_post is not None

    def is_reserved(self) -> bool:
        return self.reservasjon == "JA"

    def is_active(self) -> bool:
        return self.status == "AKTIV"

    def is_notifiable(self) -> bool:
        return self.varslingsstatus == "KAN_VARSLES"


class EfmPersonerResponse(BaseModel):
    """No ignoreUnknown, read by a plain ObjectMapper: any member but `personer` fails
    (UnrecognizedPropertyException)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    personer: list[EfmPersonResource] = []


async def efm_person_resource(client: httpx.AsyncClient, token: str,
                              identifier: str) -> EfmPersonResource:
    """KRRClient.getPersonResource over KontaktInfoClient.fetchKontaktInfo: one id, signed
    answer asked for, any status but 200 an error, the payload mapped and its first entry
    taken."""
    response = await client.post(V1, json={"personidentifikatorer": [identifier]}, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/jose"})
    if response.status_code != 200:
        raise RuntimeError(f"{V1} endpoint returned {response.status_code}")
    payload = getpayload(response.text)  # efm-common's JWTDecoder: the key from x5c[0]
    return EfmPersonerResponse.model_validate_json(payload).personer[0]


def efm_route(person: EfmPersonResource, obligated: bool) -> str:
    """DpiMessageRouter.route: a decision (vedtak, notification obligated) goes on paper to
    the reserved and the not notifiable; otherwise to the mailbox (DPI) of an active person
    who has one, else to Altinn (DPV)."""
    if obligated and (person.is_reserved() or not person.is_notifiable()):
        return "PRINT"
    return "DPI" if person.has_mailbox() and person.is_active() else "DPV"


# --- Vestfold og Telemark's azf-krr (vestfoldfylke/azf-krr, Lookup/index.js) -------------------

async def azf_krr_lookup(client: httpx.AsyncClient, token: str, body: Any,
                         include_inactive: bool = False) -> dict[str, Any]:
    """The Azure function: an array of ids in, v1's answer out, only AKTIV persons unless
    `includeInactive=true`; axios throws on any status outside 2xx."""
    if not isinstance(body, list):
        raise ValueError("Payload must be an array!")
    response = await client.post(V1, json={"personidentifikatorer": body}, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json",
        "Content-type": "application/json"})
    response.raise_for_status()
    persons: dict[str, Any] = response.json()
    if include_inactive:
        return persons
    return {"personer": [p for p in persons.get("personer") or []
                         if isinstance(p.get("status"), str) and p["status"].upper() == "AKTIV"]}


# --- The SMS bulletin service: knowit/Innbyggerkontakt-public, get_phone_numbers_from_krr with
# helpers/krr_models (generated from the register's OpenAPI) and phone_validator_models --------

class Reservasjon(Enum):
    JA = "JA"
    NEI = "NEI"


class Status(Enum):
    AKTIV = "AKTIV"
    SLETTET = "SLETTET"
    IKKE_REGISTRERT = "IKKE_REGISTRERT"


class Varslingsstatus(Enum):
    KAN_IKKE_VARSLES = "KAN_IKKE_VARSLES"
    KAN_VARSLES = "KAN_VARSLES"


class SmsContactInfoResource(BaseModel):
    epostadresse: str | None = None
    epostadresse_oppdatert: str | None = None
    epostadresse_sist_verifisert: str | None = None
    mobiltelefonnummer: str | None = None
    mobiltelefonnummer_oppdatert: str | None = None
    mobiltelefonnummer_sist_verifisert: str | None = None


class SmsDigitalPostResource(BaseModel):
    postkasseadresse: str | None = None
    postkasseleverandoeradresse: str | None = None


class SmsPersonResource(BaseModel):
    personidentifikator: str | None = None
    reservasjon: Reservasjon | None = None
    status: Status | None = None
    varslingsstatus: Varslingsstatus | None = None
    kontaktinformasjon: SmsContactInfoResource | None = None
    digital_post: SmsDigitalPostResource | None = None
    sertifikat: str | None = None
    spraak: str | None = None
    spraak_oppdatert: str | None = None


class HentPersonerResponse(BaseModel):
    personer: list[SmsPersonResource] | None = None


class Telefonnummer(BaseModel):
    """phone_validator_models.Telefonnummer: normalised to +<digits>, a Norwegian number a
    mobile one (its list of country calling codes left out)."""

    number: str

    @field_validator("number", mode="before")
    @classmethod
    def normalised(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.translate(str.maketrans({" ": None, "-": None, "_": None, "(": None,
                                               ")": None}))
        if len(value) == 8 and not value.startswith("+"):
            value = "+47" + value
        if value.startswith("00"):
            value = value.replace("00", "+", 1)
        if not re.match(r"^\+\d{7,15}$", value):
            raise ValueError("must be on correct form")
        if "+47" in value and not ("+474" in value or "+479" in value):
            raise ValueError("must be a mobile number")
        return value


def sms_active_and_valid(person: SmsPersonResource) -> bool:
    """services.active_and_valid: a person without contact information is skipped
    (AttributeError caught), so are the reserved and all but AKTIV."""
    try:
        Telefonnummer(number=person.kontaktinformasjon.mobiltelefonnummer)  # type: ignore[union-attr]
    except (ValueError, AttributeError):
        return False
    return (person.status == Status.AKTIV and person.reservasjon == Reservasjon.NEI
            and bool(person.kontaktinformasjon and person.kontaktinformasjon.mobiltelefonnummer))


async def sms_phone_numbers(client: httpx.AsyncClient, token: str, nnids: list[str]
                            ) -> tuple[HentPersonerResponse, list[str]]:
    """services.get_persons_from_krr, then main's filter: the numbers a bulletin goes to."""
    response = await client.post(V1, json={"personidentifikatorer": nnids}, headers={
        "content-type": "application/json", "Authorization": f"Bearer {token}"})
    response.raise_for_status()
    hent_personer_response = HentPersonerResponse(**response.json())
    active = filter(sms_active_and_valid, hent_personer_response.personer or [])
    numbers = [Telefonnummer(number=p.kontaktinformasjon.mobiltelefonnummer).number  # type: ignore[union-attr]
               for p in active]
    return hent_personer_response, numbers


# --- How clients read the register's dates ------------------------------------------------------
# Java: DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssX"): `X` parses as appendOffset("+HHmm",
# "Z"): Z, +HH or +HHmm, and `+02:00` leaves ":00" unparsed (DateTimeParseException). JDK 17's
# ISO_OFFSET_DATE_TIME reads +HH, +HH:MM and +HH:MM:ss. Both checked against JDK 17.0.15.
_DATO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
JAVA_X = re.compile(_DATO + r"(Z|[+-]\d\d(\d\d)?)")
JAVA_ISO_OFFSET_DATE_TIME = re.compile(_DATO + r"(\.\d{1,9})?(Z|[+-]\d\d(:\d\d(:\d\d)?)?)")


def system_text_json_reads(value: str) -> bool:
    """System.Text.Json (JsonHelpers.TryParseDateTimeOffset, dotnet/runtime), the part after
    the seconds: 'Z', or '+'/'-' then hh alone ("Just hours offset specified") or hh:mm."""
    if not re.fullmatch(_DATO + r".*", value):
        return False
    rest = value[19:]
    if rest == "" or rest == "Z":
        return True
    if rest[0] not in "+-":
        return False
    offset = rest[1:]
    return bool(re.fullmatch(r"\d\d", offset) or re.fullmatch(r"\d\d:\d\d", offset))


def newtonsoft_reads(value: str) -> bool:
    """Newtonsoft.Json (DateTimeParser.ParseZone): 'Z', or '+'/'-' hh, then ':mm', 'mm' or
    nothing, and then the end of the text."""
    if not re.fullmatch(_DATO + r".*", value):
        return False
    return bool(re.fullmatch(r"([Zz]|[+-]\d\d(:?\d\d)?)?", value[19:]))
