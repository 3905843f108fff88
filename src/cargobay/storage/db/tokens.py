"""SQL for personal access tokens (project access tokens are those of a project's bot
user) and deploy tokens: finders by digest and id, the management lists, minting,
revoking. CI job tokens live with their jobs (ci.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, or_, select, update

from cargobay.domain.models import (
    DeployToken,
    DeployTokenEntry,
    PersonalAccessToken,
    Project,
    ProjectAccessToken,
    TokenGrant,
)
from cargobay.domain.roles import namespace_paths
from cargobay.storage.db.database import Connection, Prepared, fetch_one
from cargobay.storage.db.expressions import contains, page_of
from cargobay.storage.db.records import (
    to_deploy_token,
    to_deploy_token_entry,
    to_personal_token,
    to_project_token,
    to_user,
)
from cargobay.storage.db.tables import (
    deploy_tokens,
    members,
    namespaces,
    personal_access_tokens,
    users,
)

pats = personal_access_tokens


def _active_pat(today: date) -> ColumnElement[bool]:
    return pats.c.revoked.is_(False) & or_(pats.c.expires_at.is_(None), pats.c.expires_at > today)


def _active_deploy_token(now: datetime) -> ColumnElement[bool]:
    return deploy_tokens.c.revoked.is_(False) & or_(
        deploy_tokens.c.expires_at.is_(None), deploy_tokens.c.expires_at > now
    )


# ---------------------------------------------------------------- personal access tokens


# The statement on the path of every authenticated request, prepared once (database.py).
_ACCESS_TOKEN = Prepared(
    select(
        pats.c.id.label("token_id"),
        pats.c.scopes,
        pats.c.expires_at,
        pats.c.revoked,
        users,
    )
    .join(users, users.c.id == pats.c.user_id)
    .where(pats.c.token_digest == bindparam("digest"))
)


async def find_personal_access_token(conn: Connection, token_digest: str) -> TokenGrant | None:
    """The token and its user, in one row (authentication reads them all)."""
    m = await fetch_one(conn, _ACCESS_TOKEN, {"digest": token_digest})
    if m is None:
        return None
    return TokenGrant(m["token_id"], m["scopes"], m["revoked"], m["expires_at"], to_user(m))


async def insert_personal_token(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    token_digest: str,
    scopes: str,
    expires_at: date | None,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(pats)
        .values(
            user_id=user_id,
            name=name,
            token_digest=token_digest,
            scopes=scopes,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        .returning(pats.c.id)
    )
    return int(result.scalar_one())


async def personal_tokens_page(
    conn: Connection,
    *,
    user_id: int | None = None,
    state: str | None = None,
    revoked: bool | None = None,
    search: str | None = None,
    today: date,
    offset: int,
    limit: int,
) -> tuple[list[PersonalAccessToken], int]:
    query = select(pats)
    if user_id is not None:
        query = query.where(pats.c.user_id == user_id)
    if revoked is not None:
        query = query.where(pats.c.revoked.is_(revoked))
    if state == "active":
        query = query.where(_active_pat(today))
    elif state == "inactive":
        query = query.where(~_active_pat(today))
    if search:
        query = query.where(func.lower(pats.c.name).like(contains(search), escape="\\"))
    return await page_of(conn, query.order_by(pats.c.id), offset, limit, to_personal_token)


async def find_personal_token(conn: Connection, token_id: int) -> PersonalAccessToken | None:
    row = (await conn.execute(select(pats).where(pats.c.id == token_id))).first()
    return to_personal_token(row) if row else None


async def personal_token_by_digest(
    conn: Connection, token_digest: str
) -> PersonalAccessToken | None:
    row = (await conn.execute(select(pats).where(pats.c.token_digest == token_digest))).first()
    return to_personal_token(row) if row else None


async def revoke_personal_token(conn: Connection, token_id: int, now: datetime) -> bool:
    """False: no such token."""
    result = await conn.execute(
        update(pats).where(pats.c.id == token_id).values(revoked=True, updated_at=now)
    )
    return result.rowcount == 1


def _project_bot_tokens(project_id: int) -> Select[Any]:
    """Tokens of the project's bot members (project access tokens), with the bot's role."""
    return (
        select(pats, members.c.access_level, members.c.project_id)
        .join(users, users.c.id == pats.c.user_id)
        .join(
            members,
            (members.c.user_id == users.c.id) & (members.c.project_id == project_id),
        )
        .where(users.c.bot.is_(True))
        .order_by(pats.c.id)
    )


async def project_tokens_page(
    conn: Connection, project_id: int, *, offset: int, limit: int
) -> tuple[list[ProjectAccessToken], int]:
    return await page_of(conn, _project_bot_tokens(project_id), offset, limit, to_project_token)


async def find_project_token(
    conn: Connection, project_id: int, token_id: int
) -> ProjectAccessToken | None:
    query = _project_bot_tokens(project_id).where(pats.c.id == token_id)
    row = (await conn.execute(query)).first()
    return to_project_token(row) if row else None


# ---------------------------------------------------------------- deploy tokens


async def find_deploy_token(
    conn: Connection, token_digest: str, now: datetime
) -> DeployToken | None:
    """A live (unrevoked, unexpired) deploy token by digest."""
    row = (
        await conn.execute(
            select(deploy_tokens).where(
                deploy_tokens.c.token_digest == token_digest, _active_deploy_token(now)
            )
        )
    ).first()
    return to_deploy_token(row) if row else None


async def deploy_token_covers(conn: Connection, token: DeployToken, project: Project) -> bool:
    if token.project_id is not None:
        return token.project_id == project.id
    if token.namespace_id is None:
        return False
    path = (
        await conn.execute(
            select(namespaces.c.full_path).where(namespaces.c.id == token.namespace_id)
        )
    ).scalar()
    return path is not None and path in namespace_paths(project.full_path)


async def insert_deploy_token(
    conn: Connection,
    *,
    name: str,
    username: str | None,
    token_digest: str,
    scopes: str,
    expires_at: datetime | None,
    project_id: int | None,
    namespace_id: int | None,
    now: datetime,
) -> int:
    """Without a ``username`` the token gets GitLab's ``gitlab+deploy-token-<id>``."""
    result = await conn.execute(
        insert(deploy_tokens)
        .values(
            name=name,
            username=username or "",
            token_digest=token_digest,
            scopes=scopes,
            expires_at=expires_at,
            project_id=project_id,
            namespace_id=namespace_id,
            created_at=now,
            updated_at=now,
        )
        .returning(deploy_tokens.c.id)
    )
    token_id = int(result.scalar_one())
    if not username:
        await conn.execute(
            update(deploy_tokens)
            .where(deploy_tokens.c.id == token_id)
            .values(username=f"gitlab+deploy-token-{token_id}")
        )
    return token_id


async def deploy_tokens_page(
    conn: Connection,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    active: bool | None = None,
    now: datetime,
    offset: int,
    limit: int,
) -> tuple[list[DeployTokenEntry], int]:
    query = select(deploy_tokens)
    if project_id is not None:
        query = query.where(deploy_tokens.c.project_id == project_id)
    if namespace_id is not None:
        query = query.where(deploy_tokens.c.namespace_id == namespace_id)
    if active is True:
        query = query.where(_active_deploy_token(now))
    elif active is False:
        query = query.where(~_active_deploy_token(now))
    query = query.order_by(deploy_tokens.c.id)
    return await page_of(conn, query, offset, limit, to_deploy_token_entry)


async def find_deploy_token_entry(conn: Connection, token_id: int) -> DeployTokenEntry | None:
    query = select(deploy_tokens).where(deploy_tokens.c.id == token_id)
    row = (await conn.execute(query)).first()
    return to_deploy_token_entry(row) if row else None


async def delete_deploy_token(conn: Connection, token_id: int) -> None:
    await conn.execute(delete(deploy_tokens).where(deploy_tokens.c.id == token_id))
