"""The pages of /admin, each a handler behind the edge (app.edge): the logged-in person is the
caller (`Tilgangsstyrer`, from the session), every organisation in a path is checked against
the registry (authz.tilgangsstyrer), and what is done is done by the delegation feature's own
operations (app.delegering.handlinger), the very ones GraphQL's mutations call.

Every change is a POST with the session's CSRF token, answered with a redirect (303) to the
overview, which says what happened; a form with mistakes is shown again with each mistake
beside its field and summarised at the top (WCAG 3.3.1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.delegering import handlinger, store
from app.errors import BadInput, NotFound
from app.foresporsel import Foresporsel
from app.innlogging import csrf_token, skjema_til
from app.revisjon.bruk import bruksrapport
from app.sider import svar
from app.sider.format import OSLO
from app.sider.sprak import N_, Oversett, tekster
from app.text import isolated
from app.tilgangsstyring import bruk
from app.tilgangsstyring.skjema import skjema
from authz.avslag import DELEGERING_TIL_SEG_SELV, UGYLDIG_ORGNR, UKJENT_ORDNING, Avslag
from authz.delegation import kan_delegere
from authz.principal import Principal
from authz.tilgangsstyrer import som_organisasjon

PAKKE = "app.tilgangsstyring"

# The texts below are translated where shown (app.sider.sprak).
MELDINGER = {
    "gitt": N_("Tilgangen er gitt. Mottakeren kan bruke API-et med en gang."),
    "trukket": N_("Tilgangen er trukket tilbake. Den virker ikke lenger."),
    "allerede": N_("Tilgangen var allerede trukket tilbake."),
}
FEILTEKST = {
    UKJENT_ORDNING: ("ordning", N_("Velg hvilket API du vil gi tilgang til")),
    UGYLDIG_ORGNR: ("til", N_("Organisasjonsnummeret må være 9 siffer med gyldig "
                              "kontrollsiffer")),
    DELEGERING_TIL_SEG_SELV: ("til", N_("En virksomhet kan ikke gi tilgang til seg selv")),
}
UKJENT = N_("Ukjent virksomhet")


@dataclass(frozen=True, slots=True)
class Org:
    orgnr: str
    navn: str


@dataclass(frozen=True, slots=True)
class VistDelegering:
    """One delegation as the page shows it to one of its parties."""

    id: uuid.UUID
    ordning: str
    motpart: str
    motpart_navn: str
    opprettet: dt.datetime
    opprettet_av: str
    trukket_tilbake: dt.datetime | None
    trukket_tilbake_av: str | None
    aktiv: bool
    gitt: bool  # given by the organisation shown (else received)


async def _org(orgnr: str, _: Oversett) -> Org:
    return Org(orgnr, _navn(await store.navn([orgnr]), orgnr, _))


def _navn(navn: dict[str, str], orgnr: str, _: Oversett) -> str:
    return navn.get(orgnr) or _(UKJENT)


def _vist(rad: store.DelegeringRad, seer: str, navn: dict[str, str],
          _: Oversett) -> VistDelegering:
    aktoerer = handlinger.aktoerer(rad, seer)
    motpart = rad.til if rad.fra == seer else rad.fra

    def vis(aktoer: str | None) -> str | None:  # an organisation by its name, a person as is
        return None if aktoer is None else navn.get(aktoer, aktoer)

    return VistDelegering(
        id=rad.id, ordning=rad.ordning.tittel, motpart=motpart,
        motpart_navn=_navn(navn, motpart, _), opprettet=rad.opprettet,
        opprettet_av=vis(aktoerer.opprettet_av) or rad.fra, trukket_tilbake=rad.trukket_tilbake,
        trukket_tilbake_av=vis(aktoerer.trukket_tilbake_av), aktiv=rad.aktiv,
        gitt=rad.fra == seer,
    )


def _organisasjon(request: Request, foresporsel: Foresporsel) -> Principal:
    """The organisation of the path, as the logged-in person acts for it (Avslag if they do
    not manage it)."""
    return som_organisasjon(foresporsel.tilgangsstyrer, request.path_params["orgnr"])


def side(request: Request, mal: str, kontekst: dict[str, object], *,
         status: int = 200) -> Response:
    """A page of this feature; its forms may lead to the identity provider (logout)."""
    return svar.side(request, PAKKE, mal, kontekst, status=status, skjema_til=skjema_til(request))


def _kontekst(request: Request, tittel: str, **verdier: object) -> dict[str, object]:
    return {"tittel": tittel, "innlogget": True, "csrf": csrf_token(request), **verdier}


def _til_oversikt(orgnr: str, melding: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/organisasjon/{orgnr}?melding={melding}", status_code=303)


# --- the pages ------------------------------------------------------------------------------

async def forside(request: Request, foresporsel: Foresporsel) -> Response:
    """The organisations the person manages: straight to the one, a choice among several, or a
    page saying there are none and how to get the role."""
    _ = tekster(request)
    orgnrs = sorted(foresporsel.tilgangsstyrer.organisasjoner)
    if len(orgnrs) == 1:
        return RedirectResponse(f"/admin/organisasjon/{orgnrs[0]}", status_code=303)
    if not orgnrs:
        return side(request, "ingen.html",
                    _kontekst(request, _("Du er ikke tilgangsstyrer for noen virksomhet")))
    navn = await store.navn(orgnrs)
    organisasjoner = sorted((Org(o, _navn(navn, o, _)) for o in orgnrs), key=lambda o: o.navn)
    return side(request, "velg.html", _kontekst(request, _("Velg virksomhet"),
                                              organisasjoner=organisasjoner))


async def oversikt(request: Request, foresporsel: Foresporsel) -> Response:
    """Delegations given and received (history included) and the vendors' use."""
    _ = tekster(request)
    principal = _organisasjon(request, foresporsel)
    orgnr = principal.consumer
    gitt, mottatt = await store.delegeringer_for(orgnr)
    fra, til = bruk.periode(foresporsel.now.astimezone(OSLO).date())
    rapport = await bruksrapport(orgnr, fra, til)
    leverandoerer = {s for d in rapport.dager for s in d.paa_vegne_av}
    revidert_av = {r.trukket_tilbake_av_org for r in [*gitt, *mottatt]} - {None}
    navn = await store.navn({orgnr, *leverandoerer, *(r.fra for r in mottatt),
                             *(r.til for r in gitt), *(o for o in revidert_av if o)})
    org = Org(orgnr, _navn(navn, orgnr, _))
    melding = MELDINGER.get(request.query_params.get("melding", ""))
    return side(request, "oversikt.html", _kontekst(
        request, _("Tilganger for %(navn)s") % {"navn": isolated(org.navn)}, org=org,
        flere=len(foresporsel.tilgangsstyrer.organisasjoner) > 1,
        melding=_(melding) if melding else None,
        gitt=[_vist(r, orgnr, navn, _) for r in gitt],
        mottatt=[_vist(r, orgnr, navn, _) for r in mottatt],
        bruk=bruk.diagram(rapport, navn),
    ))


