"""Admin area: users (list, create, block and unblock). Administrators only; everyone
else gets the 404 page, as GitLab answers /admin."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.auth.passwords import MIN_LENGTH
from cargobay.domain.integers import ID_MAX, ascii_digits, ascii_integer
from cargobay.errors import CargobayError, bad_params, not_found
from cargobay.services import accounts, sign_in
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
USERS_URL = "/admin/users"


async def admin_visitor(request: Request) -> Visitor:
    who = await visitor(request)
    if not who.is_admin:
        raise not_found("Page Not Found")
    return who


async def _users_page(
    request: Request, who: Visitor, *, error: str = "", form: dict[str, str] | None = None
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
    )


async def users(request: Request) -> Response:
    return await _users_page(request, await admin_visitor(request))


async def create_user(request: Request) -> Response:
    who = await admin_visitor(request)
    require_write(who)
    entered = {name: field(request, name) for name in ("username", "name", "email")}
    password = form_of(request).get("password")
    password = password if isinstance(password, str) and password else None
    registry = registry_of(request)
    try:
        if password is not None and len(password) < MIN_LENGTH:
            raise bad_params(f"password is too short (minimum is {MIN_LENGTH} characters)")
        created = await accounts.create_user(
            registry,
            who.principal,
            username=entered["username"],
            name=entered["name"],
            email=entered["email"],
            password=None,
            is_admin=form_of(request).get("admin") == "on",
        )
        if password is not None:
            await sign_in.set_password(registry, created.id, password)
    except CargobayError as exc:
        return await _users_page(request, who, error=describe(exc), form=entered)
    flash(request, "success", f"Created user {created.username}.")
    return redirect(USERS_URL)


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
