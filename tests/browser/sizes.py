"""The two widths the management pages are tested at: a laptop (1366x900) and a phone
(390x844). Import ``tab`` into a test module to run each of its tests at both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import Visit
from tests.browser.world import World

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def tab(request: pytest.FixtureRequest, browser: Browser, site: World) -> Iterator[Visit]:
    width, height = SIZES[request.param]
    phone = request.param == "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    context.set_default_timeout(15_000)
    visit = Visit(context, site)
    yield visit
    context.close()
    assert visit.errors == []


def width_of(visit: Visit) -> int:
    """The tab's width, to keep what each size creates apart."""
    size = visit.page.viewport_size
    assert size is not None
    return size["width"]


def focused_id(page: Page) -> str:
    found: str = page.evaluate("document.activeElement && document.activeElement.id")
    return found
