"""The key figures on a known register: every number asserted exactly, the § 32 count against
app.personer.paragraf32.vurder, the SQL birth-date decoding against
authz.identifikatorer.birth_date, and the public access (no token) to exactly these
aggregates."""

from __future__ import annotations

import datetime as dt
from random import Random

import pytest
from dateutil.relativedelta import relativedelta

from app import db as database
from app.personer.models import Person, Registerstatus
from app.personer.paragraf32 import Kontaktpunkt, Varslingsstatus, frist, vurder
from app.personer.register import hent_personer
from app.revisjon import store as revisjon
from app.revisjon.models import Oppslag
from app.statistikk import store
from app.statistikk.page import prosent, tall
from authz.identifikatorer import birth_date, make_id
from tests.conftest import FIXED_NOW
from tests.factories import DIGIPOST, EBOKS, months_ago, person, provider

TODAY = FIXED_NOW.date()  # 2026-06-15, the same date in Oslo at 12:00 UTC
TREDJE = "999999999"  # a provider without mailboxes


def pid(birth: dt.date, individual: int, *, d_number: bool = False,
        synthetic: bool = True) -> str:
    """A valid id for the birth date, taking the first individual number with check digits."""
    for i in range(individual, individual + 50):
        number = make_id(birth, i, d_number=d_number, synthetic=synthetic)
        if number is not None:
            assert birth_date(number) == birth
            return number
    raise AssertionError("no id")


def born(years: int, days: int = 0) -> dt.date:
    """The birth date of someone exactly `years` old today, shifted `days` later."""
    return TODAY - relativedelta(years=years) + dt.timedelta(days=days)


def mailbox(orgnr: str, name: str) -> dict[str, object]:
    return {"postkasseadresse": name, "postkasseleverandoer_id": orgnr}


async def known_register() -> dict[str, str]:
    """Sixteen entries chosen so each figure and age group has a known count."""
    await provider(DIGIPOST, "Digipost")
    await provider(EBOKS, "e-Boks")
    await provider(TREDJE, "Tredje")
    cutoff = frist(FIXED_NOW)
    ids = {
        # 15 today: in 15-20, Digipost.
        "a15": pid(born(15), 500),
        # 15 tomorrow (14 today): in no group.
        "b14": pid(born(15, days=1), 510),
        # 21 tomorrow (20 today), a D-number: in 15-20, no mailbox.
        "c20": pid(born(21, days=1), 520, d_number=True),
        # 21 today, an ordinary (not synthetic) number: in 21-25, e-Boks.
        "d21": pid(born(21), 530, synthetic=False),
        # 90: in 86-90.
        "e90": pid(born(90, days=-100), 100),
        # 91 today: in 90+, Digipost.
        "f91": pid(born(91), 110),
        # Born 1899 (individual 500-749, year >= 54: the 1800s): 127, in 90+.
        "g1899": pid(dt.date(1899, 3, 3), 600),
        # Deleted, 30: counted as an entry and deleted only.
        "h_slettet": pid(born(30), 120),
        # 40, reserved with fresh channels: reserved, not notifiable.
        "i_reservert": pid(born(40), 130),
        # 40, both channels last touched 19 months ago.
        "j_utlopt": pid(born(40, days=-1), 140),
        # 50, mobile only, Digipost.
        "k_mobil": pid(born(50), 150),
        # 50, no channels at all, Digipost.
        "l_ingen": pid(born(50, days=-2), 160),
        # 60, e-mail changed 21 months ago but confirmed 15 months ago: fresh.
        "m_bekreftet": pid(born(60), 170),
        # 60, empty e-mail address with fresh dates: no e-mail, not notifiable.
        "n_tom": pid(born(60, days=-3), 180),
        # 70, e-mail touched exactly at the cutoff: not after it, so expired.
        "o_grense": pid(born(70), 190),
        # 70, e-mail touched one second after the cutoff: fresh.
        "p_grense": pid(born(70, days=-4), 200),
    }
    no_mobile = {"mobil": None}
    await person(ids["a15"], **mailbox(DIGIPOST, "a#digipost"))
    await person(ids["b14"])
    await person(ids["c20"])
    await person(ids["d21"], **mailbox(EBOKS, "d#eboks"))
    await person(ids["e90"])
    await person(ids["f91"], **mailbox(DIGIPOST, "f#digipost"))
    await person(ids["g1899"])
    await person(ids["h_slettet"], epost=None, mobil=None, status=Registerstatus.SLETTET)
    await person(ids["i_reservert"], reservasjon=True, reservasjonstidspunkt=months_ago(3))
    await person(ids["j_utlopt"], epost_alder=19, mobil_alder=19)
    await person(ids["k_mobil"], epost=None, **mailbox(DIGIPOST, "k#digipost"))
    await person(ids["l_ingen"], epost=None, mobil=None, **mailbox(DIGIPOST, "l#digipost"))
    await person(ids["m_bekreftet"], epost_alder=15, **no_mobile)
    await person(ids["n_tom"], epost=None, mobil=None, epostadresse="",
                 epostadresse_oppdatert=months_ago(1), epostadresse_sist_verifisert=months_ago(1))
    await person(ids["o_grense"], epost=None, mobil=None, epostadresse="o@example.no",
                 epostadresse_oppdatert=cutoff)
    await person(ids["p_grense"], epost=None, mobil=None, epostadresse="p@example.no",
                 epostadresse_oppdatert=cutoff + dt.timedelta(seconds=1))
    return ids


