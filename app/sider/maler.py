"""Templates: Jinja2 with autoescaping on, so text from the register or a form is always
escaped, and undefined names fail loudly instead of rendering empty.

Each feature keeps its own templates beside its code (`<feature>/maler/`) and gets an
environment that also finds the shared layout (`app/sider/maler/base.html`).
"""

from __future__ import annotations

import functools

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from app.sider import format


@functools.cache
def maler_for(pakke: str) -> Environment:
    """The template environment of feature package `pakke` (e.g. "app.tilgangsstyring")."""
    miljoe = Environment(
        loader=ChoiceLoader([PackageLoader(pakke, "maler"), PackageLoader("app.sider", "maler")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    miljoe.filters["tidspunkt"] = format.tidspunkt
    miljoe.filters["dato"] = format.dato
    miljoe.filters["tall"] = format.tall
    miljoe.filters["isolert"] = format.isolert
    return miljoe
