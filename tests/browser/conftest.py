"""Browser tests: Debian's Chromium (installed by ``make test``, never downloaded by
Playwright) driven headless by Playwright against a real ``cargobay serve``.

Each test module gets its own server and registry (tests/browser/world.py); each test a
fresh browser context (no cookies shared). Screenshots land in tests/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    sync_playwright,
)

from tests.browser.world import World, build, password
from tests.e2e.server import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).parents[1] / "screenshots"
VENV_BIN = Path(sys.executable).parent  # curl's and wget's PATH, plus python-gitlab's `gitlab`
WIDE: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module. Not per session: Playwright's sync API keeps an event
    loop running in the test thread while it is open, and the rest of the suite's async
    fixtures need that thread free."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium)")
    # launch() gives every browser a fresh temporary profile (user data dir).
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Download counts written within a fifth of a second, for the pages to show them.
    server = make_server(tmp_path_factory.mktemp("site"), download_count_flush_seconds="0.2")
    world = build(server)
    server.start()
    try:
        world.populate()
        yield world
    finally:
        server.stop()


class Visit:
    """A browser tab on the site, with what the tests keep asking for."""

    def __init__(self, context: BrowserContext, site: World) -> None:
        self.context = context
        self.site = site
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._on_console)
        self.page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        # Error pages are documents answered 4xx on purpose: the console reports each one
        # as a failed load; failed subresources are caught by _on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} for {response.url}")

    def go(self, path: str) -> Page:
        self.page.goto(self.site.server.base_url + path)
        return self.page

    def sign_in(self, username: str) -> None:
        self.go("/users/sign_in")
        self.page.get_by_label("Username", exact=True).fill(username)
        self.page.get_by_label("Password", exact=True).fill(password(username))
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.page.wait_for_url("**/explore")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def clipboard(self) -> str:
        text: str = self.page.evaluate("navigator.clipboard.readText()")
        return text


@pytest.fixture
def visit(browser: Browser, site: World) -> Iterator[Visit]:
    context = browser.new_context(viewport=WIDE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.server.base_url)
    context.set_default_timeout(15_000)
    tab = Visit(context, site)
    yield tab
    context.close()
    # Script errors and CSP violations show up on the console: there must be none.
    assert tab.errors == []


@pytest.fixture
def phone(browser: Browser, site: World) -> Iterator[Visit]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    tab = Visit(context, site)
    yield tab
    context.close()
    assert tab.errors == []


def run_pasted(command: str, cwd: Path, token: str | None) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would after pasting it into bash, with CARGOBAY_TOKEN set
    (or not) and python-gitlab installed."""
    env = {k: v for k, v in os.environ.items() if k != "CARGOBAY_TOKEN"}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    if token is not None:
        env["CARGOBAY_TOKEN"] = token
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
