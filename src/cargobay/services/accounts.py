"""Users and personal access tokens through the management API, with GitLab's rules on
who may see and change what (lib/api/users.rb, personal_access_tokens.rb).

The CLI's use cases (services/admin.py) trust their caller; these check the caller first
and answer in GitLab's error shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import anyio.to_thread
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from cargobay.auth.authenticate import invalid_token, unauthorized
from cargobay.auth.passwords import hash_password
from cargobay.auth.principal import Principal
from cargobay.auth.tokens import digest
from cargobay.domain.models import User, utcnow
from cargobay.domain.names import is_valid_path
from cargobay.errors import Conflict, Invalid, NotFound, bad_request, forbidden, not_found
from cargobay.services import admin
from cargobay.services.registry import Registry
from cargobay.storage.db import accounts as sql
from cargobay.storage.db import repository as repo

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MIN_PASSWORD = 8
USERNAME_RULE = (
    "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in "
    "'.', '.git' or '.atom'."
)


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of rows and how many match in all."""

    rows: list[Row[Any]]
    total: int


def validation_error(errors: dict[str, list[str]]) -> Invalid:
    """GitLab's ``render_validation_error!``: 400 ``{"message": {"field": ["..."]}}``."""
    return Invalid({"message": errors})


def acting_user(principal: Principal) -> User:
    """The signed-in user, or 401. A CI job token is not accepted by the management API
    (GitLab allows job tokens only on routes that opt in)."""
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    return principal.user


def acting_admin(principal: Principal) -> User:
    user = acting_user(principal)
    if not principal.is_admin:
        raise forbidden()
    return user


# ---------------------------------------------------------------- users


async def create_user(
    registry: Registry,
    principal: Principal,
    *,
    username: str,
    name: str,
    email: str,
    password: str | None,
    is_admin: bool,
) -> Row[Any]:
    acting_admin(principal)
    errors: dict[str, list[str]] = {}
    if not EMAIL.fullmatch(email):
        errors["email"] = ["is invalid"]
    if password is not None and len(password) < MIN_PASSWORD:
        errors["password"] = [f"is too short (minimum is {MIN_PASSWORD} characters)"]
    if not is_valid_path(username) or username.endswith("."):
        errors["username"] = [USERNAME_RULE]
    if not name.strip():
        errors["name"] = ["can't be blank"]
    if errors:
        raise validation_error(errors)
    # Key stretching costs tens of milliseconds of CPU: keep it off the event loop.
    password_hash = await anyio.to_thread.run_sync(hash_password, password) if password else None
    async with registry.db.write() as conn:
        # GitLab answers a taken e-mail first, then a taken username, both 409.
        if await sql.email_taken(conn, email):
            raise Conflict({"message": "Email has already been taken"})
        if await sql.username_taken(conn, username):
            raise Conflict({"message": "Username has already been taken"})
        if await repo.path_taken(conn, username):
            raise validation_error({"username": ["has already been taken"]})
        try:
            user = await admin.create_user_in(
                conn,
                username,
                name=name,
                email=email,
                is_admin=is_admin,
                password_hash=password_hash,
            )
        except IntegrityError:
            raise Conflict({"message": "Username has already been taken"}) from None
        row = await sql.user_row(conn, user.id)
        assert row is not None
        return row


async def list_users(
    registry: Registry,
    principal: Principal,
    *,
    username: str | None,
    search: str | None,
    state: str | None,
    offset: int,
    limit: int,
) -> Listing:
    """Administrators see everyone in full; signed-in users the basic entity; anonymous
    callers only an exact ``username`` lookup (UsersFinder)."""
    anonymous = principal.user is None or principal.job is not None
    if anonymous and not username:
        raise forbidden("Not authorized to access /api/v4/users")
    async with registry.db.scan() as conn:
        query = sql.users_query(username=username, search=search, state=state)
        rows, total = await sql.page_of(conn, query, offset, limit)
    return Listing(rows, total)


async def get_user(registry: Registry, principal: Principal, user_id: int) -> Row[Any]:
    if principal.user is None or principal.job is not None:
        raise forbidden("Not authorized!")
    async with registry.db.read() as conn:
        row = await sql.user_row(conn, user_id)
    if row is None:
        raise not_found("User Not Found")
    return row


async def current_user(registry: Registry, principal: Principal) -> Row[Any]:
    user = acting_user(principal)
    async with registry.db.read() as conn:
        row = await sql.user_row(conn, user.id)
    assert row is not None
    return row


