"""The one writer of users: every user (the API's, the web's, the CLI's, a project's bot,
the bootstrap administrator) is created here, under the management API's rules (lib/api/
users.rb): a valid username that no user or group holds, an e-mail address no one else
has, a name that is not blank."""

from __future__ import annotations

import re

from cargobay.auth.passwords import MIN_LENGTH
from cargobay.domain.models import AccessLevel, User, utcnow
from cargobay.domain.names import is_valid_path
from cargobay.errors import Conflict, validation_error
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection
from cargobay.storage.db.errors import IntegrityError

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
USERNAME_RULE = (
    "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in "
    "'.', '.git' or '.atom'."
)


def user_errors(
    username: str, name: str | None, email: str | None, password: str | None = None
) -> dict[str, list[str]]:
    """GitLab's model validation of a new user, in the order GitLab reports it."""
    errors: dict[str, list[str]] = {}
    if email is not None and not EMAIL.fullmatch(email):
        errors["email"] = ["is invalid"]
    if password is not None and len(password) < MIN_LENGTH:
        errors["password"] = [f"is too short (minimum is {MIN_LENGTH} characters)"]
    if not is_valid_path(username) or username.endswith("."):
        errors["username"] = [USERNAME_RULE]
    if name is not None and not name.strip():
        errors["name"] = ["can't be blank"]
    return errors


async def create_user_in(
    conn: Connection,
    username: str,
    *,
    name: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
    bot: bool = False,
    password_hash: str | None = None,
) -> User:
    """A user, their personal namespace and their Owner role in it. 400 with GitLab's
    validation messages; 409 when the e-mail or the username is taken."""
    if errors := user_errors(username, name, email):
        raise validation_error(errors)
    # GitLab answers a taken e-mail first, then a taken username, both 409.
    if email is not None and await user_sql.email_taken(conn, email):
        raise Conflict({"message": "Email has already been taken"})
    if await user_sql.username_taken(conn, username):
        raise Conflict({"message": "Username has already been taken"})
    if await namespace_sql.path_taken(conn, username):
        raise validation_error({"username": ["has already been taken"]})
    now = utcnow()
    try:
        namespace_id = await namespace_sql.insert_namespace(
            conn, kind="user", name=name or username, path=username, full_path=username, now=now
        )
        user_id = await user_sql.insert_user(
            conn,
            username=username,
            name=name or username,
            email=email,
            is_admin=is_admin,
            bot=bot,
            password_hash=password_hash,
            namespace_id=namespace_id,
            now=now,
        )
    except IntegrityError:
        raise Conflict({"message": "Username has already been taken"}) from None
    await member_sql.set_membership(
        conn, user_id=user_id, namespace_id=namespace_id, access_level=AccessLevel.OWNER, now=now
    )
    return User(user_id, username, name or username, is_admin, "active", bot)


async def set_user_state_in(conn: Connection, user_id: int, state: str) -> None:
    await user_sql.set_user_state(conn, user_id, state, utcnow())
