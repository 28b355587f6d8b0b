"""Settings read once from the environment, so every part of the service agrees on them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Env = Literal["dev", "test", "prod"]
ENVIRONMENTS: tuple[Env, ...] = ("dev", "test", "prod")


class ConfigError(ValueError):
    """A setting in the environment is missing or malformed."""



@dataclass(frozen=True)
class Settings:
    env: Env
    database_url: str
    var_dir: Path
    trusted_issuers: dict[str, str] = field(default_factory=dict)
    audit_retention_days: int = 1825  # five years of audit log, then `krr prune-audit`

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    @property
    def trusts_dev_issuer(self) -> bool:
        """The built-in development issuer is never trusted in production."""
        return self.env != "prod"


def _parse_issuers(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"KRR_TRUSTED_ISSUERS is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError("KRR_TRUSTED_ISSUERS must be a JSON object mapping issuer to JWKS URL")
    return value


def _database_url(raw: str | None, var_dir: Path) -> str:
    if not raw:
        return f"sqlite://{var_dir / 'krr.sqlite3'}"
    if raw.startswith("sqlite:///"):
        # sqlite:///absolute/path -> tortoise's sqlite:///absolute/path form is the same
        return raw
    if raw.startswith(("postgres://", "postgresql://", "sqlite://", "asyncpg://")):
        return raw.replace("postgresql://", "postgres://", 1)
    raise ConfigError(
        "KRR_DATABASE_URL must start with sqlite:/// or postgres:// (got "
        f"{raw.split(':', 1)[0]!r})"
    )


MAX_RETENTION_DAYS = 36_500  # beyond a century the cut-off date falls off the calendar


def _retention_days(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 0 < value <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"{name} must be a whole number of days from 1 to {MAX_RETENTION_DAYS} (got {raw!r})"
        )
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read KRR_* variables; raise ConfigError naming the variable that is wrong."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("KRR_ENV", "dev")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KRR_ENV must be one of {', '.join(ENVIRONMENTS)} (got {env!r})")
    var_dir = Path(env_vars.get("KRR_VAR_DIR", "var")).resolve()
    return Settings(
        env=env,  # type: ignore[arg-type]
        database_url=_database_url(env_vars.get("KRR_DATABASE_URL"), var_dir),
        var_dir=var_dir,
        trusted_issuers=_parse_issuers(env_vars.get("KRR_TRUSTED_ISSUERS")),
        audit_retention_days=_retention_days(
            "KRR_AUDIT_RETENTION_DAYS", env_vars.get("KRR_AUDIT_RETENTION_DAYS"), 1825
        ),
    )
