"""Return addresses (`?returner_til=`): the policy against open redirects (app.returadresser.
regler), the register (storage, migration 0016) and the operator's `krr returadresser`."""

from __future__ import annotations

import asyncio
import importlib
import itertools

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tortoise.exceptions import IntegrityError

from app import db as database
from app.errors import BadInput
from app.returadresser import regler, store
from app.returadresser.models import Returadresse
from app.returadresser.regler import Avvist, Grunn, Registrert, Tillatt, UgyldigReturadresse
from authz.avslag import UGYLDIG_ORGNR
from tests.conftest import FIXED_NOW
from tests.test_cli import krr

DIGDIR = "991825827"
ORG = "974760673"
NAV = "889640782"
PRINT = "984661185"
KOMMUNE = "922020175"
LATER = FIXED_NOW.replace(year=FIXED_NOW.year + 1)

REGISTRERTE = [
    Registrert(DIGDIR, "https://a.no/cb"),
    Registrert(ORG, "https://a.no/cb/spesiell"),
    Registrert(NAV, "https://xn--rlig-qoa.no/"),  # ærlig.no, the whole host
    Registrert(PRINT, "http://localhost:8000/tilbake"),
    Registrert(KOMMUNE, "https://b.no:8443/"),
    Registrert(KOMMUNE, "https://c.no/mappe/"),
]


# --- the rule --------------------------------------------------------------------------------

TILLATT = [
    # (asked for, in prod too, the organisation, the address the resident is sent to)
    ("https://a.no/cb", True, DIGDIR, "https://a.no/cb"),
    ("https://a.no/cb/", True, DIGDIR, "https://a.no/cb/"),
    ("https://a.no/cb/x/y?state=abc&neste=%2F..%2F", True, DIGDIR,
     "https://a.no/cb/x/y?state=abc&neste=%2F..%2F"),  # the query is the agency's
    ("https://a.no/cb?returner_til=https://evil.no", True, DIGDIR,
     "https://a.no/cb?returner_til=https://evil.no"),
    ("https://A.NO/cb", True, DIGDIR, "https://a.no/cb"),  # hosts in any case
    ("HTTPS://a.No/cb", True, DIGDIR, "https://a.no/cb"),
    ("https://a.no:443/cb", True, DIGDIR, "https://a.no/cb"),  # the default port
    ("https://a.no/cb/spesiell", True, ORG, "https://a.no/cb/spesiell"),  # the longest path
    ("https://a.no/cb/spesiell/x", True, ORG, "https://a.no/cb/spesiell/x"),
    ("https://a.no/cb/spesiellere", True, DIGDIR, "https://a.no/cb/spesiellere"),
    ("https://xn--rlig-qoa.no/", True, NAV, "https://xn--rlig-qoa.no/"),
    ("https://XN--RLIG-QOA.no", True, NAV, "https://xn--rlig-qoa.no/"),
    ("https://xn--rlig-qoa.no/a/b;c=d", True, NAV, "https://xn--rlig-qoa.no/a/b;c=d"),
    ("https://a.no/cb/...;x/..a", True, DIGDIR, "https://a.no/cb/...;x/..a"),
    ("https://b.no:8443/x", True, KOMMUNE, "https://b.no:8443/x"),
    ("https://c.no/mappe/x", True, KOMMUNE, "https://c.no/mappe/x"),
    ("http://localhost:8000/tilbake?kode=1", False, PRINT, "http://localhost:8000/tilbake?kode=1"),
    ("http://LOCALHOST:8000/tilbake/", False, PRINT, "http://localhost:8000/tilbake/"),
]


@pytest.mark.parametrize(("onsket", "i_prod", "orgnr", "adresse"), TILLATT,
                         ids=[t[0][:60] for t in TILLATT])
