"""The `krr` command: serve, migrate, seed, token, export-schema, prune-audit,
oppdater-duplikater, varsle-utlop, send-meldinger, rotate-signing-key, tilgangsstyrer,
organisasjoner, print-sertifikat, returadresser.

Every command that uses the database runs under the watchdog (app.watchdog): however long its
work rightly takes, a database that cannot be reached or stops answering (within
KRR_REQUEST_TIMEOUT) stops it with a message and exit status 3, never a hang or a traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from app.config import ConfigError, Settings, load_settings
from app.enhetsregisteret.grenser import Grenser, storrelse
from authz.dev_issuer import DEFAULT_TTL, MAX_TTL

if TYPE_CHECKING:
    import datetime as dt

T = TypeVar("T")
UTILGJENGELIG = 3  # exit status: the database cannot be reached or stopped answering
EXIT_STATUS = ("exit status: 0 done; 1 done, with rows skipped (organisasjoner importer); 2 bad "
               "input or configuration; 3 the database cannot be reached or stopped answering "
               "(no answer within KRR_REQUEST_TIMEOUT)")


class Utilgjengelig(Exception):
    """The database could not be reached or stopped answering: the command stopped (exit 3)."""


def _mot_databasen(settings: Settings, arbeid: Coroutine[Any, Any, T]) -> T:
    """`arbeid` run to its end, under the watchdog (app.watchdog); a database that cannot be
    reached or stops answering is Utilgjengelig, with what happened."""
    from app.faults import unavailable
    from app.watchdog import DatabaseSilent, watched

    try:
        return asyncio.run(watched(settings.database_url, settings.request_timeout, arbeid))
    except DatabaseSilent as exc:
        raise Utilgjengelig(str(exc)) from None
    except Exception as exc:
        if not unavailable(exc):
            raise
        hva = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise Utilgjengelig(f"the database cannot be reached ({hva[:200]})") from None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app import db, logs
    from app.edge import reading
    from app.edge.app import create_app
    from app.signing.keys import signing_key_for

    if args.workers < 1:
        print("krr serve: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        # One SQLite file behind several processes serialises every audit write on its lock.
        if settings.is_prod:
            print("krr serve: --workers > 1 needs PostgreSQL in prod", file=sys.stderr)
            return 2
        print("krr serve: warning: several workers on SQLite contend for its write lock; "
              "use PostgreSQL", file=sys.stderr)
    if args.workers > 1 and not settings.redis_url:
        print("krr serve: note: without KRR_REDIS_URL each worker keeps its own rate limits "
              f"(a consumer gets up to {args.workers} times the configured rate)", file=sys.stderr)
    # For every worker alike: JSON lines or readable text (KRR_LOG_FORMAT, app.logs), uvicorn's
    # own access log off; the client's address and the scheme taken from the forwarding headers
    # of KRR_TRUSTED_PROXIES only (the right-most address that is not one of them), and with
    # none from nobody: not uvicorn's default 127.0.0.1, nor its FORWARDED_ALLOW_IPS.
    # No WebSockets (nothing is served over one), whatever library is installed: a handshake
    # is an HTTP GET, answered that subscriptions are not offered (app.edge.graphql).
    options: dict[str, Any] = {
        "log_config": logs.dict_config("INFO", settings.log_format), "access_log": False,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "ws": "none",
    }
    # Once, before any worker starts: a bad KRR_SIGNING_KEY stops here (ConfigError), and the
    # dev key is generated once rather than raced for.
    signing_key_for(settings)
    _mot_databasen(settings, db.migrate(settings))
    # Reading a request (app.edge.reading): the headers' deadline is the connection's protocol
    # (uvicorn's h11, named rather than uvicorn's automatic choice), the connections per worker
    # are capped (uvicorn answers 503 beyond the cap; it counts the connection asking, hence
    # the 1), an idle one is kept alive as configured; the body's deadline is the app's.
    options |= {
        "http": reading.protocol(settings.header_timeout),
        "limit_concurrency": settings.max_connections + 1,
        "timeout_keep_alive": settings.keep_alive_timeout,
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, **options)
    else:  # each worker process builds its own app (and pool) from the same environment
        uvicorn.run("app.edge.app:app_from_env", factory=True, workers=args.workers,
                    host=args.host, port=args.port, **options)
    return 0


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    from app import db

    _mot_databasen(settings, db.migrate(settings))
    print("migrations applied", file=sys.stderr)
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from app import db
    from app.testdata.seed import seed_register

    if settings.is_prod:
        print("krr seed: refused with KRR_ENV=prod (it replaces the register)", file=sys.stderr)
        return 2
    if args.persons < 0:
        print("krr seed: --persons must be 0 or more", file=sys.stderr)
        return 2

    async def run() -> None:
        await db.migrate(settings)
        async with db.lifespan_db(settings):
            summary = await seed_register(persons=args.persons, seed=args.seed, progress=True)
        print(summary, file=sys.stderr)

    _mot_databasen(settings, run())
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from authz.dev_issuer import DevIssuer

    if not settings.trusts_dev_issuer:
        print("krr token: the development issuer is not trusted in prod", file=sys.stderr)
        return 2
    if args.consumer is None and args.pid is None:
        print(
            "krr token: give --consumer ORGNO for an organisation's token or --pid ID (without "
            "--consumer) for a resident's token",
            file=sys.stderr,
        )
        return 2
    try:
        token = DevIssuer.load_or_create(settings.var_dir).mint(
            scope=args.scope,
            consumer=args.consumer,
            supplier=args.supplier,
            pid=args.pid,
            ttl=args.ttl,
        )
    except ValueError as exc:
        print(f"krr token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _oppdater_duplikater(settings: Settings, _: argparse.Namespace) -> int:
    """Recompute every stored duplicate flag: after a rolling upgrade past migration 0005, whose
    previous-release instances wrote addresses without keeping the flags."""
    from app import db
    from app.personer import register
    from app.personer.endringsnummer import skrivetransaksjon

    async def run() -> None:
        await db.migrate(settings)
        async with db.lifespan_db(settings), skrivetransaksjon() as conn:
            await register.oppdater_alle_duplikater(conn)

    _mot_databasen(settings, run())
    print("duplicate flags recomputed")
    return 0


def _prune_audit(settings: Settings, _: argparse.Namespace) -> int:
    import datetime as dt

    from app import db
    from app.revisjon.store import prune

    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.audit_retention_days)

    async def run() -> tuple[int, int]:
        await db.migrate(settings)
        async with db.lifespan_db(settings):
            return await prune(older_than=cutoff)

    oppslag, personer = _mot_databasen(settings, run())
    print(
        f"pruned {oppslag} requests and {personer} person rows older than "
        f"{cutoff.isoformat(timespec='seconds')} (KRR_AUDIT_RETENTION_DAYS="
        f"{settings.audit_retention_days})"
    )
    return 0


def _varsle_utlop(settings: Settings, _: argparse.Namespace) -> int:
    import datetime as dt

    from app import db
    from app.meldinger.paaminnelser import varsle_utlop

    async def run() -> int:
        await db.migrate(settings)
        async with db.lifespan_db(settings):
            return await varsle_utlop(dt.datetime.now(dt.UTC))

    print(f"queued {_mot_databasen(settings, run())} expiry reminders")
    return 0


def _send_meldinger(settings: Settings, _: argparse.Namespace) -> int:
    import datetime as dt

    from app import db
    from app.meldinger.outbox import send_ventende
    from app.meldinger.senders import sender_for

    async def run() -> tuple[int, int]:
        await db.migrate(settings)
        sender = sender_for(settings)
        sent = failed = 0
        async with db.lifespan_db(settings):
            try:
                while True:  # every message due now, once: a failed one waits for its retry
                    s, f = await send_ventende(sender, dt.datetime.now(dt.UTC), batch=100)
                    sent, failed = sent + s, failed + f
                    if s + f < 100:
                        return sent, failed
            finally:
                await sender.aclose()

    sent, failed = _mot_databasen(settings, run())
    print(f"sent {sent} messages, {failed} failed (kept in the outbox for a later try)")
    return 0


def _rotate_signing_key(settings: Settings, _: argparse.Namespace) -> int:
    from app.signing.keys import CERT_VARIABLE, VARIABLE, rotate

    if settings.is_prod or settings.signing_key is not None:
        why = "refused with KRR_ENV=prod" if settings.is_prod else f"{VARIABLE} is set"
        print(f"krr rotate-signing-key: {why}: the key is the one {VARIABLE} names; to rotate, "
              f"point {VARIABLE} to a new PEM file and {CERT_VARIABLE} to its certificate "
              "chain, and restart", file=sys.stderr)
        return 2
    key = rotate(settings.var_dir)
    print(f"new signing key {key.kid} and a self-signed certificate of it under "
          f"{settings.var_dir}; restart the server to sign with it (keys already used stay "
          "published, with their certificates)")
    return 0


# --- krr tilgangsstyrer: the operator's tool for an organisation's access managers -------------


def _operatoer() -> str:
    """Who is recorded for a change made with the krr command: the operator's OS user."""
    import getpass

    try:
        return f"krr-cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in the environment and no passwd entry
        return "krr-cli"


