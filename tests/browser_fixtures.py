"""Fixtures of the browser tests (tests/browser/): real headless Chromium, through Playwright for Python.

Skips without Chromium or playwright, fails instead under SMS_REQUIRE_ALL=1 (as in CI). Screenshots go
to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import need_binary, skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_playwright() -> Any:
    """``playwright.sync_api``, or skip (fail under SMS_REQUIRE_ALL=1)."""
    try:
        from playwright import sync_api
    except ImportError as exc:
        skip_or_fail(f"playwright is not installed ({exc}); pip install playwright")
    return sync_api


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    return need_playwright()


@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Any:
    chromium = need_binary("chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def expect(playwright_api: Any) -> Any:
    playwright_api.expect.set_options(timeout=5000)
    return playwright_api.expect


@pytest.fixture
def page(browser: Any) -> Any:
    """A fresh tab; fails the test on a script error or any request leaving 127.0.0.1."""
    context = browser.new_context(viewport={"width": 960, "height": 600}, locale="zh-CN")
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert outside == [], "the page must work offline (no CDN)"
    assert errors == [], "script errors on the page"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"example-{name}.png"))
