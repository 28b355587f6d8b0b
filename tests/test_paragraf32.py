"""§ 32: the 18-month rule, channel by channel, boundary both ways."""

import datetime as dt

import pytest

from app.personer.paragraf32 import Kontaktpunkt, Varslingsstatus, er_fersk, frist, vurder

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
CUTOFF = dt.datetime(2024, 12, 15, 12, 0, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)


def kanal(oppdatert=None, verifisert=None, adresse="a@example.no"):
    return Kontaktpunkt(adresse, oppdatert, verifisert)


def test_cutoff_is_18_calendar_months_back():
    assert frist(NOW) == CUTOFF
    # Month ends clamp: 18 months before 31 Aug 2026 is 28 Feb 2025.
    assert frist(dt.datetime(2026, 8, 31, tzinfo=dt.UTC)) == dt.datetime(2025, 2, 28, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "fresh"),
    [(CUTOFF + US, True), (CUTOFF, False), (CUTOFF - US, False), (NOW, True)],
)
def test_boundary_both_ways(moment, fresh):
    assert er_fersk(kanal(oppdatert=moment), NOW) is fresh
    assert er_fersk(kanal(verifisert=moment), NOW) is fresh


def test_later_of_updated_and_confirmed_counts():
    old = CUTOFF - dt.timedelta(days=100)
    assert er_fersk(kanal(oppdatert=old, verifisert=CUTOFF + dt.timedelta(days=1)), NOW)
    assert er_fersk(kanal(oppdatert=CUTOFF + dt.timedelta(days=1), verifisert=old), NOW)
    assert not er_fersk(kanal(oppdatert=old, verifisert=old), NOW)


def test_channel_without_address_or_dates_is_not_fresh():
    assert not er_fersk(kanal(oppdatert=NOW, adresse=None), NOW)
    assert not er_fersk(kanal(), NOW)


def _vurder(*, aktiv=True, reservert=False, epost_fresh=True, mobil_fresh=True):
    fresh, old = NOW - dt.timedelta(days=1), CUTOFF - dt.timedelta(days=1)
    return vurder(
        aktiv=aktiv,
        reservert=reservert,
        epost=kanal(oppdatert=fresh if epost_fresh else old),
        mobil=kanal(oppdatert=fresh if mobil_fresh else old, adresse="+4791234567"),
        now=NOW,
    )


def test_one_fresh_channel_is_enough_and_each_is_judged_alone():
    v = _vurder(epost_fresh=False, mobil_fresh=True)
    assert v.varslingsstatus is Varslingsstatus.KAN_VARSLES
    assert (v.epost_fersk, v.mobil_fersk) == (False, True)


def test_both_expired_cannot_be_notified():
    v = _vurder(epost_fresh=False, mobil_fresh=False)
    assert v.varslingsstatus is Varslingsstatus.KAN_IKKE_VARSLES


def test_reserved_cannot_be_notified_even_when_fresh():
    assert _vurder(reservert=True).varslingsstatus is Varslingsstatus.KAN_IKKE_VARSLES


def test_not_active_cannot_be_notified():
    assert _vurder(aktiv=False).varslingsstatus is Varslingsstatus.KAN_IKKE_VARSLES