async def _gi_skjema(
    request: Request, org: Org, *, feil: dict[str, str] | None = None, til: str = "",
    ordning: str = "",
) -> Response:
    _ = tekster(request)
    return side(request, "gi.html", _kontekst(
        request, _("Gi tilgang til nytt API"), org=org, ordninger=await store.ordninger(),
        feil=feil or {}, til=til, valgt_ordning=ordning,
    ), status=400 if feil else 200)


async def gi_skjema(request: Request, foresporsel: Foresporsel) -> Response:
    principal = _organisasjon(request, foresporsel)
    return await _gi_skjema(request, await _org(principal.consumer, tekster(request)))


async def gi_kontroller(request: Request, foresporsel: Foresporsel) -> Response:
    """Step one of a grant: the scheme and the receiver checked by the delegation rules, and
    the receiver's name shown for the person to confirm (an unknown number says so)."""
    _ = tekster(request)
    principal = _organisasjon(request, foresporsel)
    org = await _org(principal.consumer, _)
    felt = skjema(await request.body())
    til = felt.get("til", "").strip().replace(" ", "")
    ordning_id = felt.get("ordning", "")
    ordning = await store.hent_ordning(ordning_id) if ordning_id else None
    feil: dict[str, str] = {}
    if ordning is None:  # said beside the receiver's mistakes, all at once
        feil["ordning"] = _(FEILTEKST[UKJENT_ORDNING][1])
    try:
        kan_delegere(principal, til, ordning_finnes=True)
    except Avslag as avslag:
        if avslag.code not in FEILTEKST:
            raise
        felt_navn, tekst = FEILTEKST[avslag.code]
        feil[felt_navn] = _(tekst)
    mottaker_navn = None if "til" in feil else (await store.navn([til])).get(til)
    if "til" not in feil and mottaker_navn is None:
        feil["til"] = _("Fant ingen virksomhet med organisasjonsnummer %(orgnr)s i "
                        "Enhetsregisteret. Kontroller nummeret.") % {"orgnr": til}
    if feil:
        return await _gi_skjema(request, org, feil=feil, til=til[:20], ordning=ordning_id)
    assert ordning is not None and mottaker_navn is not None
    return side(request, "bekreft_gi.html", _kontekst(
        request, _("Bekreft tilgangen"), org=org, ordning=ordning,
        mottaker=Org(til, mottaker_navn),
    ))


