"""Real Chromium for the pages' tests: Debian's package driven by Playwright for Python (no
browser download), and axe-core from tests/browser (both installed by `make browser`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"


@contextmanager
def chromium(*args: str) -> Iterator[Browser]:
    """Headless Chromium (with extra command-line `args`), axe-core beside it; a missing one
    fails the test with how to install it, never skips it."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (or `make browser`), which "
                    "installs Debian's chromium package before the tests")
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: run `make test` (or `make browser`), "
                    "which installs axe-core from tests/browser/package.json")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", *args])
        try:
            yield browser
        finally:
            browser.close()
