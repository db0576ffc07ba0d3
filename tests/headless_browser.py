"""Headless Chromium for the page tests (the HTML report, the explainer page).

Debian's ``chromium`` driven by Playwright; both are installed by ``.ci/run``, so under CI a
missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH = 1280  # a laptop screen


def unavailable(reason: str):
    """Skip locally; fail under CI, where the browser is part of the setup."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(reason)


def launch_browser():
    """Yield a headless Chromium browser (a generator for a pytest fixture)."""
    executable = (
        os.environ.get("POOLSTRIDE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    )
    if not Path(executable).is_file():
        unavailable("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Opened:
    """A page opened from a file:// URL, with everything the browser complained about."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": WIDTH, "height": 900})
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda m: (
                m.type in ("error", "warning") and self.errors.append(f"console {m.type}: {m.text}")
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def close(self):
        self.context.close()
