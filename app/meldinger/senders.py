"""Senders: how a queued message leaves the register, chosen by configuration.

E-mail goes over SMTP when KRR_SMTP_URL is set, SMS to the HTTP gateway at KRR_SMS_URL;
a channel without either is logged (dev, test) or left queued (prod: never silently dropped).
Every failure is raised as SendeFeil with a text free of addresses, so it may be stored.

A message may be handed over more than once (app.meldinger.outbox: a crash after the handover
and before it is marked sent). Every try carries the message's stable reference, as the SMS
request's Idempotency-Key and X-Message-ID headers and in the e-mail's Message-ID, so the
gateway or a mail system can drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from app.config import Settings
from app.meldinger.outbox import SendeFeil, Sender, UtgaaendeMelding, kjoer_utsender
from app.personer.felt import Kanal

log = logging.getLogger(__name__)

DEFAULT_FROM = "krr@localhost"
SMTP_TIMEOUT = 30.0  # seconds; well inside the outbox lease
SMS_TIMEOUT = 10.0


def maskert(adresse: str) -> str:
    """An address as it may appear in a log: enough to tell channels apart, not to contact
    anyone (k***@*** for e-mail, ***32 for a phone number)."""
    if "@" in adresse:
        return f"{adresse[:1]}***@***"
    return f"***{adresse[-2:]}" if len(adresse) > 4 else "***"


class LoggingSender:
    """Development: logs that a message went out, without address or text (the text may hold
    a code). With `fil`, the whole message is appended there, so a developer can read the code
    that a resident would receive."""

    def __init__(self, fil: Path | None = None) -> None:
        self.fil = fil

    async def send(self, melding: UtgaaendeMelding) -> None:
        log.info(
            "melding %d (%s) til %s: %r, %d tegn (ikke sendt: ingen avsender konfigurert)",
            melding.id, melding.kanal.value, maskert(melding.mottaker), melding.emne,
            len(melding.tekst),
        )
        if self.fil is not None:
            await asyncio.to_thread(self._append, melding)

    def _append(self, melding: UtgaaendeMelding) -> None:
        assert self.fil is not None
        self.fil.parent.mkdir(parents=True, exist_ok=True)
        with self.fil.open("a", encoding="utf-8") as f:
            f.write(
                f"--- melding {melding.id} ({melding.kanal.value}) til {melding.mottaker}\n"
                f"Emne: {melding.emne}\n{melding.tekst}\n"
            )


class IkkeKonfigurert:
    """Production without a sender for a channel: the message stays queued and is retried,
    so configuring the sender later delivers it."""

    def __init__(self, variabel: str) -> None:
        self.variabel = variabel

    async def send(self, melding: UtgaaendeMelding) -> None:
        raise SendeFeil(f"{melding.kanal.value}: {self.variabel} er ikke satt")


def _idna(adresse: str) -> str:
    """An international domain name in its ASCII form, which every SMTP server accepts."""
    local, at, domain = adresse.rpartition("@")
    try:
        return f"{local}{at}{domain.encode('idna').decode('ascii')}" if at else adresse
    except UnicodeError:
        return adresse


def message_id(melding: UtgaaendeMelding, from_addr: str) -> str:
    """`<reference@sender's domain>`: the same on every try of the message."""
    domain = _idna(parseaddr(from_addr)[1]).rpartition("@")[2] or "localhost"
    return f"<{melding.referanse}@{domain}>"


class SmtpSender:
    """E-mail over SMTP. URL: smtp://[user:password@]host[:port][?from=addr&starttls=1], or
    smtps:// for TLS from the start. smtplib runs in a thread (one connection per message:
    the volume is small and a broken connection never outlives one message)."""

    def __init__(self, url: str, *, timeout: float = SMTP_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL looks like smtp://host:port or smtps://host:port")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        options = parse_qs(parts.query)
        self.from_addr = options.get("from", [DEFAULT_FROM])[0]
        self.starttls = options.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
        self.timeout = timeout

    def message(self, melding: UtgaaendeMelding) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.from_addr
        mail["To"] = _idna(melding.mottaker)
        mail["Subject"] = melding.emne
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(melding, self.from_addr)
        mail.set_content(melding.tekst)
        return mail

    async def send(self, melding: UtgaaendeMelding) -> None:
        await asyncio.to_thread(self._send, self.message(melding))

    def _send(self, mail: EmailMessage) -> None:
        try:
            smtp: smtplib.SMTP
            if self.tls:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise SendeFeil("SMTP: mottakeren ble avvist") from None
        except smtplib.SMTPResponseException as exc:
            raise SendeFeil(f"SMTP {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendeFeil(f"SMTP: {type(exc).__name__}") from None


class SmsSender:
    """SMS through an HTTP gateway: POST {"to": number, "message": text} as JSON, with the
    message's reference in the Idempotency-Key and X-Message-ID headers; any answer but 2xx is
    a failure. Credentials may ride in the URL (https://user:pw@host/path)."""

    def __init__(self, url: str, *, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(SMS_TIMEOUT))

    async def send(self, melding: UtgaaendeMelding) -> None:
        try:
            response = await self.client.post(
                self.url, json={"to": melding.mottaker, "message": melding.tekst},
                headers={"Idempotency-Key": melding.referanse, "X-Message-ID": melding.referanse},
            )
        except httpx.HTTPError as exc:
            raise SendeFeil(f"SMS-gatewayen: {type(exc).__name__}") from None
        if not response.is_success:
            raise SendeFeil(f"SMS-gatewayen svarte HTTP {response.status_code}")

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()


class Ruter:
    """One sender per channel: e-mail and SMS leave by different routes."""

    def __init__(self, epost: Sender, mobil: Sender) -> None:
        self.senders: dict[Kanal, Sender] = {Kanal.EPOST: epost, Kanal.MOBIL: mobil}

    async def send(self, melding: UtgaaendeMelding) -> None:
        await self.senders[melding.kanal].send(melding)

    async def aclose(self) -> None:
        for sender in self.senders.values():
            close = getattr(sender, "aclose", None)
            if close is not None:
                await close()


def sender_for(settings: Settings) -> Ruter:
    """The configured senders. Outside prod, an unconfigured channel is logged and its messages
    written to var/meldinger.txt (so a developer can read a code); in prod they wait."""
    fallback: dict[Kanal, Sender] = {}
    for kanal, variabel in ((Kanal.EPOST, "KRR_SMTP_URL"), (Kanal.MOBIL, "KRR_SMS_URL")):
        fallback[kanal] = (
            IkkeKonfigurert(variabel) if settings.is_prod
            else LoggingSender(settings.var_dir / "meldinger.txt")
        )
    return Ruter(
        epost=SmtpSender(settings.smtp_url) if settings.smtp_url else fallback[Kanal.EPOST],
        mobil=SmsSender(settings.sms_url) if settings.sms_url else fallback[Kanal.MOBIL],
    )


STOP_GRACE = 10.0  # seconds a shutdown waits for the message being sent


@asynccontextmanager
async def utsender(settings: Settings) -> AsyncIterator[None]:
    """The app's background dispatcher for its lifetime: started on entry; on exit it finishes
    the message in hand (up to STOP_GRACE seconds, then cancelled) and closes the senders."""
    sender = sender_for(settings)
    stopp = asyncio.Event()
    task = asyncio.create_task(
        kjoer_utsender(sender, intervall=settings.outbox_interval, stopp=stopp),
        name="krr-utsender",
    )
    try:
        yield
    finally:
        stopp.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE)
        except TimeoutError:
            log.warning("utsenderen ble avbrutt ved stopp")
        except Exception:
            log.exception("utsenderen stoppet med en feil")
        await sender.aclose()
