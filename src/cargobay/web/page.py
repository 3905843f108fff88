"""What every web view needs: who is visiting, forms with their CSRF check, flash
messages, rendering a template, and the HTML error pages."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

import cargobay.api.convertors  # noqa: F401  (registers {name:row_id})
from cargobay.auth.principal import ANONYMOUS, Principal
from cargobay.domain.models import User
from cargobay.errors import CargobayError, Forbidden, Invalid, NotFound, Unauthorized
from cargobay.services import audit, sign_in
from cargobay.services.registry import Registry

log = logging.getLogger("cargobay")

MAX_FORM_BYTES = 64 * 1024
SESSION_LIFETIME = 7 * 24 * 3600  # sign in again after a week, however active
SESSION_ENDED = (
    "You were signed out: your session expired, or the password or token it was signed in "
    "with changed, or your account was blocked. Sign in again."
)
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Visitor:
    principal: Principal

    @property
    def user(self) -> User | None:
        return self.principal.user

    @property
    def signed_in(self) -> bool:
        return self.principal.user is not None

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def can_write(self) -> bool:
        return sign_in.can_write(self.principal)


def session_of(request: Request) -> dict[str, Any]:
    """The session (web/session.py); an empty throwaway one where there is none (the
    static files skip sessions, yet a missing file still renders the 404 page)."""
    session: dict[str, Any] = request.scope.setdefault("session", {})
    return session


def client_address(request: Request) -> str | None:
    """The caller's address as the server saw it (for the audit log)."""
    return request.client.host if request.client else None


def actor(request: Request, who: Visitor) -> audit.Actor:
    """The visitor as the audit log records them."""
    return audit.Actor(who.principal, client_address(request))


def path_id(request: Request, name: str) -> int:
    """A ``{name:row_id}`` route parameter (api/convertors.py): ASCII digits, NO_ROW
    past the id column's range."""
    value: int = request.path_params[name]
    return value


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def visitor(request: Request) -> Visitor:
    """Who the session stands for (anonymous without one), checked once per request."""
    cached = getattr(request.state, "visitor", None)
    if isinstance(cached, Visitor):
        return cached
    session = session_of(request)
    principal: Principal = ANONYMOUS
    user_id = session.get("uid")
    if isinstance(user_id, int):
        identity = sign_in.SessionIdentity(user_id, session.get("tid"), session.get("pw", ""))
        found = None
        if session.get("exp", 0) > time.time():
            found = await sign_in.session_principal(registry_of(request), identity)
        if found is None:
            end_session(request)
            flash(request, "error", SESSION_ENDED)
        else:
            principal = found
    result = Visitor(principal)
    request.state.visitor = result
    return result


def start_session(request: Request, identity: sign_in.SessionIdentity) -> None:
    """A fresh session (and a fresh CSRF token) for a user who just signed in."""
    session_of(request).clear()
    session_of(request).update(
        uid=identity.user_id,
        tid=identity.token_id,
        pw=identity.password_mark,
        exp=int(time.time()) + SESSION_LIFETIME,
        csrf=secrets.token_urlsafe(32),
    )
    request.state.visitor = None


def end_session(request: Request) -> None:
    session_of(request).clear()
    request.state.visitor = Visitor(ANONYMOUS)


def csrf_token(request: Request) -> str:
    token = session_of(request).get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session_of(request)["csrf"] = token
    return token


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next page rendered (kind: "success" or "error")."""
    session_of(request).setdefault("flash", []).append([kind, text])


class FormRefused(Forbidden):
    """A POST without this session's CSRF token: from another site, or a page from
    before the session changed."""


class FormTooLarge(Invalid):
    pass


async def read_form(request: Request) -> FormData:
    """A URL-encoded form body, at most MAX_FORM_BYTES (no form here uploads files)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise FormRefused({"message": "Send forms as application/x-www-form-urlencoded."})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge({"message": "That form is too large."})
    pairs: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    )
    return FormData(pairs)