async def gi_bekreft(request: Request, foresporsel: Foresporsel) -> Response:
    """Step two: the grant, by the delegation feature's own operation."""
    principal = _organisasjon(request, foresporsel)
    felt = skjema(await request.body())
    await handlinger.gi_tilgang(principal, felt.get("til", ""), felt.get("ordning", ""),
                                foresporsel.now)
    return _til_oversikt(principal.consumer, "gitt")


async def _delegering(request: Request, principal: Principal) -> store.DelegeringRad:
    """The delegation of the path, if the organisation is a party to it; else NotFound (a
    crafted path learns nothing about other organisations' delegations)."""
    try:
        id_ = handlinger.delegerings_id(request.path_params["id"])
    except BadInput as exc:  # not an id at all: as unknown as any other
        raise NotFound("Fant ikke denne tilgangen") from exc
    rad = await store.hent(id_)
    if rad is None or principal.consumer not in (rad.fra, rad.til):
        raise NotFound("Fant ikke denne tilgangen")
    return rad


async def trekk_tilbake_side(request: Request, foresporsel: Foresporsel) -> Response:
    """The confirmation step of a revocation (or of giving up a received delegation)."""
    _ = tekster(request)
    principal = _organisasjon(request, foresporsel)
    rad = await _delegering(request, principal)
    if not rad.aktiv:
        return _til_oversikt(principal.consumer, "allerede")
    navn = await store.navn([rad.fra, rad.til])
    vist = _vist(rad, principal.consumer, navn, _)
    tittel = _("Trekk tilbake tilgangen") if vist.gitt else _("Si fra deg tilgangen")
    return side(request, "trekk_tilbake.html", _kontekst(
        request, tittel, org=Org(principal.consumer, _navn(navn, principal.consumer, _)),
        d=vist,
    ))


async def trekk_tilbake(request: Request, foresporsel: Foresporsel) -> Response:
    """The revocation, by the delegation feature's own operation (which refuses anyone who is
    not a party, and a second revocation)."""
    principal = _organisasjon(request, foresporsel)
    rad = await _delegering(request, principal)
    try:
        await handlinger.trekk_tilbake_tilgang(principal, rad.id, foresporsel.now)
    except store.AlleredeTrukketTilbake:  # a second click, or the other party was first
        return _til_oversikt(principal.consumer, "allerede")
    return _til_oversikt(principal.consumer, "trukket")
