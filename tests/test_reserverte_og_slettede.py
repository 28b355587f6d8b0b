"""Reserved, deleted and unregistered persons are answered as the real register answers them.

A reservation is against digital post, not against being notified (seed 000: "Sjølv om ein er
reservert mot digital kommunikasjon vil ein motta varsel"; Digdir's test data hands out a
reserved person's mobile and e-mail): a reserved AKTIV person is KAN_IKKE_VARSLES, their contact
information is handed out like anyone's (with varslingsstatus asked, expired channels are still
withheld), their mailbox and certificate never are. SLETTET and IKKE_REGISTRERT give only id,
status and varslingsstatus. Every way of disclosing persons is held to it: GraphQL, REST, the
change feed over both, the resident's own entry.
"""

from __future__ import annotations

import pytest

from app.personer.models import Registerstatus
from tests.factories import DIGIPOST, months_ago, new_id, person, provider
from tests.test_feed import registrert
from tests.test_lookup import ALL_FIELDS, BOTH, KONTAKT, NO_VARSLING, POST, UNKNOWN, lookup
from tests.test_residents import meg, mutate, resident
from tests.test_rest import ENDRINGER, PERSONER, rest

HENTENDRING = "krr:global/hentendring.read"
MAILBOX = {"postkasseadresse": "reservert#digipost", "postkasseleverandoer_id": DIGIPOST}


async def reservert_med_postkasse(pid: str, **fields) -> None:
    """Reserved two months ago, both channels fresh, a Digipost mailbox with a certificate
    (Digdir's "Digipost med reservasjon")."""
    await provider()
    fields = {"epost": "reservert@example.no", "mobil": "+4790000077", **fields}
    await person(pid, reservasjon=True, reservasjonstidspunkt=months_ago(2), **MAILBOX, **fields)


# --- reserved persons: GraphQL ---------------------------------------------------------------

@pytest.mark.parametrize("fields", [ALL_FIELDS, NO_VARSLING], ids=["with_varslingsstatus",
                                                                    "without_varslingsstatus"])
async def test_a_reserved_persons_contact_information_is_handed_out_but_never_the_mailbox(
    client, mint, fields
):
    pid = new_id(70)
    await reservert_med_postkasse(pid)
    body = await lookup(client, mint(BOTH), [pid], fields)
    assert "errors" not in body, body
    [p] = body["data"]["personer"]
    assert p["reservasjon"] == "JA"
    assert p["reservasjonstidspunkt"] is not None
    if "varslingsstatus" in fields:
        assert p["varslingsstatus"] == "KAN_IKKE_VARSLES"
    k = p["kontaktinformasjon"]
    assert (k["epostadresse"], k["mobiltelefonnummer"]) == ("reservert@example.no",
                                                            "+4790000077")
    assert k["epostadresseOppdatert"] is not None and k["mobiltelefonnummerSistVerifisert"]
    assert p["digitalPost"] is None
    assert p["sertifikat"] is None