def test_an_address_at_or_below_a_registered_one_is_allowed_naming_its_organisation(
    onsket, i_prod, orgnr, adresse
):
    for prod in (False, True) if i_prod else (False,):
        tillatt = regler.vurder(onsket, REGISTRERTE, prod=prod)
        assert isinstance(tillatt, Tillatt), (prod, tillatt)
        assert (tillatt.orgnr, tillatt.adresse) == (orgnr, adresse)


AVVIST = [
    # path boundaries, hosts and ports
    ("https://a.no/cbevil", Grunn.IKKE_REGISTRERT),
    ("https://a.no/cb.evil", Grunn.IKKE_REGISTRERT),
    ("https://a.no/CB", Grunn.IKKE_REGISTRERT),  # paths are case-sensitive
    ("https://a.no/", Grunn.IKKE_REGISTRERT),
    ("https://a.no", Grunn.IKKE_REGISTRERT),
    ("https://c.no/mappe", Grunn.IKKE_REGISTRERT),  # registered with its slash: below it only
    ("https://a.no.evil.no/cb", Grunn.IKKE_REGISTRERT),
    ("https://evila.no/cb", Grunn.IKKE_REGISTRERT),
    ("https://evil.no/a.no/cb", Grunn.IKKE_REGISTRERT),
    ("https://evil.no/?https://a.no/cb", Grunn.IKKE_REGISTRERT),
    ("https://a.no:8443/cb", Grunn.IKKE_REGISTRERT),
    ("https://b.no/x", Grunn.IKKE_REGISTRERT),
    ("https://rlig-qoa.no/", Grunn.IKKE_REGISTRERT),
    # not absolute
    ("//evil.no/cb", Grunn.IKKE_ABSOLUTT),
    ("//a.no/cb", Grunn.IKKE_ABSOLUTT),
    ("/cb", Grunn.IKKE_ABSOLUTT),
    ("a.no/cb", Grunn.IKKE_ABSOLUTT),
    (":https://a.no/cb", Grunn.IKKE_ABSOLUTT),
    # schemes
    ("javascript:alert(1)", Grunn.SKJEMA),
    ("JavaScript://a.no/cb%0aalert(1)", Grunn.SKJEMA),
    ("data:text/html,<script>alert(1)</script>", Grunn.SKJEMA),
    ("vbscript:msgbox", Grunn.SKJEMA),
    ("ftp://a.no/cb", Grunn.SKJEMA),
    ("a.no:443/cb", Grunn.SKJEMA),
    ("http://a.no/cb", Grunn.KREVER_HTTPS),
    ("https:a.no/cb", Grunn.INGEN_VERT),
    ("https:/a.no/cb", Grunn.INGEN_VERT),
    ("https:///a.no/cb", Grunn.INGEN_VERT),
    ("https://?x", Grunn.INGEN_VERT),
    # userinfo
    ("https://a.no@evil.no/cb", Grunn.BRUKERINFO),
    ("https://evil.no@a.no/cb", Grunn.BRUKERINFO),
    ("https://a.no:443@evil.no/cb", Grunn.BRUKERINFO),
    ("https://user:pass@a.no/cb", Grunn.BRUKERINFO),
    ("https://a.no%40evil.no/cb", Grunn.UGYLDIG_VERT),
    # dot segments and their encodings
    ("https://a.no/cb/../x", Grunn.PUNKTSEGMENT),
    ("https://a.no/cb/..", Grunn.PUNKTSEGMENT),
    ("https://a.no/cb/./x", Grunn.PUNKTSEGMENT),
    ("https://a.no/cb/..;/x", Grunn.PUNKTSEGMENT),  # Tomcat's reading of ..;
    ("https://a.no/cb/..;jsessionid=1/x", Grunn.PUNKTSEGMENT),
    ("https://a.no/cb/%2e%2e/x", Grunn.KODET_STI),
    ("https://a.no/cb/%2E%2E/x", Grunn.KODET_STI),
    ("https://a.no/cb/.%2e/x", Grunn.KODET_STI),
    ("https://a.no/cb%2f..%2fx", Grunn.KODET_STI),
    ("https://a.no/cb/%5c..%5cx", Grunn.KODET_STI),
    # backslashes, control characters, whitespace, length
    ("https://a.no\\@evil.no/cb", Grunn.BAKSTREK),
    ("https://evil.no\\a.no/cb", Grunn.BAKSTREK),
    ("https://a.no/cb\\..\\x", Grunn.BAKSTREK),
    ("https://a.no/cb\n", Grunn.KONTROLLTEGN),
    ("\thttps://a.no/cb", Grunn.KONTROLLTEGN),
    (" https://a.no/cb", Grunn.KONTROLLTEGN),
    ("https://a.no/cb x", Grunn.KONTROLLTEGN),
    ("https://a.no/cb\x00", Grunn.KONTROLLTEGN),
    ("https://a.no/cb\x7f", Grunn.KONTROLLTEGN),
    ("https://a.no/cb\u00a0", Grunn.KONTROLLTEGN),
    ("https://a.no/cb\u2028", Grunn.KONTROLLTEGN),
    ("https://a.no/cb/" + "x" * (regler.MAKS_LENGDE - 15), Grunn.FOR_LANG),
    ("", Grunn.TOM),
    # fragments
    ("https://a.no/cb#x", Grunn.FRAGMENT),
    ("https://a.no/cb#", Grunn.FRAGMENT),
    ("https://evil.no#@a.no/cb", Grunn.FRAGMENT),
    # hosts: IDN, IP addresses, odd spellings
    ("https://ærlig.no/", Grunn.IKKE_IDNA),
    ("https://a.no\u3002evil.no/cb", Grunn.IKKE_IDNA),  # an ideographic full stop
    ("https://ａ.no/cb", Grunn.IKKE_IDNA),  # a fullwidth a
    ("https://xn--zz.no/", Grunn.IKKE_IDNA),
    ("https://xn--rlig-qoa.no./", Grunn.UGYLDIG_VERT),
    ("https://a.no./cb", Grunn.UGYLDIG_VERT),
    ("https://a_b.no/cb", Grunn.UGYLDIG_VERT),
    ("https://-a.no/cb", Grunn.UGYLDIG_VERT),
    ("https://a..no/cb", Grunn.UGYLDIG_VERT),
    ("https://a.no%2eevil.no/cb", Grunn.UGYLDIG_VERT),
    ("https://10.0.0.1/cb", Grunn.IP_ADRESSE),
    ("https://0x7f.1/cb", Grunn.IP_ADRESSE),
    ("https://2130706433/cb", Grunn.IP_ADRESSE),
    ("https://[::1]/cb", Grunn.IP_ADRESSE),
    ("https://a.no:0/cb", Grunn.UGYLDIG_PORT),
    ("https://a.no:65536/cb", Grunn.UGYLDIG_PORT),
    ("https://a.no:/cb", Grunn.UGYLDIG_PORT),
    ("https://a.no:44x/cb", Grunn.UGYLDIG_PORT),
    ("https://a.no:443:443/cb", Grunn.UGYLDIG_VERT),
    # the path and query
    ("https://a.no/cb/æ", Grunn.IKKE_ASCII),
    ("https://a.no/cb?neste=ø", Grunn.IKKE_ASCII),
    ("https://a.no/cb/<script>", Grunn.UGYLDIG_TEGN),
    ('https://a.no/cb?x="><script>', Grunn.UGYLDIG_TEGN),
    ("https://a.no/cb/%zz", Grunn.UGYLDIG_TEGN),
    ("https://a.no/cb/%2", Grunn.UGYLDIG_TEGN),
]


