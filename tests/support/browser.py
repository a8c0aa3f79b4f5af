"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright (never a downloaded
browser), a fresh profile per launch, and a page watcher that records console errors, uncaught exceptions
and CSP violations. Screenshots go to ``test-screenshots/`` (git-ignored) at the repository root."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Runs before any page script (injected over CDP, so the page's CSP does not apply to it).
_CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', e => "
    "(window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI));"
)

__all__ = ["CHROMIUM", "SCREENSHOTS", "PageWatch", "chromium", "screenshot", "watch"]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched Playwright ``Browser`` (sync API) on /usr/bin/chromium; a missing Chromium or Playwright
    fails the test loudly (scripts/install.sh installs both), it never skips."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install.sh (apt package chromium)")
    import playwright.sync_api as sync_api  # noqa: PLC0415 -- only browser tests need it

    with (
        tempfile.TemporaryDirectory(prefix="paramedic-chromium-") as profile,
        sync_api.sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageWatch:
    errors: list[str] = field(default_factory=list)

    def problems(self, page: Any) -> list[str]:
        """Console errors, uncaught exceptions and CSP violations seen so far."""
        csp = page.evaluate("window.__cspViolations || []")
        return [*self.errors, *(f"CSP violation: {v}" for v in csp)]


def watch(page: Any) -> PageWatch:
    """Record console errors and page errors of ``page``; :meth:`PageWatch.problems` adds CSP violations."""
    w = PageWatch()
    page.add_init_script(_CSP_WATCH)
    page.on(
        "console",
        lambda msg: w.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: w.errors.append(f"page error: {exc}"))
    return w


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
