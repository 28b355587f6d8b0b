"""Numbers and moments as a Norwegian reader expects them: Oslo time, day.month.year, a space
between thousands; and names, isolated."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from markupsafe import Markup

from app.sider.sprak import N_, Oversett
from app.text import without_bidi_controls

OSLO = ZoneInfo("Europe/Oslo")


def tidspunkt(moment: dt.datetime | None, oversett: Oversett) -> str:
    """`01.12.2026 kl. 14:05` in Oslo time (the words in the page's language, `oversett`);
    empty for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    lokal = moment.astimezone(OSLO)
    return oversett(N_("%(dato)s kl. %(tid)s")) % {"dato": lokal.strftime("%d.%m.%Y"),
                                               "tid": lokal.strftime("%H:%M")}


def dato(dag: dt.date) -> str:
    return dag.strftime("%d.%m.%Y")


def tall(n: int) -> str:
    """4 331 294, with no-break spaces so a number never wraps."""
    return f"{n:,}".replace(",", "\u00a0")


def isolert(navn: str) -> Markup:
    """A name (an organisation's, an actor's) in <bdi>: a name in Arabic or Hebrew, or one that
    held bidirectional formatting characters (taken out, see app.text), cannot reorder the text
    around it, such as the organisation number beside it."""
    return Markup("<bdi>{}</bdi>").format(without_bidi_controls(navn))
