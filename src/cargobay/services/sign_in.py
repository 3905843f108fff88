"""Web sign-in: username and password, or a personal access token; and who a session
cookie stands for on each later request.

A session remembers the user id and how they signed in. Every request re-checks the user
(blocked or deactivated users are signed out at once), the token (revoked or expired ends
the session) or the password (changing it ends every session signed in with the old one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import anyio.to_thread

from cargobay.auth.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from cargobay.auth.principal import Principal
from cargobay.auth.tokens import TokenKind, digest
from cargobay.domain.models import Account, PersonalAccessToken, utcnow
from cargobay.errors import Unauthorized, bad_request, not_found, validation_error
from cargobay.services.registry import Registry
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db import users as user_sql

SIGN_IN_SCOPES = frozenset({"api", "read_api"})
WRITE_SCOPE = "api"
WRONG_CREDENTIALS = "Invalid username or password."


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """What a session cookie holds about its user."""

    user_id: int
    token_id: int | None = None  # signed in with this personal access token
    password_mark: str = ""  # fingerprint of the password hash at sign-in


def refused(text: str) -> Unauthorized:
    return Unauthorized({"message": text})


def password_mark(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def _check_can_sign_in(user: Account) -> None:
    if user.bot:
        raise refused("Project access tokens and bots cannot sign in to the web interface.")
    if user.state == "blocked":
        raise refused("Your account has been blocked. Ask an administrator to unblock it.")
    if user.state != "active":
        raise refused("Your account has been deactivated by your administrator.")


async def sign_in_with_password(
    registry: Registry, username: str, password: str
) -> SessionIdentity:
    async with registry.db.read() as conn:
        user = await user_sql.account_by_username(conn, username.strip())
    stored: str | None = user.password_hash if user is not None else None
    if not await anyio.to_thread.run_sync(verify_password, stored, password):
        raise refused(WRONG_CREDENTIALS)
    assert user is not None and stored is not None
    _check_can_sign_in(user)
    if needs_rehash(stored):
        stored = await anyio.to_thread.run_sync(hash_password, password)
        async with registry.db.write() as conn:
            await user_sql.set_password_hash(conn, user.id, stored, utcnow())
    return SessionIdentity(user.id, None, password_mark(stored))


async def sign_in_with_token(registry: Registry, token: str) -> SessionIdentity:
    async with registry.db.read() as conn:
        row = await token_sql.personal_token_by_digest(conn, digest(token.strip()))
        user = await user_sql.find_account(conn, row.user_id) if row is not None else None
    if row is None or user is None:
        raise refused("That token is not a valid personal access token.")
    problem = _token_problem(row)
    if problem:
        raise refused(problem)
    if not SIGN_IN_SCOPES & set(row.scopes.split()):
        raise refused("That token cannot sign in: it needs the api or read_api scope.")
    _check_can_sign_in(user)
    return SessionIdentity(user.id, row.id, "")


def _token_problem(row: PersonalAccessToken) -> str | None:
    if row.revoked:
        return "That token was revoked."
    if row.expires_at is not None and row.expires_at <= utcnow().date():
        return "That token has expired."
    return None


async def session_principal(registry: Registry, identity: SessionIdentity) -> Principal | None:
    """The caller a session stands for, or None when the session no longer holds."""
    async with registry.db.read() as conn:
        user = await user_sql.find_account(conn, identity.user_id)
        token = (
            await token_sql.find_personal_token(conn, identity.token_id)
            if identity.token_id is not None
            else None
        )
    if user is None or user.state != "active" or user.bot:
        return None
    if identity.token_id is not None:
        if token is None or token.user_id != user.id or _token_problem(token):
            return None
        scopes = frozenset(token.scopes.split()) & SIGN_IN_SCOPES
    else:
        if not user.password_hash or identity.password_mark != password_mark(user.password_hash):
            return None
        scopes = frozenset({WRITE_SCOPE})
    return Principal(user=user.user, scopes=scopes, token_kind=TokenKind.web_session.audit_name)


def can_write(principal: Principal) -> bool:
    """A session from a ``read_api`` token may look but not change anything."""
    return principal.user is not None and WRITE_SCOPE in principal.scopes


async def set_password(registry: Registry, user_ref: str | int, password: str) -> None:
    """Set a user's web password (``cargobay admin set-password``: local access, no
    caller check). Sessions signed in with the old password end."""
    if len(password) < MIN_LENGTH:
        raise bad_request(f"password is too short (minimum is {MIN_LENGTH} characters)")
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    async with registry.db.write() as conn:
        user = await user_sql.find_user(conn, user_ref)
        if user is None:
            raise not_found("User Not Found")
        await user_sql.set_password_hash(conn, user.id, password_hash, utcnow())


async def change_own_password(
    registry: Registry, principal: Principal, current: str, new: str
) -> SessionIdentity:
    """The caller changes their own password (the web's Password page). The current one
    is needed when there is one (a user who never had a password, signed in with a
    token, sets a first one). Every other session signed in with the old password ends;
    the identity returned is the caller's session with the new one."""
    me = principal.user
    if me is None or me.bot:
        raise refused("Sign in to change your password.")
    async with registry.db.read() as conn:
        account = await user_sql.find_account(conn, me.id)
    if account is None:
        raise not_found("User Not Found")
    stored = account.password_hash
    if stored and not await anyio.to_thread.run_sync(verify_password, stored, current):
        raise validation_error({"current_password": ["is wrong"]})
    if len(new) < MIN_LENGTH:
        raise validation_error({"password": [f"is too short (minimum is {MIN_LENGTH} characters)"]})
    if stored and new == current:
        raise validation_error({"password": ["must differ from the current password"]})
    password_hash = await anyio.to_thread.run_sync(hash_password, new)
    async with registry.db.write() as conn:
        await user_sql.set_password_hash(conn, me.id, password_hash, utcnow())
    return SessionIdentity(me.id, None, password_mark(password_hash))