@pytest.mark.parametrize(("onsket", "grunn"), AVVIST, ids=[a[0][:60] for a in AVVIST])
def test_other_addresses_and_every_open_redirect_form_are_refused_with_the_reason(onsket, grunn):
    for prod in (False, True):
        avvist = regler.vurder(onsket, REGISTRERTE, prod=prod)
        assert avvist == Avvist(grunn), prod
        assert avvist.melding == f"the return address {regler.MELDINGER[grunn]}"


def test_a_doubly_encoded_dot_is_a_character_of_the_path_below_the_registered_one():
    """The browser opens /cb/%252e%252e/x, below /cb; a server decoding twice is a.no's own."""
    tillatt = regler.vurder("https://a.no/cb/%252e%252e/x", REGISTRERTE, prod=True)
    assert tillatt == Tillatt(DIGDIR, "https://a.no/cb/%252e%252e/x", "https://a.no/cb")


@pytest.mark.parametrize("onsket", [None, 42, b"https://a.no/cb", ["https://a.no/cb"]])
def test_what_is_not_text_is_refused(onsket):
    assert regler.vurder(onsket, REGISTRERTE, prod=False) == Avvist(Grunn.IKKE_TEKST)


@pytest.mark.parametrize(("onsket", "grunn"), [
    ("http://localhost:8000/tilbake", Grunn.LOKAL_VERT),
    ("http://127.0.0.1:8000/tilbake", Grunn.LOKAL_VERT),
    ("https://localhost:8000/tilbake", Grunn.LOKAL_VERT),
])
def test_localhost_is_for_development_only(onsket, grunn):
    assert regler.vurder(onsket, REGISTRERTE, prod=True) == Avvist(grunn)
    assert regler.vurder("http://localhost:8000/tilbake", REGISTRERTE, prod=False).orgnr == PRINT


