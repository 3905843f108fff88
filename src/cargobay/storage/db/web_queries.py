"""SQL the web interface needs beyond the API's: credentials for sign-in and sessions,
and small summaries for pages. Who may see what is decided by the services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update

from cargobay.domain.models import DETAILED, DISPLAYABLE, Package
from cargobay.storage.db.database import Connection
from cargobay.storage.db.repository import to_package
from cargobay.storage.db.tables import packages, personal_access_tokens, users


async def user_by_username(conn: Connection, username: str) -> Row[Any] | None:
    """The user row (password hash included), usernames compared case-insensitively."""
    query = select(users).where(func.lower(users.c.username) == username.lower())
    return (await conn.execute(query)).first()


async def user_by_id(conn: Connection, user_id: int) -> Row[Any] | None:
    return (await conn.execute(select(users).where(users.c.id == user_id))).first()


async def set_password_hash(
    conn: Connection, user_id: int, password_hash: str, now: datetime
) -> bool:
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )
    return result.rowcount == 1


async def token_by_id(conn: Connection, token_id: int) -> Row[Any] | None:
    query = select(personal_access_tokens).where(personal_access_tokens.c.id == token_id)
    return (await conn.execute(query)).first()


async def package_counts(conn: Connection, project_ids: Sequence[int]) -> dict[int, int]:
    """Displayable packages per project (what the project's registry page lists)."""
    if not project_ids:
        return {}
    rows = await conn.execute(
        select(packages.c.project_id, func.count())
        .where(
            packages.c.project_id.in_(list(project_ids)),
            packages.c.status.in_([int(s) for s in DISPLAYABLE]),
            packages.c.version.is_not(None),
        )
        .group_by(packages.c.project_id)
    )
    return {project_id: count for project_id, count in rows}


async def detailed_package(conn: Connection, project_id: int, package_id: int) -> Package | None:
    """The package if it has a page of its own (status default or deprecated, spec §10)."""
    row = (
        await conn.execute(
            select(packages).where(
                packages.c.id == package_id,
                packages.c.project_id == project_id,
                packages.c.status.in_([int(s) for s in DETAILED]),
            )
        )
    ).first()
    return to_package(row) if row else None


async def recent_versions(
    conn: Connection, package: Package, limit: int
) -> tuple[list[Row[Any]], int]:
    """The newest ``limit`` other displayable versions of a package, and how many there
    are in all (a nightly build can have thousands)."""
    same = (
        packages.c.project_id == package.project_id,
        packages.c.name == package.name,
        packages.c.package_type == package.package_type,
        packages.c.id != package.id,
        packages.c.status.in_([int(s) for s in DISPLAYABLE]),
        packages.c.version.is_not(None),
    )
    rows = await conn.execute(
        select(packages)
        .where(*same)
        .order_by(packages.c.created_at.desc(), packages.c.id.desc())
        .limit(limit)
    )
    total = (await conn.execute(select(func.count()).where(*same))).scalar_one()
    return list(rows), int(total)
