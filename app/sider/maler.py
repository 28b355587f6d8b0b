"""Templates: Jinja2 with autoescaping on, so text from the register or a form is always
escaped, and undefined names fail loudly instead of rendering empty.

Each feature keeps its own templates beside its code (`<feature>/maler/`) and gets an
environment per language that also finds the shared layout (`app/sider/maler/base.html`), with
that language's catalogue (app.sider.sprak) installed: `{% trans %}` and `_()` (new-style
gettext, so a translation's placeholders are filled and escaped by Jinja), whitespace inside
`{% trans %}` collapsed, as the extraction (babel.cfg) collapses it.
"""

from __future__ import annotations

import functools

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.sider import format
from app.sider.sprak import oversettelser


@functools.cache
def maler_for(pakke: str, sprak: str) -> Environment:
    """The template environment of feature package `pakke` (e.g. "app.tilgangsstyring") in
    language `sprak`."""
    miljoe = Environment(
        loader=ChoiceLoader([PackageLoader(pakke, "maler"), PackageLoader("app.sider", "maler")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    miljoe.policies["ext.i18n.trimmed"] = True
    oversettelse = oversettelser(sprak)
    miljoe.install_gettext_translations(oversettelse, newstyle=True)  # type: ignore[attr-defined]
    miljoe.filters["tidspunkt"] = functools.partial(format.tidspunkt,
                                                    oversett=oversettelse.gettext)
    miljoe.filters["dato"] = format.dato
    miljoe.filters["tall"] = format.tall
    miljoe.filters["isolert"] = format.isolert
    return miljoe


def bunnlenker(sprak: str, sti: str) -> Markup:
    """The footer's links (help, contact, the accessibility statement) in language `sprak`,
    the one at `sti` marked as the current page: for a page not built on the shared layout
    (/statistikk), so that every page has the same footer."""
    return Markup(maler_for("app.sider", sprak).get_template("bunn.html").render(sti=sti))