def test_a_registered_address_the_policy_refuses_now_covers_nothing():
    """Rows registered under a laxer rule (or written by hand) are skipped, not trusted."""
    gamle = [Registrert(DIGDIR, "https://a.no/cb/../"), Registrert(ORG, "https://a.no@b.no/")]
    assert regler.vurder("https://a.no/x", gamle, prod=False) == Avvist(Grunn.IKKE_REGISTRERT)
    assert regler.vurder("https://b.no/x", gamle, prod=False) == Avvist(Grunn.IKKE_REGISTRERT)


def test_an_address_at_the_length_limit_is_read():
    adresse = "https://a.no/cb/" + "x" * (regler.MAKS_LENGDE - 16)
    assert len(adresse) == regler.MAKS_LENGDE
    assert regler.vurder(adresse, REGISTRERTE, prod=True).orgnr == DIGDIR


@pytest.mark.parametrize(("orgnr", "adresse", "grunn"), [
    ("991825828", "https://a.no/cb", UGYLDIG_ORGNR),
    (" 991825827", "https://a.no/cb", UGYLDIG_ORGNR),
    (DIGDIR, "https://a.no/cb?state=1", Grunn.SPORRING_REGISTRERT),
    (DIGDIR, "https://a.no/cb?", Grunn.SPORRING_REGISTRERT),
    (DIGDIR, "https://a.no@evil.no/", Grunn.BRUKERINFO),
    (DIGDIR, "//a.no/cb", Grunn.IKKE_ABSOLUTT),
])
def test_an_address_is_registered_by_the_same_policy_without_a_query(orgnr, adresse, grunn):
    with pytest.raises(UgyldigReturadresse) as refused:
        regler.registrerbar(orgnr, adresse, prod=False)
    assert refused.value.extensions["reason"] == grunn
    assert isinstance(refused.value, BadInput)


def test_a_registered_address_is_kept_in_its_one_spelling():
    assert regler.registrerbar(DIGDIR, "HTTPS://A.No:443", prod=True).tekst == "https://a.no/"
    assert regler.registrerbar(DIGDIR, "https://a.no:8443/cb", prod=True).opphav == (
        "https://a.no:8443")


# Whatever is appended to a registered address, what is allowed opens on its host and below
# its path, as another parser (httpx's, after RFC 3986) reads it.
_TEGN = st.sampled_from([*"/?#@:.\\%2eEfF5cC%;=&+~-_ ", "..", "%2e", "%2f", "%5c", "//",
                         "@evil.no", ":443", "\t", "é"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_TEGN, max_size=12).map("".join), st.sampled_from(["https://a.no/cb",
                                                                   "https://a.no"]))