async def set_blocked(
    registry: Registry, principal: Principal, user_id: int, *, blocked: bool
) -> None:
    me = acting_admin(principal)
    async with registry.db.write() as conn:
        row = await sql.user_row(conn, user_id)
        if row is None:
            raise not_found("User Not Found")
        if blocked:
            if row.id == me.id:
                raise forbidden("The API initiating user cannot be blocked by the API")
            if row.state != "blocked":
                await sql.set_user_state(conn, row.id, "blocked", utcnow())
        else:
            if row.state == "deactivated":
                raise forbidden("Deactivated users cannot be unblocked by the API")
            if row.state == "blocked":
                await sql.set_user_state(conn, row.id, "active", utcnow())


# ---------------------------------------------------------------- personal access tokens


async def create_personal_token_for(
    registry: Registry,
    principal: Principal,
    user_id: int,
    *,
    name: str,
    scopes: list[str],
    expires_at: date | None,
) -> tuple[Row[Any], str]:
    """POST /users/:id/personal_access_tokens (administrators)."""
    acting_admin(principal)
    if expires_at is not None and expires_at <= utcnow().date():
        raise bad_request("Expiration date must be in the future")
    async with registry.db.write() as conn:
        row = await sql.user_row(conn, user_id)
        if row is None:
            raise not_found("User Not Found")
        new = await admin.create_personal_access_token_in(
            conn, repo.to_user(row), name, scopes, expires_at
        )
        token_row = await sql.personal_token_row(conn, new.id)
    assert token_row is not None
    return token_row, new.token


async def list_personal_tokens(
    registry: Registry,
    principal: Principal,
    *,
    user_id: int | None,
    user_id_given: bool,
    state: str | None,
    revoked: bool | None,
    search: str | None,
    offset: int,
    limit: int,
) -> Listing:
    """Non-administrators see their own tokens; asking for someone else's is 401.
    Administrators see everyone's, or one user's (404 if there is no such user)."""
    me = acting_user(principal)
    async with registry.db.read() as conn:
        if principal.is_admin:
            if user_id_given and (user_id is None or await sql.user_row(conn, user_id) is None):
                raise NotFound({"message": "404 Not Found"})
            owner = user_id
        else:
            if user_id is not None and user_id != me.id:
                raise unauthorized(generic=False)
            owner = me.id
        query = sql.personal_tokens_query(
            user_id=owner, state=state, revoked=revoked, search=search, today=utcnow().date()
        )
        rows, total = await sql.page_of(conn, query, offset, limit)
    return Listing(rows, total)


async def get_personal_token(registry: Registry, principal: Principal, token_id: int) -> Row[Any]:
    me = acting_user(principal)
    async with registry.db.read() as conn:
        row = await sql.personal_token_row(conn, token_id)
    if row is not None and (principal.is_admin or row.user_id == me.id):
        return row
    # Only administrators learn whether a token id exists.
    if principal.is_admin:
        raise NotFound({"message": "404 Not Found"})
    raise unauthorized(generic=False)


async def revoke_personal_token(registry: Registry, principal: Principal, token_id: int) -> None:
    me = acting_user(principal)
    async with registry.db.write() as conn:
        row = await sql.personal_token_row(conn, token_id)
        if row is None:
            raise NotFound({"message": "404 Not found"})
        if not (principal.is_admin or row.user_id == me.id):
            raise bad_request_plain()
        await sql.revoke_personal_token(conn, row.id, utcnow())


def bad_request_plain() -> Invalid:
    """GitLab's ``bad_request!(nil)``."""
    return Invalid({"message": "400 Bad request"})


async def token_of_request(registry: Registry, token: str | None) -> Row[Any]:
    """The personal access token a request authenticates with, whatever its scopes: any
    token may read and revoke itself (PersonalAccessTokens::SelfInformation)."""
    if not token:
        raise unauthorized(generic=False)
    async with registry.db.read() as conn:
        row = await sql.personal_token_by_digest(conn, digest(token))
        owner = await sql.user_row(conn, row.user_id) if row is not None else None
    if row is None or owner is None:
        raise unauthorized(generic=False)
    if row.revoked:
        raise invalid_token("Token was revoked. You have to re-authorize from the user.")
    if row.expires_at is not None and row.expires_at <= utcnow().date():
        raise invalid_token(
            "Token is expired. You can either do re-authorization or token refresh."
        )
    if owner.state == "blocked":
        raise forbidden("Your account has been blocked.")
    if owner.state != "active":
        raise forbidden("Your account has been deactivated by your administrator.")
    return row


async def revoke_token_of_request(registry: Registry, token: str | None) -> None:
    row = await token_of_request(registry, token)
    async with registry.db.write() as conn:
        await sql.revoke_personal_token(conn, row.id, utcnow())
