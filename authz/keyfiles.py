"""Private key files kept under the var directory (the dev issuer's, the answers' signing key
in dev and test): written whole or not at all, readable by the owner only.

Several processes may start at once on one directory (`krr serve --workers N`, a test run next
to a server), and each must end up with the same key: `write_once` links a finished file into
place, which fails when another process got there first, so the first writer wins and the
others read its key.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile

OWNER_ONLY = 0o600


def _written(path: pathlib.Path, text: str) -> str:
    """A finished private file beside `path` (its name returned), never 0644 for a moment."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), OWNER_ONLY)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def write_once(path: pathlib.Path, text: str) -> bool:
    """Writes `text` to `path` unless a file is there already: False when another process won
    the race (read its key then)."""
    tmp_name = _written(path, text)
    try:
        os.link(tmp_name, path)  # atomic, and never overwrites an existing key
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return True


def replace(path: pathlib.Path, text: str) -> None:
    """Puts `text` at `path` in one step (a rotation): a reader sees the old key or the new one,
    never half of either."""
    os.replace(_written(path, text), path)
