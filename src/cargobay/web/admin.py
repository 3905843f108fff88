"""Admin area: users (list, create, block and unblock). Administrators only; everyone
else gets the 404 page, as GitLab answers /admin."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from cargobay.auth.passwords import MIN_LENGTH
from cargobay.domain.integers import ID_MAX, ascii_digits, ascii_integer
from cargobay.domain.models import utcnow
from cargobay.errors import CargobayError, bad_params, not_found
from cargobay.services import accounts
from cargobay.web.account import require_write
from cargobay.web.page import (
    Visitor,
    describe,
    field,
    flash,
    form_of,
    path_id,
    redirect,
    registry_of,
    render,
    visitor,
)

PER_PAGE = 50
NEW_USER_TOKEN_NAME = "first sign-in"
NEW_USER_TOKEN_DAYS = 7
USERS_URL = "/admin/users"


async def admin_visitor(request: Request) -> Visitor:
    who = await visitor(request)
    if not who.is_admin:
        raise not_found("Page Not Found")
    return who


async def _users_page(
    request: Request,
    who: Visitor,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    new_user: str = "",
    new_token: str = "",
) -> Response:
    search = request.query_params.get("search", "").strip()
    raw_page = request.query_params.get("page", "1") or "1"
    page = ascii_integer(raw_page) if ascii_digits(raw_page) else None
    if page is None or not 1 <= page <= ID_MAX:
        raise bad_params("page must be a whole number of at least 1")
    found = await accounts.list_users(
        registry_of(request),
        who.principal,
        username=None,
        search=search or None,
        state=None,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    return render(
        request,
        "admin_users.html",
        400 if error else 200,
        users=found.rows,
        total=found.total,
        page=page,
        last_page=max(1, -(-found.total // PER_PAGE)),
        search=search,
        error=error,
        form=form or {},
        min_password=MIN_LENGTH,
        new_user=new_user,
        new_token=new_token,
        token_days=NEW_USER_TOKEN_DAYS,
        headers={"Cache-Control": "no-store"},
    )


async def users(request: Request) -> Response:
    return await _users_page(request, await admin_visitor(request))


async def create_user(request: Request) -> Response:
    """A new user, with the password the administrator gives (if any) and, when asked, a
    personal access token shown once on the page (for a user who signs in with one)."""
    who = await admin_visitor(request)
    require_write(who)
    entered = {name: field(request, name) for name in ("username", "name", "email")}
    password = form_of(request).get("password")
    password = password if isinstance(password, str) and password else None
    with_token = form_of(request).get("token") == "on"
    registry = registry_of(request)
    try:
        created = await accounts.create_user(
            registry,
            who.principal,
            username=entered["username"],
            name=entered["name"],
            email=entered["email"],
            password=password,
            is_admin=form_of(request).get("admin") == "on",
        )
    except CargobayError as exc:
        return await _users_page(request, who, error=describe(exc), form=entered)
    if not with_token:
        flash(request, "success", f"Created user {created.username}.")
        return redirect(USERS_URL)
    _, token = await accounts.create_personal_token_for(
        registry,
        who.principal,
        created.id,
        name=NEW_USER_TOKEN_NAME,
        scopes=["api"],
        expires_at=utcnow().date() + timedelta(days=NEW_USER_TOKEN_DAYS),
    )
    return await _users_page(request, who, new_user=created.username, new_token=token)


async def _set_blocked(request: Request, *, blocked: bool) -> Response:
    who = await admin_visitor(request)
    require_write(who)
    user_id = path_id(request, "user_id")
    await accounts.set_blocked(registry_of(request), who.principal, user_id, blocked=blocked)
    flash(
        request,
        "success",
        "User blocked: their sessions and tokens stop working." if blocked else "User unblocked.",
    )
    return redirect(USERS_URL)


async def block(request: Request) -> Response:
    return await _set_blocked(request, blocked=True)


async def unblock(request: Request) -> Response:
    return await _set_blocked(request, blocked=False)