async def audit_log() -> None:
    """May: three requests by two organisations (8 persons); June: one (10 persons)."""
    rows = [
        (dt.datetime(2026, 5, 3, 9, tzinfo=dt.UTC), "974760673", 3),
        (dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.UTC), "974760673", 4),  # 1 June in Oslo
        (dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC), "991825827", 1),
        (dt.datetime(2026, 6, 14, 9, tzinfo=dt.UTC), "974760673", 10),
    ]
    # Written as rows, not through the audit store: their months are made first (PostgreSQL).
    await revisjon.lag_maaneder_framover(rows[0][0])
    for n, (at, consumer, antall) in enumerate(rows):
        dag = at.astimezone(store.OSLO).date()
        await Oppslag.create(tidspunkt=at, dag=dag, request_id=f"r{n}", consumer=consumer,
                             scopes="krr:global/kontaktinformasjon.read",
                             varslingsstatus=False, antall=antall)


EXPECTED_GROUPS = {  # name: (innbyggere, med_postkasse)
    "15-20": (2, 1), "21-25": (1, 1), "36-40": (2, 0), "46-50": (2, 2), "56-60": (2, 0),
    "66-70": (2, 0), "86-90": (1, 0), "90+": (2, 1),
}


async def test_figures_on_a_known_register(db):
    await known_register()
    await audit_log()
    s = await store.statistikk(FIXED_NOW)

    assert s.dato == TODAY
    assert (s.registrerte, s.aktive, s.slettede) == (16, 15, 1)
    # E-mail: all active but k, l, n (empty), and m/o/p have one: 15 - 3 = 12.
    assert s.med_epost == 12
    # Mobile: the factory default for a-g, i, j, k; none for h (deleted), l, m, n, o, p.
    assert s.med_mobil == 10
    assert s.med_postkasse == 5
    assert s.reserverte == 1
    # Notifiable: a b c d e f g (fresh defaults), k (mobile), m (confirmed), p (after cutoff).
    assert s.kan_varsles == 10
    assert [(p.orgnr, p.navn, p.antall) for p in s.postkasser] == [
        (DIGIPOST, "Digipost", 4), (EBOKS, "e-Boks", 1), (TREDJE, "Tredje", 0),
    ]
    names = [g.navn for g in s.aldersgrupper]
    assert names == ["15-20", "21-25", "26-30", "31-35", "36-40", "41-45", "46-50", "51-55",
                     "56-60", "61-65", "66-70", "71-75", "76-80", "81-85", "86-90", "90+"]
    got = {g.navn: (g.innbyggere, g.med_postkasse) for g in s.aldersgrupper}
    assert got == {name: EXPECTED_GROUPS.get(name, (0, 0)) for name in names}
    by_name = {g.navn: g for g in s.aldersgrupper}
    assert by_name["15-20"].andel == 0.5
    assert by_name["46-50"].andel == 1.0
    assert by_name["26-30"].andel == 0.0
    assert (by_name["90+"].fra, by_name["90+"].til) == (91, None)
    assert [(m.maaned, m.oppslag, m.personer, m.konsumenter) for m in s.oppslag] == [
        ("2026-05", 2, 4, 2), ("2026-06", 2, 14, 1),
    ]


async def test_notifiable_count_agrees_with_paragraf32(db):
    await known_register()
    # Around the 18-month line: e-mail confirmed `later` months ago, mobile one month earlier
    # (exactly 18 months is not after the cutoff).
    for later in (1, 7, 17, 18, 19):
        await person(pid(born(33, days=-later), 300 + later), epost_alder=later,
                     mobil_alder=later + 1)
    s = await store.statistikk(FIXED_NOW)
    ids = [p.personidentifikator for p in await Person.all()]
    records = await hent_personer(ids)
    expected = sum(
        vurder(
            aktiv=r.status is Registerstatus.AKTIV,
            reservert=r.reservasjon,
            epost=Kontaktpunkt(r.epostadresse, r.epostadresse_oppdatert,
                               r.epostadresse_sist_verifisert),
            mobil=Kontaktpunkt(r.mobiltelefonnummer, r.mobiltelefonnummer_oppdatert,
                               r.mobiltelefonnummer_sist_verifisert),
            now=FIXED_NOW,
        ).varslingsstatus is Varslingsstatus.KAN_VARSLES
        for r in records.values()
    )
    assert len(records) == s.registrerte == 21
    assert s.kan_varsles == expected == 13


