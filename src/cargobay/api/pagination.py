"""GitLab's offset pagination (spec §12): page/per_page, the X-* headers and Link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.params import query_integer, registry_of
from cargobay.api.responses import json

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Above this many rows GitLab stops counting: no X-Total, X-Total-Pages or rel="last".
COUNT_LIMIT = 10_000
# Never echo credentials passed as query parameters into Link headers.
SECRET_PARAMS = frozenset({"private_token", "job_token", "token", "access_token"})


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def parse_page(request: Request, errors: list[str], *, max_per_page: int = MAX_PER_PAGE) -> Page:
    """Kaminari's rules: per_page clamps to the maximum, 0 is refused, a negative value or
    page <= 0 falls back to the default. Non-integers are 400 ``is invalid``."""
    number, size = 1, DEFAULT_PER_PAGE
    # A page past ID_MAX could not be reached (the offset would pass what the database
    # counts in): `page is invalid`, like a page that is no integer.
    raw_page = query_integer(request, "page", errors, low=-(2**63))
    if raw_page is not None:
        number = max(raw_page, 1)
    # per_page clamps to the maximum, so any size of number will do.
    value = query_integer(request, "per_page", errors, low=-(2**63), high=2**63)
    if value is not None:
        if value == 0:
            errors.append("per_page has a value not allowed")
        elif value > 0:
            size = min(value, max_per_page)
    return Page(number, size)


def base_url(request: Request) -> str:
    configured = registry_of(request).settings.external_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def paginated(
    request: Request,
    items: list[Any],
    page: Page,
    *,
    total: int | None,
    has_next: bool,
    defaults: dict[str, str] | None = None,
) -> Response:
    """Respond with one page. ``total`` is None when the count passed COUNT_LIMIT."""
    headers = {
        "X-Page": str(page.number),
        "X-Per-Page": str(page.size),
        "X-Next-Page": str(page.number + 1) if has_next else "",
        "X-Prev-Page": str(page.number - 1) if page.number > 1 and items else "",
    }
    last = None
    if total is not None:
        last = max(1, -(-total // page.size))
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(last)
    params = {
        **(defaults or {}),
        **{k: v for k, v in request.query_params.items() if k not in SECRET_PARAMS},
    }
    url = base_url(request) + request.url.path

    def link(number: int) -> str:
        query = urlencode(
            sorted({**params, "page": str(number), "per_page": str(page.size)}.items())
        )
        return f"{url}?{query}"

    links = []
    if headers["X-Prev-Page"]:
        links.append(f'<{link(page.number - 1)}>; rel="prev"')
    if has_next:
        links.append(f'<{link(page.number + 1)}>; rel="next"')
    links.append(f'<{link(1)}>; rel="first"')
    if last is not None:
        links.append(f'<{link(last)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return json(items, headers=headers)
