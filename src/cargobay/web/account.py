"""Sign in, sign out, and the personal access tokens page."""

from __future__ import annotations

from datetime import date, timedelta

from anyio import CapacityLimiter
from starlette.requests import Request
from starlette.responses import Response

from cargobay.auth.passwords import MIN_LENGTH
from cargobay.domain.models import utcnow
from cargobay.errors import CargobayError, Forbidden, Unauthorized, bad_request
from cargobay.services import accounts, profile, sign_in
from cargobay.web.forms import FormState, refuse_from
from cargobay.web.page import (
    Visitor,
    describe,
    end_session,
    field,
    flash,
    form_of,
    path_id,
    redirect,
    registry_of,
    render,
    safe_next,
    session_of,
    start_session,
    visitor,
)

# The scopes the token form offers, with what each allows here.
TOKEN_SCOPES = {
    "api": "Read and write: publish, download and delete packages, use the whole API.",
    "read_api": "Read only: list and download packages, read the API.",
    "read_user": "Read your own user profile through the API.",
}
DEFAULT_TOKEN_DAYS = 30


def require_write(who: Visitor) -> None:
    """Changes need a session with the ``api`` scope (not a read-only token sign-in)."""
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to do that."})
    if not who.can_write:
        raise Forbidden(
            {
                "message": "You signed in with a read-only token (read_api). Sign in with "
                "your password or an api token to make changes."
            }
        )


async def sign_in_page(request: Request) -> Response:
    who = await visitor(request)
    next_url = safe_next(request.query_params.get("next"))
    if who.signed_in:
        return redirect(next_url)
    return render(
        request,
        "sign_in.html",
        next_url=next_url,
        error="",
        username="",
        tab="",
        needs_csrf=True,
    )


async def sign_in_submit(request: Request) -> Response:
    next_url = safe_next(field(request, "next"))
    method = field(request, "method")
    registry = registry_of(request)
    limiter: CapacityLimiter = request.app.state.sign_in_limiter
    username = field(request, "username")
    try:
        if method == "token":
            identity = await sign_in.sign_in_with_token(registry, field(request, "token"))
        else:
            password = form_of(request).get("password")
            if not username or not isinstance(password, str) or not password:
                raise sign_in.refused("Enter your username and password.")
            async with limiter:  # password hashing is CPU-heavy by design: bound it
                identity = await sign_in.sign_in_with_password(registry, username, password)
    except Unauthorized as exc:
        await visitor(request)
        return render(
            request,
            "sign_in.html",
            next_url=next_url,
            error=str(exc.body.get("message", sign_in.WRONG_CREDENTIALS)),
            username=username,
            tab=method,
            needs_csrf=True,
        )
    start_session(request, identity)
    return redirect(next_url)


async def sign_out(request: Request) -> Response:
    end_session(request)
    flash(request, "success", "You are signed out.")
    return redirect("/")


# ---------------------------------------------------------------- access tokens


async def _tokens_page(
    request: Request, who: Visitor, *, new_token: str = "", error: str = "", status: int = 200
) -> Response:
    assert who.user is not None
    found = await accounts.list_personal_tokens(
        registry_of(request),
        who.principal,
        user_id=who.user.id,
        user_id_given=True,
        state=None,
        revoked=None,
        search=None,
        offset=0,
        limit=100,
    )
    today = utcnow().date()
    active = [
        t for t in found.rows if not t.revoked and (t.expires_at is None or t.expires_at > today)
    ]
    inactive = [t for t in found.rows if t not in active]
    return render(
        request,
        "tokens.html",
        status,
        headers={"Cache-Control": "no-store"},
        active=list(reversed(active)),
        inactive=list(reversed(inactive)),
        scopes=TOKEN_SCOPES,
        new_token=new_token,
        error=error,
        session_token_id=session_of(request).get("tid"),
        default_expiry=(today + timedelta(days=DEFAULT_TOKEN_DAYS)).isoformat(),
        min_expiry=(today + timedelta(days=1)).isoformat(),
    )


async def tokens_page(request: Request) -> Response:
    who = await visitor(request)
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to manage your access tokens."})
    return await _tokens_page(request, who)


async def create_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    scopes = [s for s in form_of(request).getlist("scopes") if isinstance(s, str)]
    raw_expiry = field(request, "expires_at")
    try:
        unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
        if unknown:
            raise bad_request(f"Unknown scope {unknown[0]!r}.")
        try:
            expires_at = date.fromisoformat(raw_expiry) if raw_expiry else None
        except ValueError:
            raise bad_request("Give the expiration date as YYYY-MM-DD.") from None
        new = await profile.create_own_token(
            registry_of(request),
            who.principal,
            name=field(request, "name"),
            scopes=scopes,
            expires_at=expires_at,
        )
    except CargobayError as exc:
        return await _tokens_page(request, who, error=describe(exc), status=400)
    return await _tokens_page(request, who, new_token=new.token)


async def revoke_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    token_id = path_id(request, "token_id")
    await accounts.revoke_personal_token(registry_of(request), who.principal, token_id)
    if token_id == session_of(request).get("tid"):
        end_session(request)  # this session stood on that token: it ends with it
        flash(
            request,
            "success",
            "You revoked the token this session was signed in with, so you are signed out. "
            "Sign in again with your password or another token.",
        )
        return redirect("/users/sign_in")
    flash(request, "success", "The token was revoked. Anything using it can no longer sign in.")
    return redirect("/-/user_settings/personal_access_tokens")


# ---------------------------------------------------------------- password

PASSWORD_URL = "/-/user_settings/password/edit"
PASSWORD_FIELDS = {
    "current_password": "current_password",
    "password": "password",
    "password_confirmation": "password_confirmation",
}


async def _password_page(request: Request, who: Visitor, state: FormState, status: int) -> Response:
    me = await accounts.current_user(registry_of(request), who.principal)
    return render(
        request,
        "password.html",
        status,
        headers={"Cache-Control": "no-store"},
        f=state,
        has_password=bool(me.password_hash),
        min_password=MIN_LENGTH,
    )


async def password_page(request: Request) -> Response:
    who = await visitor(request)
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to change your password."})
    return await _password_page(request, who, FormState("password"), 200)


def _typed(request: Request, name: str) -> str:
    value = form_of(request).get(name)
    return value if isinstance(value, str) else ""  # passwords are not stripped


async def change_password(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    # Never echo a password back into the page: the refused form keeps no values.
    state = FormState("password")
    current, new = _typed(request, "current_password"), _typed(request, "password")
    if not new:
        state.refuse("password", "Enter the new password.")
    elif new != _typed(request, "password_confirmation"):
        state.refuse("password_confirmation", "Password confirmation doesn't match Password")
    if not state.failed:
        limiter: CapacityLimiter = request.app.state.sign_in_limiter
        try:
            async with limiter:  # password hashing is CPU-heavy by design: bound it
                identity = await sign_in.change_own_password(
                    registry_of(request), who.principal, current, new
                )
        except CargobayError as exc:
            refuse_from(state, exc, PASSWORD_FIELDS)
        else:
            start_session(request, identity)
            flash(
                request,
                "success",
                "Password changed. Other sessions signed in with the old password have ended.",
            )
            return redirect(PASSWORD_URL)
    return await _password_page(request, who, state, 400)
