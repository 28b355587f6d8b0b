"""GET /statistikk: the key figures as one self-contained HTML page.

Everything is rendered here (the age groups as an inline SVG bar chart with a table of the same
numbers beside it for screen readers and copying); the page loads nothing from anywhere, and its
Content-Security-Policy says so: the only style allowed is the inline sheet, by its hash. Its
words are the pages' catalogues' (app.sider.sprak), in the reader's language, with the same
chooser as every other page; numbers are written the Norwegian way in every language.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.foresporsel import Clock
from app.sider.maler import bunnlenker
from app.sider.sprak import N_, Oversett, Valg, sprak_for, tekster, velger
from app.statistikk import store

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;
color:#1a1a1a;background:#fff;line-height:1.5}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{padding:.25rem .75rem;border-bottom:1px solid #ccc;text-align:left}
td.tall,th.tall{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}
svg text{font-size:13px;fill:#1a1a1a}
svg .bar{fill:#1f5f8b}
nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
nav a[aria-current]{font-weight:600;color:#1a1a1a;text-decoration:none}
a{color:#0b5394}
a:focus-visible{outline:3px solid #b35c00;outline-offset:2px}
footer{border-top:1px solid #767676;margin-top:3rem;padding-top:.5rem}
footer ul{flex-wrap:wrap;gap:.5rem 1.5rem}
footer a[aria-current]{font-weight:600;color:#1a1a1a}
@media (max-width:30rem){body{margin:1rem auto;padding:0 .5rem}
th,td{padding:.25rem .3rem}}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; font-src 'none'; "
    "script-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

ANDEL_TITTEL = N_("Andel med digital postkasse per aldersgruppe")

# The chart's geometry in SVG user units.
LABEL_W, BAR_MAX, VALUE_W, ROW_H, BAR_H, TOP = 70, 400, 70, 26, 18, 8


def tall(n: int) -> str:
    """Norwegian thousands: 4 331 294 (no-break spaces, so a number never wraps)."""
    return f"{n:,}".replace(",", "\u00a0")


def prosent(andel: float) -> str:
    """0.4659 -> '46,59 %' (decimal comma, no-break space)."""
    return f"{andel * 100:.2f}".replace(".", ",") + "\u00a0%"


def _figures(s: store.Statistikk, _: Oversett) -> str:
    rows = [
        (_("Registrerte oppføringer (aktive og slettede)"), s.registrerte),
        (_("Aktive"), s.aktive),
        (_("Slettede"), s.slettede),
        (_("Med e-postadresse"), s.med_epost),
        (_("Med mobilnummer"), s.med_mobil),
        (_("Med digital postkasse"), s.med_postkasse),
        (_("Reservert mot digital kommunikasjon"), s.reserverte),
        (_("Kan varsles (§ 32: kontaktinformasjon oppdatert eller bekreftet siste 18 måneder)"),
         s.kan_varsles),
    ]
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td class="tall">{tall(n)}</td></tr>'
        for label, n in rows
    )
    caption = escape(_("Innbyggere i registeret"))  # _() outside f-strings: pybabel reads them
    return f'<table id="nokkeltall"><caption>{caption}</caption>{body}</table>'


def _providers(s: store.Statistikk, _: Oversett) -> str:
    body = "".join(
        f"<tr><td>{escape(p.navn)}</td><td>{escape(p.orgnr)}</td>"
        f'<td class="tall">{tall(p.antall)}</td></tr>'
        for p in s.postkasser
    )
    hode = _th(_("Leverandør")) + _th(_("Organisasjonsnummer")) + _th(_("Postkasser"), True)
    return f'<table id="postkasser"><thead><tr>{hode}</tr></thead><tbody>{body}</tbody></table>'


def _th(tekst: str, tallkolonne: bool = False) -> str:
    """A column's heading (of figures: right-aligned)."""
    klasse = ' class="tall"' if tallkolonne else ""
    return f'<th scope="col"{klasse}>{escape(tekst)}</th>'


def _aar(gruppe: str, _: Oversett) -> str:
    """An age group as a reader says it: `15-20 år`."""
    return escape(_("%(gruppe)s år") % {"gruppe": gruppe})


