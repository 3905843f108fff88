"""create_app(settings) -> ASGI app. The only place the parts are assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cargobay.api import access_log, errors
from cargobay.api.access_log import AccessLog
from cargobay.api.account_entities import CARGOBAY_VERSION
from cargobay.api.fastlane import FastLane
from cargobay.api.observability import Observability
from cargobay.api.routes import routes
from cargobay.auth.throttle import FailedAuthBan, FailedAuthThrottle
from cargobay.errors import CargobayError
from cargobay.services import download_counts, jobs
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.web.app import WebInterface
from cargobay.web.app import build as build_web

SECURITY_HEADERS = [(b"x-frame-options", b"SAMEORIGIN"), (b"x-content-type-options", b"nosniff")]
# On every answer, so that a client can tell Cargobay from GitLab (docs/extensions.md).
VERSION_HEADER = (b"x-cargobay-version", CARGOBAY_VERSION.encode())


class RawPathRouting:
    """Route /api/ requests on the undecoded path, so ``group%2Fproject`` is one ``:id``
    and ``my-package%2f..`` reaches the validator instead of splitting the route. Adds
    GitLab's API security headers to every API response, and X-Cargobay-Version to
    every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [VERSION_HEADER]
        if scope["path"].startswith("/api/"):
            extra += SECURITY_HEADERS
            raw = scope.get("raw_path")
            if raw:
                # In place, not a copy: the layers above read what the ones below add
                # (the route that answered, for the metrics and the access log).
                scope["path"] = raw.decode("latin-1").partition("?")[0]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Starlette:
    settings = settings or Settings()
    access_log.configure(settings.log_format)  # JSON lines or text, through a queue
    core = registry or open_registry(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        every = core.settings.download_count_flush_seconds
        async with (
            download_counts.flushing(core.download_counts, core.db, every),
            jobs.scheduler(core),  # cleanup policies and GC (services/jobs.py)
        ):
            yield
        if registry is None:
            await core.close()

    # Outermost first: every request passes these in this order before the routes
    # (Starlette wraps them in ServerErrorMiddleware and around ExceptionMiddleware). A
    # middleware that must see every request, the fast lane's included (a metrics
    # counter, say), goes first.
    # Token guessing: a ban per client address after repeated 401s (auth/throttle.py).
    ban = FailedAuthBan(
        settings.auth_ban_max_failures, settings.auth_ban_window_seconds, settings.auth_ban_seconds
    )
    middleware: list[Middleware] = []
    if settings.metrics_enabled or settings.access_log:
        # Outermost: request metrics, X-Request-Id and the access log (issue 18), for
        # every answer, the fast lane's too.
        middleware.append(
            Middleware(
                Observability,
                metrics=core.metrics if settings.metrics_enabled else None,
                access_log=AccessLog() if settings.access_log else None,
                trusted_proxies=settings.trusted_proxies,
                log_health=settings.log_health,
            )
        )
    middleware += [
        # /api/ routes match the undecoded path; GitLab's API security headers.
        Middleware(RawPathRouting),
        # GET of a small generic package file may be answered before the routes.
        Middleware(FastLane, registry=core, ban=ban),
    ]
    if settings.trusted_proxies:
        # Behind a trusted proxy, the client address (audit events) and scheme (built
        # URLs) are the ones it forwards. The fast lane needs neither, so it runs before.
        middleware.append(
            Middleware(wrap_asgi_with_proxy_headers, trusted_hosts=settings.trusted_proxies)
        )
    middleware.append(Middleware(FailedAuthThrottle, ban=ban))
    # Paths no API route claims go to the web interface (cargobay/web/).
    middleware.append(Middleware(WebInterface, web=build_web(core), api_routes=routes))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            CargobayError: errors.on_cargobay_error,
            HTTPException: errors.on_http_error,
            ClientDisconnect: errors.on_client_abort,
            Exception: errors.on_unexpected,
        },
    )
    app.state.registry = core
    # GitLab answers an API path that matches no route with 404, never a redirect to the
    # path without its trailing slash (an empty generic file name, `generic//////`).
    app.router.redirect_slashes = False
    return app


def factory() -> ASGIApp:
    """Entry point for granian workers (``cargobay.app:factory``): settings come from the
    environment, which ``cargobay serve`` fills in."""
    return create_app(Settings())
