"""The web interface as its own Starlette app, and the switch that sends it every request
the API does not claim.

Keeping it separate keeps the API untouched: no session cookie parsing, no HTML error
pages and no CSRF machinery on API requests, and the API's JSON 404/405 answers stay as
they are.
"""

from __future__ import annotations

from anyio import CapacityLimiter
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cargobay.domain.names import decoded_path
from cargobay.errors import CargobayError
from cargobay.services.registry import Registry
from cargobay.web import assets, page
from cargobay.web.format import human_size, iso_time, plural, short_time, with_query
from cargobay.web.routes import routes
from cargobay.web.session import SessionMiddleware, session_secret

# Pages carry no inline script or style, so the policy can forbid both.
PAGE_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")


class PageHeaders:
    """Security headers on every web response; pages are never cached (they can show a
    new token once, and differ per visitor)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [h for h in PAGE_HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    extra.append(NO_STORE)
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("cargobay.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(size=human_size, iso=iso_time, when=short_time, path=decoded_path)
    env.globals.update(with_query=with_query, plural=plural)
    return env


def build(registry: Registry) -> Starlette:
    settings = registry.settings
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(PageHeaders),
            Middleware(
                SessionMiddleware,
                secret=session_secret(settings),
                always_secure=settings.external_url.startswith("https://"),
            ),
        ],
        exception_handlers={
            CargobayError: page.on_cargobay_error,
            HTTPException: page.on_http_error,
            Exception: page.on_unexpected,
        },
    )
    loaded = assets.load()
    env = templates()
    env.globals["asset"] = lambda name: f"/-/static/{name}?v={loaded[name].version}"
    app.state.registry = registry
    app.state.templates = env
    app.state.static = loaded
    # Password checks cost ~0.2 s of CPU each: at most two at a time, so a flood of
    # sign-in attempts cannot starve everything else.
    app.state.sign_in_limiter = CapacityLimiter(2)
    return app


class WebInterface:
    """Send a request to the web app unless it is an /api/ path or an API route (like
    /-/health) matches it, fully or by path alone (so a wrong method still gets the
    API's 405)."""

    def __init__(self, app: ASGIApp, web: ASGIApp, api_routes: list[BaseRoute]) -> None:
        self.app = app
        self.web = web
        self.api_routes = api_routes

    def _api_claims(self, scope: Scope) -> bool:
        if scope["path"].startswith("/api/"):
            return True
        return any(route.matches(scope)[0] is not Match.NONE for route in self.api_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._api_claims(scope):
            await self.web(scope, receive, send)
        else:
            await self.app(scope, receive, send)