def chart(s: store.Statistikk, _: Oversett) -> str:
    """One horizontal bar per age group, its length the share (0-100 %) of BAR_MAX."""
    height = TOP * 2 + ROW_H * len(s.aldersgrupper)
    width = LABEL_W + BAR_MAX + VALUE_W
    parts = [
        f'<svg id="aldersdiagram" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'aria-labelledby="diagram-tittel diagram-beskrivelse">',
        '<title id="diagram-tittel">' + escape(_(ANDEL_TITTEL)) + "</title>",
        '<desc id="diagram-beskrivelse">' + escape(_(
            "Liggende stolper, én per aldersgruppe fra %(fra)s til %(til)s år; stolpens lengde "
            "er andelen aktive innbyggere i gruppen som har digital postkasse. Tabellen under "
            "diagrammet har de samme tallene.") % {"fra": s.aldersgrupper[0].navn,
                                                   "til": s.aldersgrupper[-1].navn})
        + "</desc>",
    ]
    for i, g in enumerate(s.aldersgrupper):
        y = TOP + i * ROW_H
        text_y = y + BAR_H - 4
        bar = round(g.andel * BAR_MAX, 1)
        parts.append(
            f'<g class="gruppe" data-gruppe="{escape(g.navn)}">'
            f'<text x="{LABEL_W - 8}" y="{text_y}" text-anchor="end">{_aar(g.navn, _)}</text>'
            f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{bar}" height="{BAR_H}"/>'
            f'<text x="{LABEL_W + bar + 6}" y="{text_y}">{prosent(g.andel)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _age_table(s: store.Statistikk, _: Oversett) -> str:
    body = "".join(
        f'<tr><th scope="row">{_aar(g.navn, _)}</th><td class="tall">{tall(g.innbyggere)}</td>'
        f'<td class="tall">{tall(g.med_postkasse)}</td>'
        f'<td class="tall">{prosent(g.andel)}</td></tr>'
        for g in s.aldersgrupper
    )
    caption = escape(_("Andel postkasser per aldersgruppe"))
    hode = (_th(_("Aldersgruppe")) + _th(_("Innbyggere totalt"), True)
            + _th(_("Med digital postkasse"), True) + _th(_("Andel postkasser"), True))
    return (f'<table id="aldersgrupper"><caption>{caption}</caption><thead><tr>{hode}</tr>'
            f"</thead><tbody>{body}</tbody></table>")


def _lookups(s: store.Statistikk, _: Oversett) -> str:
    if not s.oppslag:
        return '<p id="oppslag">' + escape(_("Ingen oppslag i revisjonsloggen.")) + "</p>"
    body = "".join(
        f'<tr><th scope="row">{escape(m.maaned)}</th><td class="tall">{tall(m.oppslag)}</td>'
        f'<td class="tall">{tall(m.personer)}</td><td class="tall">{tall(m.konsumenter)}</td>'
        "</tr>"
        for m in s.oppslag
    )
    hode = (_th(_("Måned")) + _th(_("Oppslag"), True) + _th(_("Personer"), True)
            + _th(_("Virksomheter"), True))
    return f'<table id="oppslag"><thead><tr>{hode}</tr></thead><tbody>{body}</tbody></table>'


def _velger(valg: list[Valg], _: Oversett) -> str:
    """The language chooser every page has (app.sider.sprak), each language named in itself."""
    gjeldende = ' aria-current="true"'
    lenker = "".join(
        f'<li><a href="{escape(v.href)}" lang="{v.kode}" hreflang="{v.kode}"'
        f'{gjeldende if v.valgt else ""}>{escape(v.navn)}</a></li>'
        for v in valg
    )
    navn = escape(_("Språk"))
    return f'<nav aria-label="{navn}"><ul>{lenker}</ul></nav>'


def render(s: store.Statistikk, sprak: str, _: Oversett, valg: list[Valg],
           sti: str = "/statistikk") -> str:
    """The page in language `sprak` (`_` its gettext), with the chooser's `valg` and the
    footer every page has (app.sider: help, contact, the accessibility statement)."""
    computed = s.tidspunkt.astimezone(store.OSLO).strftime("%d.%m.%Y %H:%M")
    tittel = escape(_("Nøkkeltall – Kontakt- og reservasjonsregisteret"))
    h1 = escape(_("Nøkkeltall for Kontakt- og reservasjonsregisteret"))
    ingress = escape(_("Beregnet %(tidspunkt)s (norsk tid). Alder regnes fra fødselsdatoen i "
                       "fødselsnummeret eller D-nummeret.") % {"tidspunkt": computed})
    h_innbyggere = escape(_("Innbyggere"))
    h_postkasser = escape(_("Digitale postkasser per leverandør"))
    h_alder = escape(_(ANDEL_TITTEL))
    h_oppslag = escape(_("Oppslag per måned"))
    return (
        f'<!DOCTYPE html><html lang="{sprak}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{tittel}</title>"
        f"<style>{CSS}</style></head><body>{_velger(valg, _)}<main>"
        f"<h1>{h1}</h1><p>{ingress}</p>"
        f'<section aria-labelledby="h-innbyggere"><h2 id="h-innbyggere">{h_innbyggere}</h2>'
        f"{_figures(s, _)}</section>"
        f'<section aria-labelledby="h-postkasser"><h2 id="h-postkasser">{h_postkasser}</h2>'
        f"{_providers(s, _)}</section>"
        f'<section aria-labelledby="h-alder"><h2 id="h-alder">{h_alder}</h2>'
        f"{chart(s, _)}{_age_table(s, _)}</section>"
        f'<section aria-labelledby="h-oppslag"><h2 id="h-oppslag">{h_oppslag}</h2>'
        f"{_lookups(s, _)}</section>"
        f"</main><footer>{bunnlenker(sprak, sti)}</footer></body></html>"
    )


def side(clock: Clock) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; figures through the application's buffer, like the GraphQL query."""

    async def statistikk_side(request: Request) -> Response:
        figures = await store.hent(request.app.state, clock())
        sprak = sprak_for(request)
        return HTMLResponse(
            render(figures, sprak, tekster(request), velger(request, sprak)),
            headers={
                "Content-Security-Policy": CSP,
                "Referrer-Policy": "no-referrer",
                # Aggregates only: caches may keep it (the edge's default is never kept), one
                # copy per language (chosen by the cookie, else by Accept-Language).
                "Cache-Control": f"public, max-age={int(store.TTL_SEKUNDER)}",
                "Vary": "Accept-Language, Cookie",
                "Content-Language": sprak,
            },
        )

    return statistikk_side