def test_whatever_follows_a_registered_address_opens_on_its_host_and_below_its_path(hale, start):
    tillatt = regler.vurder(start + hale, REGISTRERTE, prod=True)
    if isinstance(tillatt, Avvist):
        return
    url = httpx.URL(tillatt.adresse)
    assert (url.scheme, url.host, url.port, url.userinfo) == ("https", "a.no", None, b"")
    assert url.path == "/cb" or url.path.startswith("/cb/")
    assert not url.fragment


_BITER = st.sampled_from([*"/.@?#%;:[]\\ xn-0123456789abcdef", "https://", "xn--rlig-qoa",
                          "localhost", "127.0.0.1", ":443", "%2e", "..", "é", "\u3002"])


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_BITER, max_size=15).map("".join)),
       st.booleans())
def test_any_text_is_read_or_refused_and_an_addresss_one_spelling_reads_as_itself(tekst, prod):
    try:
        adresse = regler.les(tekst, prod=prod)
    except UgyldigReturadresse as refused:
        assert refused.grunn in set(Grunn)
        return
    assert regler.les(adresse.tekst, prod=prod) == adresse


# --- the register ----------------------------------------------------------------------------

async def test_adding_keeps_the_one_spelling_who_and_when(db):
    rad, ny = await store.legg_til(DIGDIR, "https://A.no:443/cb", "krr-cli:drift", FIXED_NOW,
                                   prod=True)
    assert ny and rad == store.Rad(DIGDIR, "https://a.no/cb", FIXED_NOW, "krr-cli:drift")
    row = await Returadresse.get(adresse="https://a.no/cb")
    assert (row.opphav, row.lagt_til_av) == ("https://a.no", "krr-cli:drift")


async def test_adding_one_there_already_returns_it_and_the_original_adder(db):
    first, _ = await store.legg_til(DIGDIR, "https://a.no/cb", "first", FIXED_NOW, prod=True)
    again, ny = await store.legg_til(DIGDIR, "https://A.NO/cb", None, LATER, prod=True)
    assert (again, ny) == (first, False)
    assert await Returadresse.all().count() == 1


async def test_who_added_it_may_be_unknown(db):
    rad, _ = await store.legg_til(DIGDIR, "https://a.no/cb", None, FIXED_NOW, prod=True)
    assert rad.lagt_til_av is None


async def test_an_address_has_one_organisation(db):
    await store.legg_til(DIGDIR, "https://a.no/cb", "a", FIXED_NOW, prod=True)
    with pytest.raises(store.AnnenEier) as refused:
        await store.legg_til(ORG, "https://a.no:443/cb", "b", FIXED_NOW, prod=True)
    assert refused.value.extensions["reason"] == store.ANNEN_EIER
    assert f"registered for {DIGDIR}" in refused.value.message
    # a path below it may be another's: the longest decides
    await store.legg_til(ORG, "https://a.no/cb/spesiell", "b", FIXED_NOW, prod=True)
    assert (await store.vurder("https://a.no/cb/spesiell/x", prod=True)).orgnr == ORG


async def test_concurrent_adds_make_one_row(db):
    rader = await asyncio.gather(*(
        store.legg_til(DIGDIR, "https://a.no/cb", f"client-{n}", FIXED_NOW, prod=True)
        for n in range(5)))
    assert len({rad for rad, _ in rader}) == 1
    assert sum(ny for _, ny in rader) == 1
    assert await Returadresse.all().count() == 1


