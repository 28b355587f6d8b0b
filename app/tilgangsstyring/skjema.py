"""A form post of the pages, read strictly: the first value of each field, UTF-8, a handful of
fields at most, no text the service refuses anywhere (app.text)."""

from __future__ import annotations

from urllib.parse import parse_qs

from app.errors import BadInput
from app.text import problem

MAKS_FELT = 20  # a form has a handful of fields: more is not ours


def skjema(body: bytes) -> dict[str, str]:
    """A form post's fields (the first value of each); BadInput for more than a form has, for
    text the service refuses (app.text) or for bytes that are not UTF-8."""
    try:
        felt = parse_qs(body.decode("utf-8"), max_num_fields=MAKS_FELT, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput("The form could not be read") from exc
    verdier = {navn: verdi[0] for navn, verdi in felt.items()}
    for navn, verdi in verdier.items():
        if problem(navn) or problem(verdi):
            raise BadInput("The form holds text the service does not accept")
    return verdier
