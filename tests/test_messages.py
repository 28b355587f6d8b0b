"""The outbox and its senders: queued once, sent once, failures kept and retried later."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

from app import db as database
from app.config import ConfigError, Settings, load_settings
from app.meldinger import outbox
from app.meldinger.models import Kanal, Melding
from app.meldinger.outbox import (
    LEASE,
    SendeFeil,
    UtgaaendeMelding,
    backoff,
    kjoer_utsender,
    legg_i_utboks,
    send_ventende,
)
from app.meldinger.senders import (
    IkkeKonfigurert,
    LoggingSender,
    SmsSender,
    SmtpSender,
    message_id,
    sender_for,
    utsender,
)
from tests.conftest import FIXED_NOW
from tests.servers import free_port

NOW = FIXED_NOW
SECOND = dt.timedelta(seconds=1)


class Opptak:
    """A sender that records what it sent, or fails with `feil`."""

    def __init__(self, feil: Exception | None = None) -> None:
        self.feil = feil
        self.sendt: list[UtgaaendeMelding] = []

    async def send(self, melding: UtgaaendeMelding) -> None:
        await asyncio.sleep(0)  # let a concurrent dispatcher run in between
        if self.feil is not None:
            raise self.feil
        self.sendt.append(melding)


async def queue(
    n: int = 1,
    *,
    kanal: Kanal = Kanal.EPOST,
    mottaker: str = "kari@example.no",
    prefix: str = "test",
    tekst: str = "Hei",
    naa: dt.datetime = NOW,
) -> list[bool]:
    async with in_transaction() as conn:
        return [
            await legg_i_utboks(
                conn, noekkel=f"{prefix}:{i}", kanal=kanal, mottaker=mottaker,
                emne="Emne", tekst=tekst, naa=naa,
            )
            for i in range(n)
        ]


# --- queuing ---------------------------------------------------------------------------------


async def test_queuing_is_idempotent_on_the_key(db):
    assert await queue() == [True]
    assert await queue() == [False]
    assert await Melding.all().count() == 1
    melding = await Melding.get(noekkel="test:0")
    assert (melding.kanal, melding.mottaker, melding.forsok, melding.sendt) == (
        Kanal.EPOST, "kari@example.no", 0, None,
    )
    assert melding.neste_forsok == NOW


async def test_a_queued_message_rolls_back_with_the_callers_transaction(db):
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await legg_i_utboks(conn, noekkel="k", kanal=Kanal.MOBIL, mottaker="+4791234567",
                                emne="", tekst="t", naa=NOW)
            raise RuntimeError("the change that caused it failed")
    assert await Melding.all().count() == 0


# --- sending ---------------------------------------------------------------------------------


async def test_a_due_message_is_sent_once_and_marked(db):
    await queue(3)
    sender = Opptak()
    assert await send_ventende(sender, NOW) == (3, 0)
    assert [m.mottaker for m in sender.sendt] == ["kari@example.no"] * 3
    assert all(m.sendt == NOW for m in await Melding.all())
    assert await send_ventende(sender, NOW + dt.timedelta(days=1)) == (0, 0)
    assert len(sender.sendt) == 3


async def test_a_message_is_not_sent_before_it_is_due(db):
    await queue(naa=NOW)
    sender = Opptak()
    assert await send_ventende(sender, NOW - SECOND) == (0, 0)
    assert await send_ventende(sender, NOW) == (1, 0)


async def test_batches_are_bounded(db):
    await queue(5)
    sender = Opptak()
    assert await send_ventende(sender, NOW, batch=2) == (2, 0)
    assert await send_ventende(sender, NOW, batch=10) == (3, 0)


async def test_a_failed_message_stays_queued_and_is_retried_after_its_backoff(db):
    await queue()
    assert await send_ventende(Opptak(SendeFeil("SMTP 451")), NOW) == (0, 1)
    melding = await Melding.get(noekkel="test:0")
    assert (melding.sendt, melding.forsok, melding.siste_feil) == (None, 1, "SMTP 451")
    assert melding.neste_forsok == NOW + dt.timedelta(seconds=30)

    sender = Opptak()
    assert await send_ventende(sender, NOW + 29 * SECOND) == (0, 0)  # not before neste_forsok
    assert await send_ventende(Opptak(SendeFeil("SMTP 451")), NOW + 30 * SECOND) == (0, 1)
    melding = await Melding.get(noekkel="test:0")
    assert melding.forsok == 2
    assert melding.neste_forsok == NOW + 30 * SECOND + dt.timedelta(minutes=1)

    later = NOW + dt.timedelta(hours=1)
    assert await send_ventende(sender, later) == (1, 0)
    melding = await Melding.get(noekkel="test:0")
    assert (melding.sendt, melding.forsok, melding.siste_feil) == (later, 2, None)


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(50) == dt.timedelta(hours=1)


async def test_an_unexpected_error_is_stored_and_logged_without_its_text(db, caplog):
    await queue()
    caplog.set_level(logging.INFO)
    failing = Opptak(RuntimeError("550 kari@example.no unknown"))
    assert await send_ventende(failing, NOW) == (0, 1)
    assert (await Melding.get(noekkel="test:0")).siste_feil == "RuntimeError"
    assert "kari@example.no" not in caplog.text


async def test_two_dispatchers_at_once_never_send_the_same_message(db):
    await queue(30)
    first, second = Opptak(), Opptak()
    (sent1, failed1), (sent2, failed2) = await asyncio.gather(
        send_ventende(first, NOW), send_ventende(second, NOW)
    )
    ids = [m.id for m in first.sendt + second.sendt]
    assert sorted(ids) == sorted(set(ids))
    assert sent1 + sent2 == len(ids) == 30
    assert failed1 == failed2 == 0
    assert await Melding.filter(sendt__isnull=True).count() == 0


async def test_a_message_marked_sent_is_never_sent_again(db):
    await queue()
    melding = await Melding.get(noekkel="test:0")
    melding.sendt = NOW - dt.timedelta(days=1)
    melding.neste_forsok = NOW - dt.timedelta(days=2)
    await melding.save()
    sender = Opptak()
    assert await send_ventende(sender, NOW + dt.timedelta(days=30)) == (0, 0)
    assert sender.sendt == []


async def test_a_claimed_message_waits_for_its_lease(db):
    """A dispatcher that died after claiming: nobody else sends it until the lease runs out."""
    await queue()
    melding = await Melding.get(noekkel="test:0")
    assert await outbox._claim(database.connection(), melding.id, NOW)
    sender = Opptak()
    assert await send_ventende(sender, NOW + LEASE - SECOND) == (0, 0)
    assert await send_ventende(sender, NOW + LEASE) == (1, 0)


async def test_a_code_leaves_the_outbox_once_sent(db):
    async with in_transaction() as conn:
        await legg_i_utboks(conn, noekkel="kode:MOBIL:abc", kanal=Kanal.MOBIL,
                            mottaker="+4791234567", emne="Kode", tekst="Din kode er 123456.",
                            naa=NOW)
    sender = Opptak()
    assert await send_ventende(sender, NOW) == (1, 0)
    assert sender.sendt[0].tekst == "Din kode er 123456."
    assert "123456" not in (await Melding.get(noekkel="kode:MOBIL:abc")).tekst


# --- the dispatcher loop ---------------------------------------------------------------------


async def test_the_dispatcher_loop_survives_errors_and_stops(db, monkeypatch, caplog):
    await queue(2)
    real = outbox.send_ventende
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(outbox, "send_ventende", flaky)
    monkeypatch.setattr(outbox, "_utc_now", lambda: NOW)
    sender, stopp = Opptak(), asyncio.Event()
    task = asyncio.create_task(kjoer_utsender(sender, intervall=0.01, stopp=stopp))
    for _ in range(200):
        if len(sender.sendt) == 2:
            break
        await asyncio.sleep(0.01)
    stopp.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(sender.sendt) == 2
    assert "utsendingen feilet" in caplog.text


async def test_the_app_dispatcher_sends_in_the_background(db, tmp_path):
    await queue(tekst="Hei fra bakgrunnen", naa=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    settings = Settings(env="test", database_url=db.database_url, var_dir=tmp_path,
                        outbox_interval=0.05)
    async with utsender(settings):
        for _ in range(200):
            if await Melding.filter(sendt__isnull=False).count():
                break
            await asyncio.sleep(0.02)
    assert await Melding.filter(sendt__isnull=True).count() == 0
    assert "Hei fra bakgrunnen" in (tmp_path / "meldinger.txt").read_text()


# --- senders ---------------------------------------------------------------------------------


class Postkasse:
    """An aiosmtpd handler keeping what it receives; refuses recipients at `avvis`."""

    def __init__(self) -> None:
        self.mottatt: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("avvis@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mottatt.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    handler = Postkasse()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}?from=noreply@krr.test"
    finally:
        controller.stop()


async def test_smtp_delivers_the_message(db, smtp_server):
    handler, url = smtp_server
    await queue(tekst="Din kode er 654321.\nHilsen KRR", mottaker="ola@example.no")
    assert await send_ventende(SmtpSender(url), NOW) == (1, 0)
    [envelope] = handler.mottatt
    assert envelope.mail_from == "noreply@krr.test"
    assert envelope.rcpt_tos == ["ola@example.no"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "Emne"
    assert mail["To"] == "ola@example.no"
    assert mail.get_content().replace("\r\n", "\n").strip() == "Din kode er 654321.\nHilsen KRR"
    assert (await Melding.get(noekkel="test:0")).sendt == NOW


async def test_smtp_sends_an_international_domain_in_ascii(smtp_server):
    handler, url = smtp_server
    await SmtpSender(url).send(UtgaaendeMelding(1, Kanal.EPOST, "kari@blåbær.no", "Æ", "ø"))
    assert handler.mottatt[0].rcpt_tos == ["kari@" + "blåbær.no".encode("idna").decode()]


async def test_smtp_refusal_and_a_dead_server_leave_the_message_queued(db, smtp_server):
    _, url = smtp_server
    await queue(mottaker="avvis@example.no")
    assert await send_ventende(SmtpSender(url), NOW) == (0, 1)
    melding = await Melding.get(noekkel="test:0")
    assert (melding.sendt, melding.siste_feil) == (None, "SMTP: mottakeren ble avvist")
    assert "avvis@" not in melding.siste_feil

    dead = SmtpSender(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(SendeFeil, match="SMTP: ConnectionRefusedError"):
        await dead.send(UtgaaendeMelding(1, Kanal.EPOST, "x@example.no", "e", "t"))


def test_smtp_url_options():
    sender = SmtpSender("smtps://bruker:hemm%40lig@mail.example.no?from=krr@example.no")
    assert (sender.tls, sender.host, sender.port) == (True, "mail.example.no", 465)
    assert (sender.username, sender.password, sender.from_addr) == (
        "bruker", "hemm@lig", "krr@example.no",
    )
    plain = SmtpSender("smtp://localhost")
    assert (plain.port, plain.from_addr, plain.starttls) == (25, "krr@localhost", False)


GATEWAY = "https://sms.example.no/send"


async def test_sms_is_posted_to_the_gateway(db):
    await queue(kanal=Kanal.MOBIL, mottaker="+4791234567", tekst="Din kode er 111222.")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(GATEWAY).mock(return_value=httpx.Response(202))
        sender = SmsSender(GATEWAY)
        assert await send_ventende(sender, NOW) == (1, 0)
        await sender.aclose()
    assert json.loads(route.calls.last.request.content) == {
        "to": "+4791234567", "message": "Din kode er 111222.",
    }
    assert (await Melding.get(noekkel="test:0")).sendt == NOW


async def test_a_gateway_error_leaves_the_sms_queued(db):
    await queue(kanal=Kanal.MOBIL, mottaker="+4791234567")
    with respx.mock() as mock:
        mock.post(GATEWAY).mock(
            side_effect=[httpx.Response(500), httpx.ConnectError("down"), httpx.Response(200)]
        )
        sender = SmsSender(GATEWAY)
        assert await send_ventende(sender, NOW) == (0, 1)
        melding = await Melding.get(noekkel="test:0")
        assert (melding.sendt, melding.forsok) == (None, 1)
        assert melding.siste_feil == "SMS-gatewayen svarte HTTP 500"
        assert await send_ventende(sender, NOW + dt.timedelta(minutes=1)) == (0, 1)
        assert (await Melding.get(noekkel="test:0")).siste_feil == "SMS-gatewayen: ConnectError"
        assert await send_ventende(sender, NOW + dt.timedelta(hours=1)) == (1, 0)
        await sender.aclose()


# --- a crash after the handover: sent again, with the same reference --------------------------

REFERANSE = re.compile(r"krr-melding-\d+-\d{20}")


class Gateway:
    """An SMS gateway that de-duplicates on Idempotency-Key: a repeated key is answered like the
    first and delivers nothing. With `henger`, it takes the message and then never answers."""

    def __init__(self, *, henger: bool = False) -> None:
        self.henger = henger
        self.requests: list[httpx.Request] = []
        self.levert: list[dict[str, str]] = []
        self.tatt_imot = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = request.headers.get("Idempotency-Key")
        if key is None or key not in {r.headers.get("Idempotency-Key") for r in self.requests[:-1]}:
            self.levert.append(json.loads(request.content))
        self.tatt_imot.set()
        if self.henger:
            await asyncio.Event().wait()  # until the dispatcher is cancelled
        return httpx.Response(202)


async def _database_away(*args: Any, **kwargs: Any) -> None:
    raise OSError("database away")


@pytest.mark.parametrize("krasj", ["marking it sent fails", "stopped awaiting the answer"])
async def test_an_sms_the_gateway_took_before_a_crash_is_sent_again_with_the_same_key(
    db, monkeypatch, krasj
):
    """The gateway took the message, then the dispatcher never marked it sent (the database
    went away; the process was stopped while the gateway answered). The lease runs out and it
    goes again, under the same Idempotency-Key: a de-duplicating gateway delivers it once."""
    await queue(kanal=Kanal.MOBIL, mottaker="+4791234567", prefix="kode:MOBIL",
                tekst="Din kode er 111222.")
    gateway = Gateway(henger=krasj.startswith("stopped"))
    with respx.mock() as mock:
        mock.post(GATEWAY).mock(side_effect=gateway)
        sender = SmsSender(GATEWAY)
        if gateway.henger:
            task = asyncio.create_task(send_ventende(sender, NOW))
            await asyncio.wait_for(gateway.tatt_imot.wait(), timeout=10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gateway.henger = False
        else:
            with monkeypatch.context() as patch:
                patch.setattr(outbox, "_merk_sendt", _database_away)
                with pytest.raises(OSError):
                    await send_ventende(sender, NOW)
        melding = await Melding.get(noekkel="kode:MOBIL:0")
        assert melding.sendt is None and "111222" in melding.tekst  # kept for the next try
        assert await send_ventende(sender, NOW + LEASE - SECOND) == (0, 0)  # still claimed
        assert await send_ventende(sender, NOW + LEASE) == (1, 0)
        await sender.aclose()
    first, second = gateway.requests
    key = first.headers["Idempotency-Key"]
    assert REFERANSE.fullmatch(key) and key.startswith(f"krr-melding-{melding.id}-")
    assert second.headers["Idempotency-Key"] == key
    assert first.headers["X-Message-ID"] == second.headers["X-Message-ID"] == key
    assert gateway.levert == [{"to": "+4791234567", "message": "Din kode er 111222."}]
    melding = await Melding.get(noekkel="kode:MOBIL:0")
    assert melding.sendt == NOW + LEASE and "111222" not in melding.tekst
    assert await send_ventende(sender, NOW + 2 * LEASE) == (0, 0)  # and never again


async def test_an_email_the_server_took_before_a_crash_is_sent_again_with_the_same_message_id(
    db, smtp_server, monkeypatch
):
    """The SMTP server took the e-mail and marking it sent failed: after the lease it is sent
    again with the same Message-ID, so a mail system that drops a repeated one delivers one."""
    handler, url = smtp_server
    await queue(mottaker="ola@example.no")
    sender = SmtpSender(url)
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "_merk_sendt", _database_away)
        with pytest.raises(OSError):
            await send_ventende(sender, NOW)
    assert await send_ventende(sender, NOW + LEASE - SECOND) == (0, 0)
    assert await send_ventende(sender, NOW + LEASE) == (1, 0)
    mails = [email.message_from_bytes(e.original_content, policy=email.policy.default)
             for e in handler.mottatt]
    assert len(mails) == 2
    melding = await Melding.get(noekkel="test:0")
    [mid] = {m["Message-ID"] for m in mails}
    found = re.fullmatch(r"<(krr-melding-\d+-\d{20})@krr\.test>", mid)
    assert found and found.group(1).startswith(f"krr-melding-{melding.id}-")
    assert melding.sendt == NOW + LEASE


async def test_every_try_of_a_message_carries_its_own_stable_reference(db):
    """Failed tries and the one that goes through: one reference per message, never shared,
    with no number, address or text in it."""
    await queue(2, kanal=Kanal.MOBIL, mottaker="+4791234567")
    with respx.mock() as mock:
        route = mock.post(GATEWAY).mock(side_effect=[
            httpx.Response(500), httpx.ConnectError("down"), httpx.Response(202),
            httpx.Response(202),
        ])
        sender = SmsSender(GATEWAY)
        assert await send_ventende(sender, NOW) == (0, 2)
        assert await send_ventende(sender, NOW + dt.timedelta(minutes=1)) == (2, 0)
        await sender.aclose()
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys[0] == keys[2] != keys[1] == keys[3]
    assert all(REFERANSE.fullmatch(k) and "91234567" not in k for k in keys)


def test_a_reference_does_not_repeat_when_ids_start_over():
    """Ids can repeat (a database restored from a backup, a test register): the queuing time
    keeps a de-duplicating gateway from dropping a new message as an old one."""
    oslo = dt.timezone(dt.timedelta(hours=2))
    a = UtgaaendeMelding(5, Kanal.MOBIL, "+4791234567", "e", "t", opprettet=NOW)
    b = UtgaaendeMelding(5, Kanal.MOBIL, "+4791234567", "e", "t",
                         opprettet=NOW + dt.timedelta(microseconds=1))
    assert a.referanse == "krr-melding-5-20260615120000000000"
    assert b.referanse == "krr-melding-5-20260615120000000001"
    assert UtgaaendeMelding(5, Kanal.MOBIL, "x", "e", "t",
                            opprettet=NOW.astimezone(oslo)).referanse == a.referanse
    assert message_id(a, "KRR <noreply@krr.test>") == (
        "<krr-melding-5-20260615120000000000@krr.test>"
    )
    assert message_id(a, "") == "<krr-melding-5-20260615120000000000@localhost>"


async def test_logging_sender_never_logs_the_address_or_the_text(caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    fil = tmp_path / "meldinger.txt"
    sender = LoggingSender(fil)
    await sender.send(UtgaaendeMelding(7, Kanal.EPOST, "kari.nordmann@example.no", "Kode",
                                       "Din kode er 424242."))
    await sender.send(UtgaaendeMelding(8, Kanal.MOBIL, "+4791234567", "Kode",
                                       "Din kode er 535353."))
    for secret in ("kari.nordmann", "example.no", "91234567", "424242", "535353"):
        assert secret not in caplog.text
    assert "melding 7" in caplog.text and "melding 8" in caplog.text
    assert "Din kode er 424242." in fil.read_text()  # the developer's copy, not the log


async def test_the_senders_follow_the_configuration(tmp_path: Path):
    base = {"KRR_VAR_DIR": str(tmp_path)}
    dev = sender_for(load_settings(base))
    assert all(isinstance(s, LoggingSender) for s in dev.senders.values())
    prod = sender_for(load_settings(base | {"KRR_ENV": "prod"}))
    assert all(isinstance(s, IkkeKonfigurert) for s in prod.senders.values())
    with pytest.raises(SendeFeil, match="KRR_SMS_URL"):
        await prod.send(UtgaaendeMelding(1, Kanal.MOBIL, "+4791234567", "e", "t"))
    both = sender_for(load_settings(base | {"KRR_SMTP_URL": "smtp://mail:2525",
                                            "KRR_SMS_URL": GATEWAY}))
    assert isinstance(both.senders[Kanal.EPOST], SmtpSender)
    assert isinstance(both.senders[Kanal.MOBIL], SmsSender)
    await both.aclose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KRR_SMTP_URL", "http://mail.example.no"),
        ("KRR_SMTP_URL", "smtp://"),
        ("KRR_SMTP_URL", "smtp://u:topsecret@mail:99999"),
        ("KRR_SMTP_URL", "smtp://mail?from=nobody"),
        ("KRR_SMS_URL", "ftp://sms.example.no"),
        ("KRR_OUTBOX_INTERVAL", "0"),
        ("KRR_OUTBOX_INTERVAL", "soon"),
    ],
)
def test_bad_message_settings_are_named(variable, value):
    with pytest.raises(ConfigError, match=variable) as err:
        load_settings({variable: value})
    assert "topsecret" not in str(err.value)


def test_the_sms_gateway_must_use_https_in_prod():
    with pytest.raises(ConfigError, match="KRR_SMS_URL"):
        load_settings({"KRR_ENV": "prod", "KRR_SMS_URL": "http://sms.internal/send"})
    settings = load_settings({"KRR_ENV": "prod", "KRR_SMS_URL": GATEWAY,
                              "KRR_SMTP_URL": "smtp://mail:25", "KRR_OUTBOX_INTERVAL": "2.5"})
    assert (settings.sms_url, settings.smtp_url, settings.outbox_interval) == (
        GATEWAY, "smtp://mail:25", 2.5,
    )