async def test_losing_the_insert_race_returns_the_winner_or_names_its_owner(db, monkeypatch):
    """The read-then-insert window: the unique column refuses the second insert."""
    winner, _ = await store.legg_til(DIGDIR, "https://a.no/cb", "first", FIXED_NOW, prod=True)
    real = store._registrert
    calls = itertools.count()

    async def stale_first_read(adresse):
        return None if next(calls) % 2 == 0 else await real(adresse)

    monkeypatch.setattr(store, "_registrert", stale_first_read)
    assert await store.legg_til(DIGDIR, "https://a.no/cb", "second", LATER, prod=True) == (
        winner, False)
    with pytest.raises(store.AnnenEier):
        await store.legg_til(ORG, "https://a.no/cb", "third", LATER, prod=True)
    assert await Returadresse.all().count() == 1


async def test_removing_in_any_spelling_deletes_it_and_bites_at_once(db):
    await store.legg_til(DIGDIR, "https://a.no/cb", "a", FIXED_NOW, prod=True)
    assert isinstance(await store.vurder("https://a.no/cb/x", prod=True), Tillatt)
    fjernet = await store.fjern(DIGDIR, "HTTPS://A.NO:443/cb")
    assert fjernet.adresse == "https://a.no/cb"
    assert await store.vurder("https://a.no/cb/x", prod=True) == Avvist(Grunn.IKKE_REGISTRERT)
    assert await Returadresse.all().count() == 0


async def test_removing_what_is_not_the_organisations_is_refused(db):
    await store.legg_til(DIGDIR, "https://a.no/cb", "a", FIXED_NOW, prod=True)
    for orgnr, adresse in ((ORG, "https://a.no/cb"), (DIGDIR, "https://a.no/cb/x")):
        with pytest.raises(store.IkkeRegistrert) as refused:
            await store.fjern(orgnr, adresse)
        assert refused.value.extensions["reason"] == store.IKKE_REGISTRERT
    assert await Returadresse.all().count() == 1


async def test_a_development_address_can_be_removed_by_the_prod_operator(db):
    await store.legg_til(PRINT, "http://localhost:8000/tilbake", "dev", FIXED_NOW, prod=False)
    assert await store.vurder("http://localhost:8000/tilbake", prod=True) == Avvist(
        Grunn.LOKAL_VERT)
    await store.fjern(PRINT, "http://localhost:8000/tilbake")
    assert await Returadresse.all().count() == 0


async def test_bad_input_is_refused_before_anything_is_stored(db):
    with pytest.raises(UgyldigReturadresse):
        await store.legg_til("123456789", "https://a.no/cb", "a", FIXED_NOW, prod=True)
    with pytest.raises(UgyldigReturadresse):
        await store.legg_til(DIGDIR, "http://localhost:8000/", "a", FIXED_NOW, prod=True)
    with pytest.raises(UgyldigReturadresse):
        await store.liste("97476067")
    assert await Returadresse.all().count() == 0


async def test_liste_by_organisation_and_address(db):
    for orgnr, adresse in ((ORG, "https://b.no/"), (DIGDIR, "https://c.no/"),
                           (DIGDIR, "https://a.no/")):
        await store.legg_til(orgnr, adresse, "a", FIXED_NOW, prod=True)
    assert [(r.orgnr, r.adresse) for r in await store.liste()] == [
        (ORG, "https://b.no/"), (DIGDIR, "https://a.no/"), (DIGDIR, "https://c.no/")]
    assert [r.adresse for r in await store.liste(ORG)] == ["https://b.no/"]
    assert await store.liste(NAV) == []


async def test_vurder_reads_the_origins_rows_and_the_rule_decides(db):
    await store.legg_til(DIGDIR, "https://a.no/cb", "a", FIXED_NOW, prod=True)
    await store.legg_til(ORG, "https://a.no:8443/", "a", FIXED_NOW, prod=True)
    assert await store.vurder("https://a.no/cb?x=1", prod=True) == Tillatt(
        DIGDIR, "https://a.no/cb?x=1", "https://a.no/cb")
    assert (await store.vurder("https://a.no:8443/cb", prod=True)).orgnr == ORG
    assert await store.vurder("https://a.no/cbevil", prod=True) == Avvist(Grunn.IKKE_REGISTRERT)
    assert await store.vurder("//a.no/cb", prod=True) == Avvist(Grunn.IKKE_ABSOLUTT)


