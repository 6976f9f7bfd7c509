"""Headless Chromium for the end-to-end tests: Debian's ``chromium`` driven by Playwright.

The browser is the system's (``/usr/bin/chromium``, Debian package ``chromium``, installed by
``scripts/ci-browser``, which ``scripts/ci-services`` runs before the tests); Playwright only
drives it and never downloads one. When the browser is missing the test fails (never skips),
saying how to install it. ``STACKFORM_TEST_CHROMIUM`` names another Chromium binary.

Each launch gets a new, empty profile folder inside the test's own tmp dir.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Page, ViewportSize, sync_playwright

CHROMIUM = Path(os.environ.get("STACKFORM_TEST_CHROMIUM", "/usr/bin/chromium"))

# As root Chromium needs --no-sandbox; the others keep it from reaching for Google's hosts,
# which this machine's closed network refuses (many connections at a time, at every start).
FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
TIMEOUT_MS = 60_000


def require_chromium(path: Path = CHROMIUM) -> Path:
    """The Chromium binary, or a test failure saying how to install it."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"headless Chromium is not installed (no {path}): run scripts/ci-browser "
                    "(apt-get install chromium; scripts/test and CI run it before the tests), "
                    "or set STACKFORM_TEST_CHROMIUM to a Chromium binary", pytrace=False)
    return path


@contextmanager
def chromium_page(profile: Path, executable: Path = CHROMIUM) -> Iterator[Page]:
    """One page of a headless Chromium with a new profile in ``profile`` (must not exist)."""
    profile.mkdir(parents=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=require_chromium(executable), headless=True,
            args=list(FLAGS), viewport=VIEWPORT)
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            context.close()


class LoginRefused(AssertionError):
    """Superset's login form did not let the user in."""


def superset_login(page: Page, url: str, username: str, password: str) -> None:
    """Log in through Superset's form at ``/login/`` (the browser keeps the session cookie)."""
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    # The form posts to /login/ and Superset answers with a redirect: away from /login/ when
    # it let the user in, back to it when not.
    with page.expect_navigation():
        page.click('[data-test="login-button"]')
    page.wait_for_load_state()
    if urlsplit(page.url).path.rstrip("/").endswith("/login"):
        raise LoginRefused(f"Superset at {url} refused the browser login of {username!r}")


@dataclass(frozen=True)
class Picture:
    """What a PNG holds, for telling a drawn chart from a blank or half-drawn page."""

    width: int
    height: int
    size: int
    """Bytes of the PNG."""
    colours: int
    """Distinct colours (anti-aliased edges and text make many)."""
    areas: int
    """Colours that each cover at least 0.2 % of the picture: the background and each filled
    area, such as a pie's slices (a legend's swatches alone are smaller)."""


def picture(png: bytes) -> Picture:
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        counts = [count for count, _ in rgb.getcolors(maxcolors=rgb.width * rgb.height) or []]
        area = rgb.width * rgb.height
        return Picture(rgb.width, rgb.height, len(png), len(counts),
                       sum(1 for count in counts if count * 500 >= area))
