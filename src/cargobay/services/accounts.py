"""Users and personal access tokens through the management API, with GitLab's rules on
who may see and change what (lib/api/users.rb, personal_access_tokens.rb).

These check the caller first; creating a user or a token is services/users.py's and
services/tokens.py's, for the CLI (services/admin.py) as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

import anyio.to_thread

from cargobay.auth.authenticate import invalid_token, unauthorized
from cargobay.auth.passwords import hash_password
from cargobay.auth.principal import Principal
from cargobay.auth.tokens import digest
from cargobay.domain.models import Account, PersonalAccessToken, User, utcnow
from cargobay.errors import Invalid, NotFound, forbidden, not_found, validation_error
from cargobay.services import tokens
from cargobay.services.registry import Registry
from cargobay.services.users import create_user_in, user_errors
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db import users as user_sql

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of records and how many match in all."""

    rows: list[T]
    total: int


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
) -> Account:
    acting_admin(principal)
    if errors := user_errors(username, name, email, password):
        raise validation_error(errors)
    # Key stretching costs tens of milliseconds of CPU: keep it off the event loop.
    password_hash = await anyio.to_thread.run_sync(hash_password, password) if password else None
    async with registry.db.write() as conn:
        user = await create_user_in(
            conn, username, name=name, email=email, is_admin=is_admin, password_hash=password_hash
        )
        row = await user_sql.find_account(conn, user.id)
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
) -> Listing[Account]:
    """Administrators see everyone in full; signed-in users the basic entity; anonymous
    callers only an exact ``username`` lookup (UsersFinder)."""
    anonymous = principal.user is None or principal.job is not None
    if anonymous and not username:
        raise forbidden("Not authorized to access /api/v4/users")
    async with registry.db.scan() as conn:
        rows, total = await user_sql.accounts_page(
            conn, username=username, search=search, state=state, offset=offset, limit=limit
        )
    return Listing(rows, total)


async def get_user(registry: Registry, principal: Principal, user_id: int) -> Account:
    if principal.user is None or principal.job is not None:
        raise forbidden("Not authorized!")
    async with registry.db.read() as conn:
        row = await user_sql.find_account(conn, user_id)
    if row is None:
        raise not_found("User Not Found")
    return row


async def current_user(registry: Registry, principal: Principal) -> Account:
    user = acting_user(principal)
    async with registry.db.read() as conn:
        row = await user_sql.find_account(conn, user.id)
    assert row is not None
    return row


async def set_blocked(
    registry: Registry, principal: Principal, user_id: int, *, blocked: bool
) -> None:
    me = acting_admin(principal)
    async with registry.db.write() as conn:
        row = await user_sql.find_account(conn, user_id)
        if row is None:
            raise not_found("User Not Found")
        if blocked:
            if row.id == me.id:
                raise forbidden("The API initiating user cannot be blocked by the API")
            if row.state != "blocked":
                await user_sql.set_user_state(conn, row.id, "blocked", utcnow())
        else:
            if row.state == "deactivated":
                raise forbidden("Deactivated users cannot be unblocked by the API")
            if row.state == "blocked":
                await user_sql.set_user_state(conn, row.id, "active", utcnow())


# ---------------------------------------------------------------- personal access tokens


async def create_personal_token_for(
    registry: Registry,
    principal: Principal,
    user_id: int,
    *,
    name: str,
    scopes: list[str],
    expires_at: date | None,
) -> tuple[PersonalAccessToken, str]:
    """POST /users/:id/personal_access_tokens (administrators)."""
    acting_admin(principal)
    tokens.refuse_past_expiry(expires_at)
    async with registry.db.write() as conn:
        row = await user_sql.find_account(conn, user_id)
        if row is None:
            raise not_found("User Not Found")
        new = await tokens.create_personal_token_in(conn, row.user, name, scopes, expires_at)
        token_row = await token_sql.find_personal_token(conn, new.id)
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
) -> Listing[PersonalAccessToken]:
    """Non-administrators see their own tokens; asking for someone else's is 401.
    Administrators see everyone's, or one user's (404 if there is no such user)."""
    me = acting_user(principal)
    async with registry.db.read() as conn:
        if principal.is_admin:
            if user_id_given and (
                user_id is None or await user_sql.find_account(conn, user_id) is None
            ):
                raise NotFound({"message": "404 Not Found"})
            owner = user_id
        else:
            if user_id is not None and user_id != me.id:
                raise unauthorized(generic=False)
            owner = me.id
        rows, total = await token_sql.personal_tokens_page(
            conn,
            user_id=owner,
            state=state,
            revoked=revoked,
            search=search,
            today=utcnow().date(),
            offset=offset,
            limit=limit,
        )
    return Listing(rows, total)


async def get_personal_token(
    registry: Registry, principal: Principal, token_id: int
) -> PersonalAccessToken:
    me = acting_user(principal)
    async with registry.db.read() as conn:
        row = await token_sql.find_personal_token(conn, token_id)
    if row is not None and (principal.is_admin or row.user_id == me.id):
        return row
    # Only administrators learn whether a token id exists.
    if principal.is_admin:
        raise NotFound({"message": "404 Not Found"})
    raise unauthorized(generic=False)


async def revoke_personal_token(registry: Registry, principal: Principal, token_id: int) -> None:
    me = acting_user(principal)
    async with registry.db.write() as conn:
        row = await token_sql.find_personal_token(conn, token_id)
        if row is None:
            raise NotFound({"message": "404 Not found"})
        if not (principal.is_admin or row.user_id == me.id):
            raise bad_request_plain()
        await tokens.revoke_personal_token_in(conn, row.id)


def bad_request_plain() -> Invalid:
    """GitLab's ``bad_request!(nil)``."""
    return Invalid({"message": "400 Bad request"})


async def token_of_request(registry: Registry, token: str | None) -> PersonalAccessToken:
    """The personal access token a request authenticates with, whatever its scopes: any
    token may read and revoke itself (PersonalAccessTokens::SelfInformation)."""
    if not token:
        raise unauthorized(generic=False)
    async with registry.db.read() as conn:
        row = await token_sql.personal_token_by_digest(conn, digest(token))
        owner = await user_sql.find_account(conn, row.user_id) if row is not None else None
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
        await tokens.revoke_personal_token_in(conn, row.id)