# --- migration 0016 --------------------------------------------------------------------------

MIGRATION = importlib.import_module("app.migrations.0016_returadresser")


def test_the_migration_creates_the_table_the_model_declares():
    (opprett,) = MIGRATION.Migration.operations
    i_migrasjonen = dict(opprett.fields)
    modellen = Returadresse._meta.fields_map
    assert set(i_migrasjonen) == set(modellen)
    for navn, felt in i_migrasjonen.items():
        egen = modellen[navn]
        assert (type(felt), felt.null, felt.unique, felt.index, getattr(felt, "max_length", None)
                ) == (type(egen), egen.null, egen.unique, egen.index,
                      getattr(egen, "max_length", None)), navn
    assert opprett.options["table"] == Returadresse._meta.db_table == "returadresse"


async def test_the_migrated_table_holds_one_row_an_address_and_an_unknown_adder(db):
    """Past the store: the database itself refuses a second row of an address."""
    values = {"orgnr": DIGDIR, "adresse": "https://a.no/cb", "opphav": "https://a.no",
              "lagt_til": FIXED_NOW}
    await Returadresse.create(**values)  # lagt_til_av NULL
    await Returadresse.create(**values | {"adresse": "https://a.no/cb/x"})
    with pytest.raises(IntegrityError):
        await Returadresse.create(**values | {"orgnr": ORG})
    lang = "https://a.no/" + "x" * (regler.MAKS_LENGDE - 13)
    await Returadresse.create(**values | {"adresse": lang})
    assert (await Returadresse.get(adresse=lang)).adresse == lang


async def test_the_origin_is_indexed(db):
    conn = database.connection()
    if database.dialect() == "postgres":
        _, rows = await conn.execute_query(
            "SELECT indexdef AS sql FROM pg_indexes WHERE tablename = 'returadresse'")
    else:
        _, rows = await conn.execute_query(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'returadresse' AND type = 'index' "
            "AND sql IS NOT NULL")
    assert any('("opphav")' in r["sql"] or "(opphav)" in r["sql"] for r in rows), rows


# --- krr returadresser -----------------------------------------------------------------------

@pytest.fixture(params=["prod", "dev"])
def krr_env(request, db, cli_env) -> dict[str, str]:
    """The command on the test database (SQLite, or PostgreSQL with KRR_TEST_DATABASE_URL),
    in prod and in development, with a wide table."""
    return cli_env | {"KRR_DATABASE_URL": db.database_url, "KRR_ENV": request.param,
                      "LOGNAME": "drift", "USER": "drift", "COLUMNS": "200"}


