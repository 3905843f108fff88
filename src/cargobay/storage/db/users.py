"""SQL for users: finders by id, username and e-mail, the management list, and the few
columns that change (state, password). A user's personal namespace: namespaces.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, insert, or_, select, update

from cargobay.domain.integers import lookup_text, row_id
from cargobay.domain.models import Account, User
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import contains, like_escape, page_of
from cargobay.storage.db.records import to_account, to_user
from cargobay.storage.db.tables import users


async def insert_user(
    conn: Connection,
    *,
    username: str,
    name: str,
    email: str | None,
    is_admin: bool,
    bot: bool,
    password_hash: str | None,
    namespace_id: int,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(users)
        .values(
            username=username,
            name=name,
            email=email,
            is_admin=is_admin,
            bot=bot,
            password_hash=password_hash,
            namespace_id=namespace_id,
            created_at=now,
            updated_at=now,
        )
        .returning(users.c.id)
    )
    return int(result.scalar_one())


async def count_admins(conn: Connection) -> int:
    return int(
        (await conn.execute(select(func.count()).where(users.c.is_admin.is_(True)))).scalar_one()
    )


async def find_user(conn: Connection, id_or_username: str | int) -> User | None:
    user_id = id_or_username if isinstance(id_or_username, int) else row_id(id_or_username)
    if user_id is not None:
        condition = users.c.id == user_id
    else:
        condition = func.lower(users.c.username) == lookup_text(str(id_or_username)).lower()
    row = (await conn.execute(select(users).where(condition))).first()
    return to_user(row) if row else None


async def find_account(conn: Connection, user_id: int) -> Account | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
    return to_account(row) if row else None


async def account_by_username(conn: Connection, username: str) -> Account | None:
    """The account (password hash included), usernames compared case-insensitively."""
    query = select(users).where(func.lower(users.c.username) == username.lower())
    row = (await conn.execute(query)).first()
    return to_account(row) if row else None


async def accounts_page(
    conn: Connection,
    *,
    username: str | None = None,
    search: str | None = None,
    state: str | None = None,
    offset: int,
    limit: int,
) -> tuple[list[Account], int]:
    """Newest first, as GitLab lists users."""
    query = select(users)
    if username is not None:
        query = query.where(func.lower(users.c.username) == username.lower())
    if search:
        pattern = contains(search)
        query = query.where(
            or_(
                func.lower(users.c.username).like(pattern, escape="\\"),
                func.lower(users.c.name).like(pattern, escape="\\"),
                func.lower(users.c.email) == search.lower(),
            )
        )
    if state is not None:
        query = query.where(users.c.state == state)
    return await page_of(conn, query.order_by(users.c.id.desc()), offset, limit, to_account)


async def accounts_owning_namespaces(
    conn: Connection, namespace_ids: Iterable[int]
) -> dict[int, Account]:
    """The user whose personal namespace each id is."""
    wanted = set(namespace_ids)
    if not wanted:
        return {}
    rows = await conn.execute(select(users).where(users.c.namespace_id.in_(wanted)))
    return {row.namespace_id: to_account(row) for row in rows}


async def email_taken(conn: Connection, email: str) -> bool:
    found = await conn.execute(
        select(users.c.id).where(func.lower(users.c.email) == email.lower()).limit(1)
    )
    return found.first() is not None


async def username_taken(conn: Connection, username: str) -> bool:
    found = await conn.execute(
        select(users.c.id).where(func.lower(users.c.username) == username.lower()).limit(1)
    )
    return found.first() is not None


async def count_usernames_starting(conn: Connection, prefix: str) -> int:
    """How many usernames start with ``prefix`` (taken literally)."""
    pattern = f"{like_escape(prefix)}%"
    query = select(func.count()).where(users.c.username.like(pattern, escape="\\"))
    return int((await conn.execute(query)).scalar_one())


async def set_user_state(conn: Connection, user_id: int, state: str, now: datetime) -> None:
    await conn.execute(
        update(users).where(users.c.id == user_id).values(state=state, updated_at=now)
    )


async def set_password_hash(
    conn: Connection, user_id: int, password_hash: str, now: datetime
) -> bool:
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )
    return result.rowcount == 1