def _utc(moment: dt.datetime) -> str:
    import datetime as dt

    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _med_registeret(
    settings: Settings, args: argparse.Namespace, sjekk: Callable[[], None],
    arbeid: Callable[[], Awaitable[None]],
) -> int:
    """`sjekk()` (the input, before the database is touched), then `arbeid()` on the migrated
    register; bad input, found by either, is exit 2 with its message."""
    from app import db
    from app.errors import BadInput

    async def run() -> None:
        await db.migrate(settings)
        async with db.lifespan_db(settings):
            await arbeid()

    try:
        sjekk()
        _mot_databasen(settings, run())
    except BadInput as exc:
        print(f"krr {args.command} {args.handling}: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _tilgangsstyrer_endre(settings: Settings, args: argparse.Namespace) -> int:
    """legg-til and fjern: one person's role for one organisation, changed by the operator."""
    import datetime as dt

    from app.tilgangsstyrere import store

    async def arbeid() -> None:
        naa, av = dt.datetime.now(dt.UTC), _operatoer()
        if args.handling == "fjern":
            rolle = await store.fjern(args.orgnr, args.pid, av, naa)
            print(f"{args.orgnr}: access manager removed (manager since "
                  f"{_utc(rolle.lagt_til)} UTC; the record is kept)")
            return
        fantes = await store.er_tilgangsstyrer(args.pid, args.orgnr)
        rolle = await store.legg_til(args.orgnr, args.pid, av, naa)
        hva = "already an access manager" if fantes else "access manager added"
        print(f"{args.orgnr}: {hva} (since {_utc(rolle.lagt_til)} UTC, added by "
              f"{rolle.lagt_til_av})")

    return _med_registeret(settings, args, lambda: store.valider(args.orgnr, args.pid), arbeid)


def _tilgangsstyrer_list(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from app.delegering.store import navn
    from app.tilgangsstyrere import store

    def sjekk() -> None:
        if args.orgnr is not None:
            store.valider_orgnr(args.orgnr)

    async def arbeid() -> None:
        roller = await (store.alle() if args.orgnr is None else store.liste(args.orgnr))
        if not roller:
            print("no active access managers" + (f" of {args.orgnr}" if args.orgnr else ""))
            return
        navnene = await navn(r.orgnr for r in roller)
        table = Table()
        table.add_column("orgnr", no_wrap=True)
        table.add_column("organisation", overflow="fold")  # a long name wraps, whole
        table.add_column("pid", no_wrap=True)
        table.add_column("since (UTC)", no_wrap=True)
        for r in roller:
            table.add_row(r.orgnr, navnene.get(r.orgnr, ""), r.pid, _utc(r.lagt_til))
        Console().print(table)

    return _med_registeret(settings, args, sjekk, arbeid)


def _tilgangsstyrer_parser(sub: Any) -> None:
    styrer = sub.add_parser(
        "tilgangsstyrer",
        help="add, remove and list organisations' access managers (who may delegate)",
        description="Access managers (tilgangsstyrere) grant and revoke an organisation's "
        "delegations. Changes are recorded as made by krr-cli:<OS user>; history is kept.",
    )
    handlinger = styrer.add_subparsers(dest="handling", required=True)
    for kommando, hjelp in (
        ("legg-til", "make a person an access manager of an organisation"),
        ("fjern", "end a person's access-manager role (the record is kept)"),
    ):
        handling = handlinger.add_parser(kommando, help=hjelp)
        handling.add_argument("orgnr", metavar="ORGNR", help="organisation number")
        handling.add_argument("pid", metavar="PID", help="the person's national id")
        handling.set_defaults(func=_tilgangsstyrer_endre)
    liste = handlinger.add_parser("list", help="the active access managers, as a table")
    liste.add_argument("orgnr", metavar="ORGNR", nargs="?", help="only this organisation's")
    liste.set_defaults(func=_tilgangsstyrer_list)


# --- krr returadresser: where an agency's login flow may send a resident back to --------------


def _returadresse_sjekk(orgnr: str | None, url: str | None, prod: bool) -> Callable[[], None]:
    """The input checked before the database is touched (`prod`: by prod's policy), the URL
    named in what is wrong with it."""
    from app.errors import BadInput
    from app.returadresser import regler
    from authz.avslag import UGYLDIG_ORGNR

    def sjekk() -> None:
        if url is None:
            if orgnr is not None:
                regler.valider_orgnr(orgnr)
            return
        try:
            regler.registrerbar(orgnr or "", url, prod=prod)
        except regler.UgyldigReturadresse as exc:
            if exc.grunn == UGYLDIG_ORGNR:  # named in the message already
                raise
            hva = exc.message.removeprefix("the return address ")
            raise BadInput(f"URL {url[:200]!r} {hva}", **exc.extensions) from None

    return sjekk


def _returadresser_endre(settings: Settings, args: argparse.Namespace) -> int:
    """legg-til and fjern: one organisation's return address, changed by the operator."""
    import datetime as dt

    from app.returadresser import store

    async def arbeid() -> None:
        if args.handling == "fjern":
            rad = await store.fjern(args.orgnr, args.url)
            print(f"{args.orgnr}: return address removed: {rad.adresse} (registered since "
                  f"{_utc(rad.lagt_til)} UTC)")
            return
        rad, ny = await store.legg_til(args.orgnr, args.url, _operatoer(),
                                       dt.datetime.now(dt.UTC), prod=settings.is_prod)
        hva = "return address added" if ny else "already a registered return address"
        print(f"{args.orgnr}: {hva}: {rad.adresse} (since {_utc(rad.lagt_til)} UTC, added by "
              f"{rad.lagt_til_av or 'unknown'})")

    # removing reads outside prod's policy (app.returadresser.store.fjern)
    sjekk = _returadresse_sjekk(args.orgnr, args.url, settings.is_prod and args.handling != "fjern")
    return _med_registeret(settings, args, sjekk, arbeid)


def _returadresser_list(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from app.delegering.store import navn
    from app.returadresser import store

    async def arbeid() -> None:
        rader = await store.liste(args.orgnr)
        if not rader:
            print("no return addresses registered" + (f" for {args.orgnr}" if args.orgnr else ""))
            return
        navnene = await navn(r.orgnr for r in rader)
        table = Table()
        table.add_column("orgnr", no_wrap=True)
        table.add_column("organisation", overflow="fold")
        table.add_column("return address", overflow="fold")  # a long one wraps, whole
        table.add_column("since (UTC)", no_wrap=True)
        table.add_column("added by", overflow="fold")
        for r in rader:
            table.add_row(r.orgnr, navnene.get(r.orgnr, ""), r.adresse, _utc(r.lagt_til),
                          r.lagt_til_av or "")
        Console().print(table)

    return _med_registeret(settings, args, _returadresse_sjekk(args.orgnr, None, False), arbeid)


def _returadresser_parser(sub: Any) -> None:
    retur = sub.add_parser(
        "returadresser",
        help="add, remove and list the return addresses agencies may send residents back to",
        description="After the register's confirmation dialog a resident is sent back "
        "(?returner_til=) only to an address registered here for an organisation, or below it "
        "at a path segment: https only (http for localhost outside prod), no userinfo, "
        "fragment, dot segments or query; see docs/deployment.md, \"Return addresses\". "
        "Additions are recorded as made by krr-cli:<OS user>.",
        epilog=EXIT_STATUS,
    )
    handlinger = retur.add_subparsers(dest="handling", required=True)
    for kommando, hjelp in (
        ("legg-til", "register URL as a return address of the organisation"),
        ("fjern", "remove the organisation's return address URL"),
    ):
        handling = handlinger.add_parser(kommando, help=hjelp)
        handling.add_argument("orgnr", metavar="ORGNR", help="organisation number")
        handling.add_argument("url", metavar="URL", help="the return address, e.g. "
                              "https://tjeneste.example.no/innlogget")
        handling.set_defaults(func=_returadresser_endre)
    liste = handlinger.add_parser("list", help="the registered return addresses, as a table")
    liste.add_argument("orgnr", metavar="ORGNR", nargs="?", help="only this organisation's")
    liste.set_defaults(func=_returadresser_list)


# --- krr organisasjoner: organisation names from Enhetsregisteret ------------------------------


def _organisasjoner_importer(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0: every row stored; 1: some rows skipped (the good ones stored); 2: the input is
    unusable, wherever that shows (nothing written: the import is one transaction)."""
    import os

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from app import db
    from app.enhetsregisteret.enheter import Avvist
    from app.enhetsregisteret.importer import Avbrutt, Resultat, TellendeLeser, importer

    hvem = "krr organisasjoner importer"
    try:
        fil = sys.stdin.buffer if args.fil == "-" else open(args.fil, "rb")
    except OSError as exc:
        print(f"{hvem}: cannot read {args.fil}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    storrelse: int | None = None
    try:
        storrelse = os.fstat(fil.fileno()).st_size or None
    except (OSError, ValueError):
        pass
    fremdrift = Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
        disable=not console.is_terminal,
    )
    oppgave = fremdrift.add_task("bytes", total=storrelse)
    kilde = TellendeLeser(fil, lambda n: fremdrift.advance(oppgave, n))

    def avvist(rad: Avvist) -> None:
        console.print(f"{rad.hvor}: {rad.grunn}", markup=False, highlight=False, emoji=False,
                      soft_wrap=True)

    async def run() -> Resultat:
        await db.migrate(settings)
        async with db.lifespan_db(settings):
            with fremdrift:
                return await importer(kilde, avvist, grenser=grenser)

    grenser = Grenser(dybde=args.max_depth, enhet=args.max_unit_size, utpakket=args.max_size)
    try:
        resultat = _mot_databasen(settings, run())
    except Utilgjengelig as exc:
        raise Utilgjengelig(f"{exc}; nothing was written (the import is one transaction), "
                            "and running it again is harmless") from None
    except Avbrutt as exc:
        lest = exc.resultat.lest
        hva = f"{lest} rows read before it; " if lest else ""
        print(f"{hvem}: {args.fil}: {exc.melding} ({hva}nothing was written)", file=sys.stderr)
        return 2
    finally:
        if fil is not sys.stdin.buffer:
            fil.close()
    print(resultat)
    return 1 if resultat.hoppet_over else 0


def _organisasjoner_parser(sub: Any) -> None:
    organisasjoner = sub.add_parser(
        "organisasjoner",
        help="organisation names, from Enhetsregisteret's bulk download",
        description="Names of organisations (shown beside organisation numbers) from "
        "Brønnøysundregistrene's open bulk download of Enhetsregisteret.",
    )
    handlinger = organisasjoner.add_subparsers(dest="handling", required=True)
    importer = handlinger.add_parser(
        "importer",
        help="load organisasjonsnummer and navn of every unit in FILE (JSON or CSV, gzip too)",
        description="Stores the name of every unit in FILE (enheter_alle.json.gz or "
        "enheter_alle.csv.gz, gzipped or not; - for standard input): new names added, changed "
        "ones updated, none deleted, so running it again is harmless. Bad rows are named by "
        "line (CSV) or element (JSON) on standard error and skipped. The file is streamed "
        "within the limits below, and stored in one transaction: all or nothing.",
        epilog="exit status: 0 every row stored; 1 some rows skipped (named on standard error), "
        "the good ones stored; 2 the file is unusable (missing, neither JSON nor CSV, broken "
        "midway, or past a limit: the message names the line) and nothing was written; 3 the "
        "database cannot be reached or stopped answering, and nothing was written.",
    )
    importer.add_argument("fil", metavar="FILE", help="the bulk file, or - for standard input")
    standard = Grenser()
    importer.add_argument(
        "--max-depth", type=_positivt, default=standard.dybde, metavar="N",
        help=f"how deep JSON may nest (default {standard.dybde}; the real file: 4)")
    importer.add_argument(
        "--max-unit-size", type=_storrelse, default=standard.enhet, metavar="SIZE",
        help=f"the most one unit may take: a JSON element in bytes, a CSV row in characters, "
        f"and so any string or line (default {storrelse(standard.enhet)}; a real unit: 1-2 KiB)")
    importer.add_argument(
        "--max-size", type=_storrelse, default=standard.utpakket, metavar="SIZE",
        help=f"the most the file may unpack to (default {storrelse(standard.utpakket)}; the "
        "real JSON: about 1 GB); SIZE in bytes or with K, M or G (binary)")
    importer.set_defaults(func=_organisasjoner_importer)


def _positivt(tekst: str) -> int:
    try:
        verdi = int(tekst)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {tekst!r}") from None
    if verdi < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {tekst}")
    return verdi


def _storrelse(tekst: str) -> int:
    """A size: bytes, or with K, M or G (KiB, MiB, GiB)."""
    faktor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(tekst[-1:].upper(), 1)
    return _positivt(tekst[:-1] if faktor > 1 else tekst) * faktor


# --- krr print-sertifikat: the print provider and its certificate ------------------------------


def _print_sertifikat_sett(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from app.printsertifikat import regler, store

    lest: list[regler.Printsertifikat] = []

    def sjekk() -> None:
        try:
            fil = sys.stdin.buffer.read() if args.fil == "-" else Path(args.fil).read_bytes()
        except OSError as exc:
            raise regler.UgyldigPrintsertifikat(
                f"cannot read {args.fil}: {exc.strerror or type(exc).__name__}") from None
        lest.append(regler.valider(args.orgnr, fil, dt.datetime.now(dt.UTC)))

    async def arbeid() -> None:
        (ny,) = lest
        if await store.sett(ny, _operatoer(), dt.datetime.now(dt.UTC)):
            print(f"print certificate set: {ny.postkasseleverandoer_adresse}, {ny.emne}, valid "
                  f"until {_utc(ny.gyldig_til)} UTC, sha256 {ny.sha256}; handed out from the "
                  "next request on")
        else:
            print(f"unchanged: {ny.postkasseleverandoer_adresse} with this certificate (sha256 "
                  f"{ny.sha256}) is what is handed out already")

    return _med_registeret(settings, args, sjekk, arbeid)


def _print_sertifikat_vis(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from app.printsertifikat import store
    from app.printsertifikat.regler import KOMMANDO

    async def arbeid() -> None:
        historikk = await store.historikk()
        if not historikk:
            print(f"no print certificate is set: GET /rest/v2/printSertifikat answers 404; set "
                  f"it with `{KOMMANDO}`")
            return
        naa = dt.datetime.now(dt.UTC)
        for n, setting in enumerate(historikk):
            p = setting.printsertifikat
            if n == 1:
                print("\nearlier settings, newest first:")
            print(f"{'handed out' if n == 0 else 'replaced'}: postkasseleverandoerAdresse "
                  f"{p.postkasseleverandoer_adresse}\n  subject {p.emne}\n  valid "
                  f"{_utc(p.gyldig_fra)} to {_utc(p.gyldig_til)} UTC\n  sha256 {p.sha256}\n"
                  f"  set {_utc(setting.satt)} UTC by {setting.satt_av}")
        gyldig_til = historikk[0].printsertifikat.gyldig_til
        if gyldig_til <= naa + dt.timedelta(days=30):
            hvordan = "has expired" if gyldig_til <= naa else "expires within 30 days"
            print(f"warning: the certificate handed out {hvordan}: set the provider's new one "
                  f"with `{KOMMANDO}`", file=sys.stderr)

    return _med_registeret(settings, args, lambda: None, arbeid)


def _print_sertifikat_parser(sub: Any) -> None:
    utskrift = sub.add_parser(
        "print-sertifikat",
        help="set and show the print provider and its certificate (GET /rest/v2/printSertifikat)",
        description="The print provider prints and posts letters to those without a digital "
        "mailbox; senders (eFormidling) encrypt such letters to its certificate, which the "
        "register hands out with the provider's organisation number. Every change is kept, "
        "recorded as made by krr-cli:<OS user>.",
    )
    handlinger = utskrift.add_subparsers(dest="handling", required=True)
    sett = handlinger.add_parser(
        "sett", help="hand out ORGNR and the certificate in FILE from now on",
        description="Refused, with nothing changed, when ORGNR is not a valid organisation "
        "number or FILE is not one X.509 certificate valid now. FILE is PEM, DER, or base64 "
        "of DER (- for standard input); it is stored and handed out as bare base64 of DER.",
    )
    sett.add_argument("orgnr", metavar="ORGNR", help="the print provider's organisation number")
    sett.add_argument("fil", metavar="FILE", help="its certificate (PEM or DER), - for stdin")
    sett.set_defaults(func=_print_sertifikat_sett)
    handlinger.add_parser(
        "vis", help="the print provider as handed out, and earlier settings",
    ).set_defaults(func=_print_sertifikat_vis)


def _export_schema(_: Settings, __: argparse.Namespace) -> int:
    from app.edge.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="krr", description=__doc__, epilog=EXIT_STATUS)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations and serve POST /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (several: use PostgreSQL)")
    serve.set_defaults(func=_serve)

    sub.add_parser("migrate", help="apply the schema migrations").set_defaults(func=_migrate)

    seed = sub.add_parser("seed", help="replace the register with a synthetic one (not in prod)")
    seed.add_argument("--persons", type=int, default=10_000)
    seed.add_argument("--seed", type=int, default=1)
    seed.set_defaults(func=_seed)

    token = sub.add_parser(
        "token",
        help="print an access token from the development issuer",
        description="An organisation's token (Maskinporten-like) with --consumer; a resident's "
        "token (ID-porten-like, e.g. --scope krr:user/kontaktinformasjon.read) with --pid and "
        "no --consumer.",
    )
    token.add_argument("--scope", required=True, help='space-separated, e.g. "S1 S2"')
    token.add_argument("--consumer", help="organisation number of the consumer (organisations)")
    token.add_argument("--supplier", help="organisation number of a vendor acting for it")
    token.add_argument(
        "--pid", help="personal id: the resident (without --consumer) or a person acting"
    )
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL,
        help=f"the token's lifetime in seconds: {DEFAULT_TTL} unless given, at most {MAX_TTL} "
        "(a day)",
    )
    token.set_defaults(func=_token)

    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=_export_schema)
    sub.add_parser(
        "prune-audit", help="delete audit records older than KRR_AUDIT_RETENTION_DAYS"
    ).set_defaults(func=_prune_audit)
    sub.add_parser(
        "oppdater-duplikater",
        help="recompute the stored duplicate flags (after a rolling upgrade past migration 0005)",
    ).set_defaults(func=_oppdater_duplikater)
    sub.add_parser(
        "varsle-utlop", help="queue a reminder for each channel that passes 18 months within 2"
    ).set_defaults(func=_varsle_utlop)
    sub.add_parser(
        "send-meldinger", help="send the outbox's due messages once (the server does it too)"
    ).set_defaults(func=_send_meldinger)
    sub.add_parser(
        "rotate-signing-key",
        help="replace the dev/test key signed answers are signed with, and its self-signed "
        "certificate (not in prod)",
    ).set_defaults(func=_rotate_signing_key)
    _tilgangsstyrer_parser(sub)
    _organisasjoner_parser(sub)
    _print_sertifikat_parser(sub)
    _returadresser_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        return int(args.func(settings, args))
    except ConfigError as exc:  # a setting, or a file one names (KRR_SIGNING_KEY)
        print(f"krr: {exc}", file=sys.stderr)
        return 2
    except Utilgjengelig as exc:
        hvem = " ".join(str(a) for a in (args.command, getattr(args, "handling", None)) if a)
        print(f"krr {hvem}: stopped: {exc}", file=sys.stderr)
        return UTILGJENGELIG


if __name__ == "__main__":
    raise SystemExit(main())
