"""Configuration from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import KONTAKT_EKSEMPEL, ConfigError, CorsOrigins, Kontakt, load_settings
from app.edge.app import build_verifier, create_app
from authz.tokens import TrustedIssuer


def test_defaults_to_dev_and_an_sqlite_file_under_var(tmp_path: Path):
    settings = load_settings({"KRR_VAR_DIR": str(tmp_path)})
    assert settings.env == "dev"
    assert settings.database_url == f"sqlite://{tmp_path / 'krr.sqlite3'}"
    assert settings.trusts_dev_issuer


def test_database_urls():
    assert load_settings({"KRR_DATABASE_URL": "sqlite:///tmp/x.sqlite3"}).database_url == (
        "sqlite:///tmp/x.sqlite3"
    )
    assert load_settings({"KRR_DATABASE_URL": "postgresql://u@h:5432/d"}).database_url == (
        "postgres://u@h:5432/d"
    )
    with pytest.raises(ConfigError, match="KRR_DATABASE_URL"):
        load_settings({"KRR_DATABASE_URL": "mysql://u@h/d"})


def test_trusted_issuers_map_to_a_jwks_url_or_url_and_kind():
    issuers = json.dumps(
        {
            "https://test.maskinporten.no/": "https://test.maskinporten.no/jwk",
            "https://test.idporten.no": {
                "jwks": "https://test.idporten.no/jwks.json",
                "kind": "idporten",
            },
            "https://mp2.example/": {"jwks": "https://mp2.example/jwk", "kind": "maskinporten"},
        }
    )
    assert load_settings({"KRR_TRUSTED_ISSUERS": issuers}).trusted_issuers == {
        "https://test.maskinporten.no/": TrustedIssuer("https://test.maskinporten.no/jwk"),
        "https://test.idporten.no": TrustedIssuer("https://test.idporten.no/jwks.json", "idporten"),
        "https://mp2.example/": TrustedIssuer("https://mp2.example/jwk", "maskinporten"),
    }
    assert load_settings({}).trusted_issuers == {}


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        '["a"]',
        '{"a": 1}',
        '{"a": null}',
        '{"a": {"jwks": "https://a/jwk"}}',  # the kind is never guessed
        '{"a": {"jwks": "https://a/jwk", "kind": "bankid"}}',
        '{"a": {"jwks": "https://a/jwk", "kind": "IDPORTEN"}}',
        '{"a": {"jwks": 7, "kind": "idporten"}}',
        '{"a": {"jwks_uri": "https://a/jwk", "kind": "idporten"}}',
        '{"a": {"jwks": "https://a/jwk", "kind": "idporten", "extra": 1}}',
        '{"a": ["https://a/jwk", "idporten"]}',
    ],
)
def test_trusted_issuers_errors_name_the_variable(bad: str):
    with pytest.raises(ConfigError, match="KRR_TRUSTED_ISSUERS"):
        load_settings({"KRR_TRUSTED_ISSUERS": bad})


def test_issuer_kinds_reach_the_verifier(tmp_path: Path):
    issuers = json.dumps(
        {
            "https://test.maskinporten.no/": "https://test.maskinporten.no/jwk",
            "https://test.idporten.no": {"jwks": "https://idp.example/jwk", "kind": "idporten"},
        }
    )
    settings = load_settings({"KRR_VAR_DIR": str(tmp_path), "KRR_TRUSTED_ISSUERS": issuers})
    verifier = build_verifier(settings)
    assert verifier.kinds == {
        "https://test.maskinporten.no/": "maskinporten",
        "https://test.idporten.no": "idporten",
    }


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="KRR_ENV"):
        load_settings({"KRR_ENV": "staging"})


def test_log_format_is_text_in_dev_and_json_lines_in_test_and_prod():
    assert load_settings({}).log_format == "text"  # KRR_ENV defaults to dev
    assert load_settings({"KRR_ENV": "dev"}).log_format == "text"
    assert load_settings({"KRR_ENV": "test"}).log_format == "json"
    assert load_settings({"KRR_ENV": "prod"}).log_format == "json"
    assert load_settings({"KRR_ENV": "prod", "KRR_LOG_FORMAT": " "}).log_format == "json"


def test_log_format_can_be_chosen_in_any_environment():
    assert load_settings({"KRR_ENV": "dev", "KRR_LOG_FORMAT": "json"}).log_format == "json"
    assert load_settings({"KRR_ENV": "prod", "KRR_LOG_FORMAT": "text"}).log_format == "text"
    assert load_settings({"KRR_ENV": "test", "KRR_LOG_FORMAT": "text "}).log_format == "text"


@pytest.mark.parametrize("bad", ["yaml", "JSON ", "rich", "json,text"])
def test_unknown_log_format_is_refused_naming_the_variable_and_the_choices(bad: str):
    with pytest.raises(ConfigError, match=r"KRR_LOG_FORMAT must be one of json, text") as err:
        load_settings({"KRR_LOG_FORMAT": bad})
    assert repr(bad) in str(err.value)


def test_prod_never_trusts_the_dev_issuer_and_wants_https_jwks(tmp_path: Path):
    prod = {"KRR_ENV": "prod", "KRR_VAR_DIR": str(tmp_path)}
    assert not load_settings(prod).trusts_dev_issuer
    plain_http = prod | {"KRR_TRUSTED_ISSUERS": '{"https://mp.example/": "http://mp.example/jwk"}'}
    with pytest.raises(ValueError, match="https"):
        create_app(load_settings(plain_http), manage_db=False)
    loopback = prod | {"KRR_TRUSTED_ISSUERS": '{"https://mp.example/": "http://127.0.0.1:9/jwk"}'}
    create_app(load_settings(loopback), manage_db=False)
    idporten_http = prod | {
        "KRR_TRUSTED_ISSUERS": '{"https://idp.example": {"jwks": "http://idp.example/jwk", '
        '"kind": "idporten"}}'
    }
    with pytest.raises(ValueError, match="https"):
        create_app(load_settings(idporten_http), manage_db=False)


def test_krr_audience_lists_the_audiences_this_service_answers_to():
    assert load_settings({}).audiences == frozenset()
    assert load_settings({"KRR_AUDIENCE": "https://krr.example.no/, krr:api"}).audiences == {
        "https://krr.example.no/", "krr:api"}
    with pytest.raises(ConfigError, match="KRR_AUDIENCE"):
        load_settings({"KRR_AUDIENCE": "krr:\x00api"})


def test_request_timeout_is_five_seconds_unless_set():
    assert load_settings({}).request_timeout == 5.0
    assert load_settings({"KRR_REQUEST_TIMEOUT": " "}).request_timeout == 5.0
    assert load_settings({"KRR_REQUEST_TIMEOUT": "0.5"}).request_timeout == 0.5
    assert load_settings({"KRR_REQUEST_TIMEOUT": " 12 "}).request_timeout == 12.0


@pytest.mark.parametrize("bad", ["0", "-1", "0.05", "601", "nan", "inf", "5s", "fem"])
def test_request_timeout_out_of_range_is_refused_naming_the_variable(bad: str):
    with pytest.raises(ConfigError, match=r"KRR_REQUEST_TIMEOUT must be 0.1 to 600 seconds") as err:
        load_settings({"KRR_REQUEST_TIMEOUT": bad})
    assert repr(bad) in str(err.value)


def test_reading_deadlines_and_connection_limits_default_and_are_named_when_wrong():
    settings = load_settings({})
    assert (settings.header_timeout, settings.body_timeout) == (5.0, 10.0)
    assert (settings.max_connections, settings.keep_alive_timeout) == (1000, 5)
    settings = load_settings({"KRR_HEADER_TIMEOUT": "2", "KRR_BODY_TIMEOUT": "0.5",
                              "KRR_MAX_CONNECTIONS": "200", "KRR_KEEP_ALIVE_TIMEOUT": "75"})
    assert (settings.header_timeout, settings.body_timeout) == (2.0, 0.5)
    assert (settings.max_connections, settings.keep_alive_timeout) == (200, 75)
    for name, bad in [("KRR_HEADER_TIMEOUT", "0"), ("KRR_BODY_TIMEOUT", "nan"),
                      ("KRR_MAX_CONNECTIONS", "0"), ("KRR_KEEP_ALIVE_TIMEOUT", "5.5")]:
        with pytest.raises(ConfigError, match=name):
            load_settings({name: bad})


# --- KRR_CORS_ORIGINS (app.edge.cors) -----------------------------------------------------------

def test_no_origin_may_call_from_a_browser_by_default_but_in_dev_pages_on_this_machine():
    for env in ("prod", "test"):
        origins = load_settings({"KRR_ENV": env}).cors_origins
        assert origins == CorsOrigins()
        assert not origins.allows("http://localhost:5173")
        assert not origins.allows("http://127.0.0.1:8000")
    dev = load_settings({"KRR_ENV": "dev"}).cors_origins  # `make run`
    for origin in ("http://127.0.0.1:8000", "http://localhost:8000", "http://localhost:5173",
                   "http://[::1]:3000", "http://localhost", "https://localhost:8443"):
        assert dev.allows(origin), origin
    for origin in ("https://kunde.example", "http://localhost.kunde.example",
                   "http://127.0.0.1.kunde.example:8000", "http://127.0.0.2:8000", "null",
                   "http://localhost:8000/", "http://LOCALHOST:8000"):
        assert not dev.allows(origin), origin


def test_origins_are_kept_as_browsers_write_them():
    raw = ("https://Minside.Example.no/, http://localhost:5173  https://kunde.example:443,"
           "http://[0:0::1]:80 http://10.0.0.7:8080")
    origins = load_settings({"KRR_ENV": "test", "KRR_CORS_ORIGINS": raw}).cors_origins
    assert origins == CorsOrigins(frozenset({
        "https://minside.example.no", "http://localhost:5173", "https://kunde.example",
        "http://[::1]", "http://10.0.0.7:8080"}))
    assert origins.allows("http://localhost:5173")
    assert not origins.allows("http://localhost:5174")  # another port is another origin
    assert not origins.allows("http://minside.example.no")  # and another scheme
    # Named origins replace dev's default.
    dev = load_settings({"KRR_ENV": "dev", "KRR_CORS_ORIGINS": "https://kunde.example"})
    assert dev.cors_origins == CorsOrigins(frozenset({"https://kunde.example"}))
    assert not dev.cors_origins.allows("http://localhost:8000")


@pytest.mark.parametrize("bad", [
    "https://kunde.example/app", "https://kunde.example//", "kunde.example", "ftp://kunde.example",
    "https://user@kunde.example", "https://kunde.example?x=1", "https://kunde.example#top",
    "https://kunde.example:99999", "https://kunde.example:0", "https://*.kunde.example", "null",
    "http://[::1", "https://bærum.kommune.no", "https://kunde.example, file:///tmp",
])
def test_a_malformed_origin_stops_the_service_naming_the_variable(bad: str):
    with pytest.raises(ConfigError, match="KRR_CORS_ORIGINS must be origins") as refused:
        load_settings({"KRR_ENV": "test", "KRR_CORS_ORIGINS": bad})
    assert repr(bad.split(", ")[-1])[:60] in str(refused.value)


def test_in_prod_each_origin_is_named_and_https():
    with pytest.raises(ConfigError, match="KRR_CORS_ORIGINS must name each origin in prod"):
        load_settings({"KRR_ENV": "prod", "KRR_CORS_ORIGINS": "https://kunde.example *"})
    with pytest.raises(ConfigError, match=r"KRR_CORS_ORIGINS .*https only in prod"):
        load_settings({"KRR_ENV": "prod", "KRR_CORS_ORIGINS": "http://kunde.example"})
    prod = load_settings({"KRR_ENV": "prod", "KRR_CORS_ORIGINS": "https://kunde.example"})
    assert prod.cors_origins == CorsOrigins(frozenset({"https://kunde.example"}))
    # Outside prod `*` lets every origin in (never with credentials: app.edge.cors).
    every = load_settings({"KRR_ENV": "test", "KRR_CORS_ORIGINS": "*"}).cors_origins
    assert every.allows("https://hvem-som-helst.example") and every.allows("http://localhost:1")


# --- the operator's contact on the help pages (KRR_KONTAKT_*) -------------------------------

def test_the_contact_is_an_example_outside_prod_and_none_in_prod_unless_set():
    assert load_settings({"KRR_ENV": "dev"}).kontakt == KONTAKT_EKSEMPEL
    assert load_settings({"KRR_ENV": "test"}).kontakt == KONTAKT_EKSEMPEL
    assert load_settings({"KRR_ENV": "prod"}).kontakt == Kontakt()
    assert not Kontakt().oppgitt
    given = load_settings({"KRR_ENV": "prod", "KRR_KONTAKT_EPOST": " uu@drift.example.org ",
                           "KRR_KONTAKT_URL": "https://drift.example.org/kontakt/"}).kontakt
    assert given == Kontakt(epost="uu@drift.example.org", url="https://drift.example.org/kontakt")
    only_mail = load_settings({"KRR_ENV": "prod", "KRR_KONTAKT_EPOST": "uu@drift.example.org"})
    assert only_mail.kontakt == Kontakt(epost="uu@drift.example.org") and only_mail.kontakt.oppgitt


@pytest.mark.parametrize(("env", "name", "bad"), [
    ("dev", "KRR_KONTAKT_EPOST", "ikke en adresse"),
    ("dev", "KRR_KONTAKT_EPOST", "a@b"),
    ("dev", "KRR_KONTAKT_EPOST", "a@b.no<script>"),
    ("prod", "KRR_KONTAKT_EPOST", "x" * 250 + "@b.no"),
    ("dev", "KRR_KONTAKT_URL", "javascript:alert(1)"),
    ("dev", "KRR_KONTAKT_URL", "https://drift.example.org/?a=1"),
    ("prod", "KRR_KONTAKT_URL", "http://drift.example.org/kontakt"),
])
def test_a_malformed_contact_is_refused_naming_the_variable(env: str, name: str, bad: str):
    with pytest.raises(ConfigError, match=name):
        load_settings({"KRR_ENV": env, name: bad})


def test_http_contact_pages_are_allowed_outside_prod():
    settings = load_settings({"KRR_ENV": "dev", "KRR_KONTAKT_URL": "http://localhost:8080/k"})
    assert settings.kontakt.url == "http://localhost:8080/k"