async def test_a_reserved_persons_expired_channel_is_still_withheld_when_varslingsstatus_is_asked(
    client, mint
):
    pid = new_id(71)
    await reservert_med_postkasse(pid, epost_alder=19)
    [filtered] = (await lookup(client, mint(BOTH), [pid]))["data"]["personer"]
    assert filtered["varslingsstatus"] == "KAN_IKKE_VARSLES"
    assert filtered["kontaktinformasjon"]["epostadresse"] is None
    assert filtered["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000077"
    [unfiltered] = (await lookup(client, mint(BOTH), [pid], NO_VARSLING))["data"]["personer"]
    assert unfiltered["kontaktinformasjon"]["epostadresse"] == "reservert@example.no"
    assert unfiltered["digitalPost"] is None


async def test_a_reserved_person_with_both_channels_expired_gets_nothing_with_varslingsstatus(
    client, mint
):
    pid = new_id(72)
    await reservert_med_postkasse(pid, epost_alder=20, mobil_alder=20)
    [p] = (await lookup(client, mint(BOTH), [pid]))["data"]["personer"]
    assert p["kontaktinformasjon"] is None and p["digitalPost"] is None
    assert p["sertifikat"] is None


async def test_lifting_the_reservation_hands_out_the_mailbox_again(client, mint):
    pid = new_id(73)
    await reservert_med_postkasse(pid)
    body, _ = await mutate(client, resident(mint, pid), "opphevReservasjon",
                           "meg { person { reservasjon } }")
    assert "errors" not in body, body
    [p] = (await lookup(client, mint(BOTH), [pid]))["data"]["personer"]
    assert p["varslingsstatus"] == "KAN_VARSLES"
    assert p["digitalPost"]["postkasseadresse"] == "reservert#digipost"
    assert p["sertifikat"]


# --- reserved persons: REST ------------------------------------------------------------------

@pytest.mark.parametrize("scopes", [BOTH, KONTAKT, POST])
async def test_rest_hands_out_a_reserved_persons_contact_information_but_never_the_mailbox(
    client, mint, scopes
):
    """REST asks for varslingsstatus whenever the contact scope is in the token: with it, the
    reserved person's fresh channels still come back; without it (the mailbox scope alone) no
    contact information is asked for, and the mailbox is withheld either way."""
    pid = new_id(74)
    await reservert_med_postkasse(pid)
    response = await rest(client, PERSONER, mint(scopes), {"personidentifikatorer": [pid]})
    assert response.status_code == 200, response.text
    [p] = response.json()["personer"]
    assert p["reservasjon"] == "JA"
    assert "digital_post" not in p and "sertifikat" not in p
    if KONTAKT in scopes:
        assert p["varslingsstatus"] == "KAN_IKKE_VARSLES"
        assert p["kontaktinformasjon"]["epostadresse"] == "reservert@example.no"
        assert p["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000077"
    else:
        assert "kontaktinformasjon" not in p and "varslingsstatus" not in p


# --- reserved persons: the change feed and the resident's own entry ---------------------------

async def test_the_feed_never_carries_a_reserved_persons_mailbox(client, mint):
    pid = new_id(75)
    await provider()
    await registrert(pid, epost="reservert@example.no", mobil="+4790000077", reservasjon=True,
                     reservasjonstidspunkt=months_ago(2), **MAILBOX)
    token = mint(f"{HENTENDRING} {BOTH}")
    response = await rest(client, ENDRINGER, token, {"fraEndringsId": 0})
    [p] = [p for p in response.json()["list"] if p["personidentifikator"] == pid]
    assert p["kontaktinformasjon"]["mobiltelefonnummer"] == "+4790000077"
    assert "digital_post" not in p and "sertifikat" not in p


async def test_a_reserved_resident_still_sees_their_own_mailbox(client, mint):
    pid = new_id(76)
    await reservert_med_postkasse(pid)
    body = await meg(client, resident(mint, pid), f"person {{ {NO_VARSLING} }}")
    assert "errors" not in body, body
    p = body["data"]["meg"]["person"]
    assert p["reservasjon"] == "JA"
    assert p["digitalPost"]["postkasseadresse"] == "reservert#digipost"


# --- deleted and unregistered persons --------------------------------------------------------

async def test_deleted_and_unregistered_persons_have_no_reservation_in_graphql(client, mint):
    deleted = new_id(77)
    await person(deleted, status=Registerstatus.SLETTET, epost=None, mobil=None,
                 reservasjon=True, reservasjonstidspunkt=months_ago(3))
    body = await lookup(client, mint(BOTH), [deleted, UNKNOWN])
    assert "errors" not in body, body
    for p, status in zip(body["data"]["personer"], ("SLETTET", "IKKE_REGISTRERT"), strict=True):
        assert p["status"] == status
        assert p["varslingsstatus"] == "KAN_IKKE_VARSLES"
        assert p["reservasjon"] is None and p["reservasjonstidspunkt"] is None
        assert p["reservasjonOppdatert"] is None


async def test_deleted_and_unregistered_persons_give_only_id_status_and_varslingsstatus_in_rest(
    client, mint
):
    deleted = new_id(78)
    await person(deleted, status=Registerstatus.SLETTET, epost=None, mobil=None,
                 reservasjon=True, reservasjonstidspunkt=months_ago(3))
    response = await rest(client, PERSONER, mint(BOTH), {
        "personidentifikatorer": [deleted, UNKNOWN], "inkluderIkkeRegistrerte": True})
    assert response.json()["personer"] == [
        {"personidentifikator": deleted, "status": "SLETTET",
         "varslingsstatus": "KAN_IKKE_VARSLES"},
        {"personidentifikator": UNKNOWN, "status": "IKKE_REGISTRERT",
         "varslingsstatus": "KAN_IKKE_VARSLES"},
    ]


async def test_a_deleted_person_in_the_feed_gives_only_id_and_status(client, mint):
    deleted = new_id(79)
    await registrert(deleted, status=Registerstatus.SLETTET, epost=None, mobil=None,
                     reservasjon=True, reservasjonstidspunkt=months_ago(3))
    response = await rest(client, ENDRINGER, mint(f"{HENTENDRING} {BOTH}"), {"fraEndringsId": 0})
    [p] = [p for p in response.json()["list"] if p["personidentifikator"] == deleted]
    assert p == {"personidentifikator": deleted, "status": "SLETTET"}
