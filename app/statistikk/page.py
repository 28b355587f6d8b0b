"""GET /statistikk: the key figures as one self-contained HTML page.

Everything is rendered here (the age groups as an inline SVG bar chart with a table of the same
numbers beside it for screen readers and copying); the page loads nothing from anywhere, and its
Content-Security-Policy says so: the only style allowed is the inline sheet, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.foresporsel import Clock
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
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; font-src 'none'; "
    "script-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

# The chart's geometry in SVG user units.
LABEL_W, BAR_MAX, VALUE_W, ROW_H, BAR_H, TOP = 70, 400, 70, 26, 18, 8


def tall(n: int) -> str:
    """Norwegian thousands: 4 331 294 (no-break spaces, so a number never wraps)."""
    return f"{n:,}".replace(",", "\u00a0")


def prosent(andel: float) -> str:
    """0.4659 -> '46,59 %' (decimal comma, no-break space)."""
    return f"{andel * 100:.2f}".replace(".", ",") + "\u00a0%"


def _figures(s: store.Statistikk) -> str:
    rows = [
        ("Registrerte oppføringer (aktive og slettede)", s.registrerte),
        ("Aktive", s.aktive),
        ("Slettede", s.slettede),
        ("Med e-postadresse", s.med_epost),
        ("Med mobilnummer", s.med_mobil),
        ("Med digital postkasse", s.med_postkasse),
        ("Reservert mot digital kommunikasjon", s.reserverte),
        ("Kan varsles (§ 32: kontaktinformasjon oppdatert eller bekreftet siste 18 måneder)",
         s.kan_varsles),
    ]
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td class="tall">{tall(n)}</td></tr>'
        for label, n in rows
    )
    return f'<table id="nokkeltall"><caption>Innbyggere i registeret</caption>{body}</table>'


def _providers(s: store.Statistikk) -> str:
    body = "".join(
        f"<tr><td>{escape(p.navn)}</td><td>{escape(p.orgnr)}</td>"
        f'<td class="tall">{tall(p.antall)}</td></tr>'
        for p in s.postkasser
    )
    return (
        '<table id="postkasser"><thead><tr><th scope="col">Leverandør</th>'
        '<th scope="col">Organisasjonsnummer</th><th scope="col" class="tall">Postkasser</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def chart(s: store.Statistikk) -> str:
    """One horizontal bar per age group, its length the share (0-100 %) of BAR_MAX."""
    height = TOP * 2 + ROW_H * len(s.aldersgrupper)
    width = LABEL_W + BAR_MAX + VALUE_W
    parts = [
        f'<svg id="aldersdiagram" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'aria-labelledby="diagram-tittel diagram-beskrivelse">',
        '<title id="diagram-tittel">Andel med digital postkasse per aldersgruppe</title>',
        '<desc id="diagram-beskrivelse">Liggende stolper, én per aldersgruppe fra '
        f"{escape(s.aldersgrupper[0].navn)} til {escape(s.aldersgrupper[-1].navn)} år; "
        "stolpens lengde er andelen aktive innbyggere i gruppen som har digital postkasse. "
        "Tabellen under diagrammet har de samme tallene.</desc>",
    ]
    for i, g in enumerate(s.aldersgrupper):
        y = TOP + i * ROW_H
        text_y = y + BAR_H - 4
        bar = round(g.andel * BAR_MAX, 1)
        parts.append(
            f'<g class="gruppe" data-gruppe="{escape(g.navn)}">'
            f'<text x="{LABEL_W - 8}" y="{text_y}" text-anchor="end">{escape(g.navn)} år</text>'
            f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{bar}" height="{BAR_H}"/>'
            f'<text x="{LABEL_W + bar + 6}" y="{text_y}">{prosent(g.andel)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _age_table(s: store.Statistikk) -> str:
    body = "".join(
        f'<tr><th scope="row">{escape(g.navn)} år</th><td class="tall">{tall(g.innbyggere)}</td>'
        f'<td class="tall">{tall(g.med_postkasse)}</td>'
        f'<td class="tall">{prosent(g.andel)}</td></tr>'
        for g in s.aldersgrupper
    )
    return (
        '<table id="aldersgrupper"><caption>Andel postkasser per aldersgruppe</caption><thead>'
        '<tr><th scope="col">Aldersgruppe</th><th scope="col" class="tall">Innbyggere totalt'
        '</th><th scope="col" class="tall">Med digital postkasse</th>'
        '<th scope="col" class="tall">Andel postkasser</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _lookups(s: store.Statistikk) -> str:
    if not s.oppslag:
        return '<p id="oppslag">Ingen oppslag i revisjonsloggen.</p>'
    body = "".join(
        f'<tr><th scope="row">{escape(m.maaned)}</th><td class="tall">{tall(m.oppslag)}</td>'
        f'<td class="tall">{tall(m.personer)}</td><td class="tall">{tall(m.konsumenter)}</td>'
        "</tr>"
        for m in s.oppslag
    )
    return (
        '<table id="oppslag"><thead><tr><th scope="col">Måned</th>'
        '<th scope="col" class="tall">Oppslag</th><th scope="col" class="tall">Personer</th>'
        '<th scope="col" class="tall">Virksomheter</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def render(s: store.Statistikk) -> str:
    computed = s.tidspunkt.astimezone(store.OSLO).strftime("%d.%m.%Y %H:%M")
    return (
        '<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Nøkkeltall – Kontakt- og reservasjonsregisteret</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<h1>Nøkkeltall for Kontakt- og reservasjonsregisteret</h1>"
        f'<p>Beregnet {computed} (norsk tid). Alder regnes fra fødselsdatoen i '
        "fødselsnummeret eller D-nummeret.</p>"
        f'<section aria-labelledby="h-innbyggere"><h2 id="h-innbyggere">Innbyggere</h2>'
        f"{_figures(s)}</section>"
        '<section aria-labelledby="h-postkasser"><h2 id="h-postkasser">Digitale postkasser per '
        f"leverandør</h2>{_providers(s)}</section>"
        '<section aria-labelledby="h-alder"><h2 id="h-alder">Andel med digital postkasse per '
        f"aldersgruppe</h2>{chart(s)}{_age_table(s)}</section>"
        '<section aria-labelledby="h-oppslag"><h2 id="h-oppslag">Oppslag per måned</h2>'
        f"{_lookups(s)}</section>"
        "</main></body></html>"
    )


def side(clock: Clock) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; figures through the application's buffer, like the GraphQL query."""

    async def statistikk_side(request: Request) -> Response:
        figures = await store.hent(request.app.state, clock())
        return HTMLResponse(
            render(figures),
            headers={
                "Content-Security-Policy": CSP,
                "Referrer-Policy": "no-referrer",
                # Aggregates only: caches may keep it (the edge's default is never kept).
                "Cache-Control": f"public, max-age={int(store.TTL_SEKUNDER)}",
            },
        )

    return statistikk_side
