"""The vendors' use on the access managers' page: every day of the period, every vendor, on one
scale, with the same figures as GraphQL's `bruk` (app.revisjon.bruk)."""

from __future__ import annotations

import datetime as dt

from app.revisjon.bruk import Bruk, Bruksdag, Bruksrapport
from app.tilgangsstyring import bruk

IDAG = dt.date(2026, 12, 1)
A, B = "984661185", "922020175"


def rapport(dager: list[Bruksdag]) -> Bruksrapport:
    fra, til = bruk.periode(IDAG)
    totalt = Bruk()
    return Bruksrapport("991825827", fra, til, dager, totalt)


def test_the_period_is_the_last_thirty_days_today_included():
    fra, til = bruk.periode(IDAG)
    assert (til - fra).days + 1 == bruk.DAGER == 30 and til == IDAG


def test_every_day_of_the_period_is_a_bar_with_zeros_where_there_was_no_use():
    d = bruk.diagram(rapport([
        Bruksdag(IDAG, paa_vegne_av={A: Bruk(2, 10)}),
        Bruksdag(IDAG - dt.timedelta(days=29), egen_bruk=Bruk(5, 5),
                 paa_vegne_av={B: Bruk(1, 40)}),
    ]), {A: "Digipost", B: "e-Boks"})
    assert [s.navn for s in d.serier] == ["Digipost", "e-Boks"]  # by name
    digipost, eboks = d.serier
    assert len(digipost.stolper) == len(eboks.stolper) == 30
    assert digipost.stolper[-1].personer == 10 and digipost.stolper[0].personer == 0
    assert eboks.stolper[0].personer == 40 and eboks.stolper[0].dag == IDAG - dt.timedelta(29)
    assert (digipost.oppslag, digipost.personer) == (2, 10)
    # One shared scale: the largest day is the full height, the others in proportion.
    assert d.storst == 40
    assert eboks.stolper[0].hoeyde == bruk.STOLPE_MAKS
    assert digipost.stolper[-1].hoeyde == bruk.STOLPE_MAKS / 4
    assert all(s.hoeyde == 0 for s in digipost.stolper[:-1])


def test_own_use_is_not_a_vendor_and_no_vendor_makes_an_empty_chart():
    d = bruk.diagram(rapport([Bruksdag(IDAG, egen_bruk=Bruk(3, 3))]), {})
    assert d.tomt and d.storst == 0


def test_a_tiny_day_beside_a_huge_one_stays_visible_and_an_unknown_vendor_shows_its_number():
    d = bruk.diagram(rapport([Bruksdag(IDAG, paa_vegne_av={A: Bruk(1, 1), B: Bruk(1, 100_000)})]),
                     {B: "e-Boks"})
    liten = next(s for s in d.serier if s.orgnr == A)
    assert liten.navn == A
    assert liten.stolper[-1].hoeyde == 1.0
