"""The lookup: validate the ids, fetch the batch, disclose each person and record it all.

GraphQL and REST hand in the ids, the verified request (app.foresporsel) and the Person fields
asked for; app.personer.utlevering decides per person, app.revisjon keeps the record. Every way
of disclosing persons (the change feed, search, export) records them here too (`revider`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app import metrics
from app.errors import BadInput, Unavailable
from app.foresporsel import Foresporsel
from app.personer import register
from app.personer.utlevering import (
    VARSLINGSSTATUS_FELT,
    Feltavslag,
    PersonSvar,
    Tilgang,
    Utlevering,
    kategoribits,
    tilgang_for,
)
from app.revisjon import store as revisjon
from authz.identifikatorer import problem
from authz.scopes import Handling, aapnende_scopes
from authz.tillatelse import organisasjon

MAX_IDS = 1000
GRAPHQL_FELT = "personer"  # the GraphQL field
PERSONIDENTIFIKATORER = "personidentifikatorer"  # its argument, and REST's body field

# An organisation with a lookup scope may look up (a token minted for another API reads
# nothing); a vendor for one only under an active delegation covering a lookup scope it holds,
# and then sees what the delegation covers, field by field (app.personer.utlevering).
TILLATELSE = organisasjon(Handling.SLAA_OPP, paa_vegne_av=True)


class UgyldigInput(BadInput):
    """The request itself is wrong; nothing is looked up. The offending ids, when the problem
    is with ids, are named in `extensions.ugyldigePersonidentifikatorer`."""

    def __init__(self, message: str, ugyldige: Sequence[str] | None = None) -> None:
        extensions = {} if ugyldige is None else {"ugyldigePersonidentifikatorer": list(ugyldige)}
        super().__init__(message, **extensions)
        self.ugyldige = list(ugyldige or ())


class Revisjonsfeil(Unavailable):
    """The audit record could not be written, so nothing may be disclosed."""


@dataclass(slots=True)
class Oppslagsresultat:
    personer: list[PersonSvar]
    avslag: list[Feltavslag]
    # The audit record of the lookup: written (or failed, Revisjonsfeil) when awaited. Nothing
    # of `personer` may leave before it has been awaited without error.
    revisjon: asyncio.Task[None]


def distinkte_ids(ids: Sequence[str]) -> list[str]:
    """Distinct ids in the order asked, 1 to MAX_IDS of them (not yet checked one by one)."""
    if not ids:
        raise UgyldigInput("personidentifikatorer must hold at least one id", [])
    distinct = list(dict.fromkeys(ids))
    if len(distinct) > MAX_IDS:
        raise UgyldigInput(
            f"personidentifikatorer holds {len(distinct)} distinct ids; at most {MAX_IDS} "
            "are allowed in one request", [],
        )
    return distinct


def kontroller_ids(distinct: Sequence[str]) -> None:
    """Every offending id named in one error."""
    problems = [(i, p) for i in distinct if (p := problem(i)) is not None]
    if problems:
        detail = "; ".join(f"{i!r} {p}" for i, p in problems)
        raise UgyldigInput(
            f"Invalid personidentifikator ({len(problems)}): {detail}",
            [i for i, _ in problems],
        )


async def tilgang(foresporsel: Foresporsel, felter: Iterable[str]) -> Tilgang:
    """What the caller may see of `felter`: the scope table, and for a vendor what the
    delegations cover (read once per request, app.foresporsel)."""
    return tilgang_for(foresporsel.organisasjon, felter, await foresporsel.dekket())


async def slaa_opp(
    ids: Sequence[str], felter: frozenset[str], foresporsel: Foresporsel, *,
    samtidig_revisjon: bool = False,
) -> Oppslagsresultat:
    """Look up a batch and record it: one SQL round trip for the persons, one § 32 decision
    per person, one refusal per field, one audit record.

    Raises UgyldigInput, and Revisjonsfeil when the audit record cannot be written (then
    nothing is disclosed). With `samtidig_revisjon` the record is still being written when
    this returns (its statement sent), so the caller can build its answer meanwhile; it must
    then await `revisjon` before any byte of that answer leaves.
    """
    distinct = distinkte_ids(ids)
    # The persons are fetched while the ids are checked (the fetch discloses nothing): the
    # statement goes out first.
    hentet = asyncio.create_task(register.hent_personer(distinct))
    hentet.add_done_callback(_hentet)
    try:
        await asyncio.sleep(0)
        kontroller_ids(distinct)
        synlig = await tilgang(foresporsel, felter)
    except BaseException:  # a bad id, or abandoned (the deadline): the fetch is not wanted
        hentet.cancel()
        raise
    records = await hentet
    filtrer = VARSLINGSSTATUS_FELT in felter
    utlever = Utlevering(kategorier=synlig.kategorier, filtrer_paa_varsling=filtrer,
                         now=foresporsel.now)
    hent = records.get
    personer = [utlever(i, hent(i)) for i in distinct]
    revisjon = asyncio.create_task(
        revider(foresporsel, synlig, personer, varslingsstatus=filtrer)
    )
    # A request abandoned before it awaits the record (its deadline) leaves the task behind:
    # its failure is then retrieved here, not reported as never retrieved.
    revisjon.add_done_callback(_hentet)
    try:
        if samtidig_revisjon:
            await asyncio.sleep(0)  # the task runs until its statement is sent, then the caller
        else:
            await revisjon
    except asyncio.CancelledError:
        revisjon.cancel()
        raise
    return Oppslagsresultat(personer, synlig.avslag, revisjon)


def _hentet(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def revider(
    foresporsel: Foresporsel, synlig: Tilgang, personer: list[PersonSvar], *,
    varslingsstatus: bool,
) -> None:
    """Record what `personer` disclosed to the caller, and note the record's id on the request
    (a signed answer names it); Revisjonsfeil when it cannot be written (then nothing may be
    disclosed)."""
    principal = foresporsel.organisasjon
    scopes = frozenset().union(*(aapnende_scopes(principal, k) for k in synlig.kategorier))
    bits = kategoribits(synlig.synlige)
    try:
        oppslag_id = await revisjon.skriv_oppslag(
            tidspunkt=foresporsel.now,
            request_id=foresporsel.request_id,
            principal=principal,
            scopes=scopes,
            varslingsstatus=varslingsstatus,
            personer=[(p.personidentifikator, bits(p)) for p in personer],
        )
    except Exception as exc:
        raise Revisjonsfeil(
            "The lookup could not be recorded in the audit log, so nothing was disclosed"
        ) from exc
    foresporsel.revisjoner.append(oppslag_id)
    metrics.persons_disclosed(len(personer))  # recorded, so now disclosed
