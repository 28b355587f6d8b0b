"""Configuration from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.http import create_app


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


def test_trusted_issuers_must_be_a_json_object_of_urls():
    issuers = '{"https://test.maskinporten.no/": "https://test.maskinporten.no/jwk"}'
    assert load_settings({"KRR_TRUSTED_ISSUERS": issuers}).trusted_issuers == {
        "https://test.maskinporten.no/": "https://test.maskinporten.no/jwk"
    }
    for bad in ("not json", '["a"]', '{"a": 1}'):
        with pytest.raises(ConfigError, match="KRR_TRUSTED_ISSUERS"):
            load_settings({"KRR_TRUSTED_ISSUERS": bad})


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="KRR_ENV"):
        load_settings({"KRR_ENV": "staging"})


def test_prod_never_trusts_the_dev_issuer_and_wants_https_jwks(tmp_path: Path):
    prod = {"KRR_ENV": "prod", "KRR_VAR_DIR": str(tmp_path)}
    assert not load_settings(prod).trusts_dev_issuer
    plain_http = prod | {"KRR_TRUSTED_ISSUERS": '{"https://mp.example/": "http://mp.example/jwk"}'}
    with pytest.raises(ValueError, match="https"):
        create_app(load_settings(plain_http), manage_db=False)
    loopback = prod | {"KRR_TRUSTED_ISSUERS": '{"https://mp.example/": "http://127.0.0.1:9/jwk"}'}
    create_app(load_settings(loopback), manage_db=False)
