"""The secret that signs the pages' cookies: KRR_SESSION_SECRET, or outside prod one generated
once under the var directory (shared by every worker and restart, like the dev issuer's key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app.config import ConfigError, Settings
from authz import keyfiles

FIL = "session-secret"


def okthemmelighet(settings: Settings) -> str:
    if settings.session_secret is not None:
        return settings.session_secret
    if settings.is_prod:
        if settings.idporten is not None:  # load_settings refuses this already
            raise ConfigError("KRR_SESSION_SECRET must be set in prod with KRR_IDPORTEN_*")
        return secrets.token_urlsafe(48)  # nobody can log in: nothing outlives the process
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / FIL
    if not path.exists():
        keyfiles.write_once(path, secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def avledet(hemmelighet: str, formaal: str) -> bytes:
    """A key for one purpose, so no two uses share one (HMAC-SHA256 as a KDF)."""
    return hmac.new(hemmelighet.encode(), formaal.encode(), hashlib.sha256).digest()