def protect(endpoint: Endpoint) -> Endpoint:
    """Wrap a POST view: read its form into ``request.state.form`` and refuse it unless it
    carries this session's CSRF token. routes.py wraps every POST route with this."""

    async def checked(request: Request) -> Response:
        form = await read_form(request)
        expected = session_of(request).get("csrf")
        given = form.get("_csrf")
        if not (
            isinstance(expected, str)
            and isinstance(given, str)
            and secrets.compare_digest(expected.encode(), given.encode())
        ):
            raise FormRefused({"message": "This form has expired."})
        request.state.form = form
        return await endpoint(request)

    checked.csrf_protected = True  # type: ignore[attr-defined]
    checked.__name__ = endpoint.__name__
    checked.__doc__ = endpoint.__doc__
    return checked


def form_of(request: Request) -> FormData:
    form: FormData = request.state.form
    return form


def field(request: Request, name: str) -> str:
    value = form_of(request).get(name)
    return value.strip() if isinstance(value, str) else ""


_SAFE_NEXT = re.compile(r"/(?![/\\])[^\s]*")


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://...``."""
    if value and _SAFE_NEXT.fullmatch(value) and "\\" not in value:
        return value
    return default


def sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/users/sign_in?next=" + quote(here, safe="/")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    env: Environment = request.app.state.templates
    current = getattr(request.state, "visitor", None)
    who = current if isinstance(current, Visitor) else Visitor(ANONYMOUS)
    flashes = session_of(request).pop("flash", [])
    needs_csrf = who.signed_in or bool(context.pop("needs_csrf", False))
    html = env.get_template(template).render(
        request=request,
        visitor=who,
        csrf=csrf_token(request) if needs_csrf else "",
        flashes=flashes,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status, headers)


# ---------------------------------------------------------------- error pages


def describe(exc: CargobayError) -> str:
    """The human part of a GitLab-shaped error body: ``404 Project Not Found`` ->
    ``Project Not Found``; validation errors as ``field: problem``."""
    text = exc.body.get("message") or exc.body.get("error") or ""
    if isinstance(text, dict):
        return "; ".join(
            f"{key}: {', '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for key, problems in text.items()
        )
    text = str(text)
    text = re.sub(r"^\d{3} (Bad request|Unauthorized|Forbidden|Not Found|Conflict)( - )?", "", text)
    return re.sub(r"^\d{3} ", "", text)


ERROR_TITLES = {
    400: "That request could not be handled",
    401: "Sign in to continue",
    403: "You do not have permission to do that",
    404: "Page not found",
    405: "That action is not available here",
    409: "That conflicts with what is already there",
    413: "That is too large",
    422: "That change cannot be made",
    500: "Something went wrong on our side",
}


async def error_page(
    request: Request, status: int, message: str = "", *, title: str | None = None
) -> Response:
    try:
        await visitor(request)
    except Exception:  # the page must render even when sessions cannot be checked
        request.state.visitor = Visitor(ANONYMOUS)
    return render(
        request,
        "error.html",
        status,
        status_code=status,
        title=title or ERROR_TITLES.get(status, "Error"),
        message=message,
        sign_in_link=sign_in_url(request),
    )


async def on_cargobay_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CargobayError)
    if isinstance(exc, FormRefused):
        return await error_page(
            request,
            403,
            "This form has expired or did not come from this site. Go back, reload the "
            "page and submit the form again.",
            title="Form expired",
        )
    if isinstance(exc, Unauthorized):
        who = await visitor(request)
        if not who.signed_in and request.method == "GET":
            return redirect(sign_in_url(request))
    status = exc.status
    if isinstance(exc, NotFound):
        status = 404
    return await error_page(request, status, describe(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return await error_page(request, exc.status_code)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return await error_page(request, 500, "The error was logged. Try again in a moment.")