def _sample_ids(count: int) -> list[str]:
    """Ids over every century rule, D-numbers and synthetic numbers, seeded."""
    rng = Random(4)
    ranges = [(0, 499), (500, 749), (750, 899), (900, 999)]
    out: set[str] = set()
    while len(out) < count:
        lo, hi = rng.choice(ranges)
        individual = rng.randint(lo, hi)
        yy = rng.randint(0, 99)
        for year in (1800 + yy, 1900 + yy, 2000 + yy):
            day = dt.date(year, rng.randint(1, 12), rng.randint(1, 28)) + dt.timedelta(
                days=rng.randint(0, 3))
            number = make_id(day, individual, d_number=rng.random() < 0.3,
                             synthetic=rng.random() < 0.5)
            if number is not None and birth_date(number) is not None:
                out.add(number)
    return sorted(out)


async def test_birth_date_and_age_in_sql_match_python(db):
    ids = _sample_ids(400)
    await Person.bulk_create([Person(personidentifikator=i) for i in ids])
    today = "20260615"
    sql = (
        f"SELECT p.personidentifikator, {store.birth_yyyymmdd(store.FIRST_NINE)},"
        f" {store.age_sql(store.FIRST_NINE, today)} FROM person p"
    )
    _, rows = await database.connection().execute_query(sql)
    assert len(rows) == len(ids)
    for number, yyyymmdd, age in rows:
        born_on = birth_date(number)
        assert born_on is not None
        assert int(yyyymmdd) == born_on.year * 10000 + born_on.month * 100 + born_on.day, number
        expected_age = relativedelta(TODAY, born_on).years if born_on <= TODAY else None
        if expected_age is not None:
            assert int(age) == expected_age, number


def test_age_groups_follow_seed_004():
    assert store.gruppe_for(14) is None
    assert store.gruppe_for(15) == store.gruppe_for(20) == 0
    assert store.gruppe_for(21) == 1
    assert store.gruppe_for(90) == 14
    assert store.gruppe_for(91) == store.gruppe_for(130) == 15


QUERY = """{ statistikk { registrerte aktive slettede medEpost medMobil medPostkasse reserverte
  kanVarsles dato postkasser { orgnr navn antall }
  aldersgrupper { navn fra til innbyggere medPostkasse andel }
  oppslag { maaned oppslag personer konsumenter } } }"""


async def test_statistikk_without_a_token(db, client):
    await known_register()
    await audit_log()
    response = await client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body
    s = body["data"]["statistikk"]
    assert (s["registrerte"], s["aktive"], s["slettede"], s["kanVarsles"]) == (16, 15, 1, 10)
    assert (s["medEpost"], s["medMobil"], s["medPostkasse"], s["reserverte"]) == (12, 10, 5, 1)
    assert s["dato"] == "2026-06-15"
    assert s["postkasser"][0] == {"orgnr": DIGIPOST, "navn": "Digipost", "antall": 4}
    groups = {g["navn"]: g for g in s["aldersgrupper"]}
    assert groups["15-20"] == {"navn": "15-20", "fra": 15, "til": 20, "innbyggere": 2,
                               "medPostkasse": 1, "andel": 0.5}
    assert groups["90+"]["til"] is None
    assert s["oppslag"][0] == {"maaned": "2026-05", "oppslag": 2, "personer": 4,
                               "konsumenter": 2}


async def test_statistikk_with_person_data_needs_a_token(db, client):
    mixed = "{ statistikk { aktive } personer(personidentifikatorer: []) { status } }"
    response = await client.post("/graphql", json={"query": mixed})
    assert response.status_code == 401
    assert "data" not in response.json()


async def test_figures_are_shared_for_a_minute(db, client):
    await known_register()
    first = (await client.post("/graphql", json={"query": "{ statistikk { aktive } }"})).json()
    await person(pid(born(33), 400))
    again = (await client.post("/graphql", json={"query": "{ statistikk { aktive } }"})).json()
    assert first == again == {"data": {"statistikk": {"aktive": 15}}}
    assert (await store.statistikk(FIXED_NOW)).aktive == 16


async def test_page_without_a_token(db, client):
    await known_register()
    response = await client.get("/statistikk")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'none'" in csp
    html = response.text
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count('<rect class="bar"') == 16
    assert "Kan varsles" in html and ">10<" in html


@pytest.mark.parametrize("andel, text", [(0.4659, "46,59\u00a0%"), (1.0, "100,00\u00a0%")])
def test_norwegian_number_format(andel, text):
    assert prosent(andel) == text
    assert tall(4331294) == "4\u00a0331\u00a0294"