async def test_the_operator_adds_lists_and_removes_return_addresses(krr_env):
    added = krr(krr_env, "returadresser", "legg-til", DIGDIR, "https://Tjeneste.example.no/inn")
    assert added.stdout.startswith(
        f"{DIGDIR}: return address added: https://tjeneste.example.no/inn (since ")
    assert "added by krr-cli:drift" in added.stdout
    again = krr(krr_env | {"LOGNAME": "andre", "USER": "andre"}, "returadresser", "legg-til",
                DIGDIR, "https://tjeneste.example.no:443/inn")
    assert again.returncode == 0
    assert again.stdout.startswith(f"{DIGDIR}: already a registered return address: "
                                   "https://tjeneste.example.no/inn (since ")
    assert "added by krr-cli:drift" in again.stdout
    krr(krr_env, "returadresser", "legg-til", ORG, "https://annen.example.no/")

    table = krr(krr_env, "returadresser", "list").stdout
    rows = [line for line in table.splitlines() if "example.no" in line]
    assert [row.split()[1] for row in rows] == [ORG, DIGDIR]  # by organisation
    assert "Digitaliseringsdirektoratet" in rows[1] and "krr-cli:drift" in rows[1]
    only = krr(krr_env, "returadresser", "list", DIGDIR).stdout
    assert "tjeneste.example.no/inn" in only and "annen.example.no" not in only
    assert (await store.vurder("https://tjeneste.example.no/inn/x", prod=True)).orgnr == DIGDIR

    removed = krr(krr_env, "returadresser", "fjern", DIGDIR, "https://tjeneste.example.no/inn")
    assert removed.stdout.startswith(
        f"{DIGDIR}: return address removed: https://tjeneste.example.no/inn")
    assert krr(krr_env, "returadresser", "list", DIGDIR).stdout == (
        f"no return addresses registered for {DIGDIR}\n")
    assert [r.adresse for r in await store.liste()] == ["https://annen.example.no/"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["legg-til", "123456789", "https://a.no/cb"],
         "orgnr '123456789' is not a valid organisation number"),
        (["legg-til", DIGDIR, "https://a.no@evil.no/cb"],
         "URL 'https://a.no@evil.no/cb' has userinfo (...@) before the host"),
        (["legg-til", DIGDIR, "//evil.no/cb"], "URL '//evil.no/cb' is not an absolute URL"),
        (["legg-til", DIGDIR, "https://a.no/cb?x=1"], "URL 'https://a.no/cb?x=1' has a query"),
        (["legg-til", DIGDIR, "https://a.no/cb/../x"],
         "URL 'https://a.no/cb/../x' has a . or .. segment in its path"),
        (["legg-til", DIGDIR, "javascript:alert(1)"],
         "URL 'javascript:alert(1)' has a scheme other than https"),
        (["legg-til", DIGDIR, "https://ærlig.no/"],
         "URL 'https://ærlig.no/' has a host that is not in IDNA form"),
        (["legg-til", DIGDIR, "https://a.no/\x1b[31m"],
         "URL 'https://a.no/\\x1b[31m' holds a control character or whitespace"),
        (["fjern", DIGDIR, "https://a.no/cb"],
         f"https://a.no/cb is not a return address registered for {DIGDIR}"),
        (["list", "97476067"], "orgnr '97476067' is not a valid organisation number"),
    ],
    ids=["bad-orgnr", "userinfo", "relative", "query", "dot-segment", "javascript", "idn",
         "escape", "not-registered", "list-bad-orgnr"],
)
def test_the_operators_bad_input_is_exit_2_with_the_problem_named(krr_env, args, says):
    result = krr(krr_env, "returadresser", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"krr returadresser {args[0]}: {says}"), result.stderr
    assert result.stdout == ""


async def test_localhost_is_refused_in_prod_and_taken_in_development(krr_env):
    result = krr(krr_env, "returadresser", "legg-til", PRINT, "http://localhost:8000/tilbake",
                 check=False)
    if krr_env["KRR_ENV"] == "prod":
        assert result.returncode == 2
        assert "points to localhost, which is not allowed in prod" in result.stderr
        assert await Returadresse.all().count() == 0
    else:
        assert result.returncode == 0, result.stderr
        assert [r.adresse for r in await store.liste(PRINT)] == ["http://localhost:8000/tilbake"]
        prod = krr_env | {"KRR_ENV": "prod"}
        assert krr(prod, "returadresser", "fjern", PRINT, "http://localhost:8000/tilbake"
                   ).returncode == 0


async def test_another_organisations_address_is_exit_2_naming_its_owner(krr_env):
    krr(krr_env, "returadresser", "legg-til", DIGDIR, "https://a.no/cb")
    result = krr(krr_env, "returadresser", "legg-til", ORG, "https://a.no/cb", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"krr returadresser legg-til: https://a.no/cb is registered for {DIGDIR} already")
    assert [r.orgnr for r in await store.liste()] == [DIGDIR]


def test_an_empty_register_says_so(krr_env):
    assert krr(krr_env, "returadresser", "list").stdout == "no return addresses registered\n"
