"""Deploy tokens (projects and groups) and project access tokens through the management
API (lib/api/deploy_tokens.rb, resource_access_tokens.rb).

Project deploy tokens and project access tokens need the Maintainer role; group deploy
tokens the Owner role (GitLab tightened this after a 2020 security report).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row

from cargobay.auth.authenticate import unauthorized
from cargobay.auth.principal import Principal
from cargobay.domain.models import AccessLevel, utcnow
from cargobay.errors import Invalid, NotFound, bad_request, forbidden, not_found
from cargobay.services import admin
from cargobay.services.accounts import Listing, acting_user
from cargobay.services.members import Source, find_source
from cargobay.services.namespaces import viewer_of
from cargobay.services.registry import Registry
from cargobay.storage.db import accounts as sql
from cargobay.storage.db.database import Connection
from cargobay.storage.db.tables import personal_access_tokens

DEPLOY_USERNAME = re.compile(r"[a-zA-Z0-9.+_-]+")
# Gitlab::Auth.resource_bot_scopes
RESOURCE_SCOPES = frozenset(
    {
        "api",
        "read_api",
        "read_repository",
        "write_repository",
        "read_registry",
        "write_registry",
        "create_runner",
        "manage_runner",
        "ai_features",
        "k8s_proxy",
        "self_rotate",
    }
)
TOKEN_LEVELS = (10, 20, 30, 40, 50)


def _deploy_manager(source: Source) -> int:
    return AccessLevel.OWNER if source.kind == "group" else AccessLevel.MAINTAINER


async def _deploy_source(conn: Connection, principal: Principal, kind: str, ref: str) -> Source:
    acting_user(principal)
    source = await find_source(conn, await viewer_of(conn, principal), kind, ref)
    if source.level < _deploy_manager(source):
        raise forbidden()
    return source


async def list_deploy_tokens(
    registry: Registry,
    principal: Principal,
    kind: str,
    ref: str,
    *,
    active: bool | None,
    offset: int,
    limit: int,
) -> Listing:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        query = sql.deploy_tokens_query(
            project_id=source.project_id,
            namespace_id=source.namespace_id,
            active=active,
            now=utcnow(),
        )
        rows, total = await sql.page_of(conn, query, offset, limit)
    return Listing(rows, total)


async def get_deploy_token(
    registry: Registry, principal: Principal, kind: str, ref: str, token_id: int
) -> Row[Any]:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        row = await sql.deploy_token_row(conn, token_id)
    if row is None or not _belongs(row, source):
        raise NotFound({"message": "404 Not found"})
    return row


def _belongs(row: Row[Any], source: Source) -> bool:
    if source.kind == "group":
        return bool(row.namespace_id == source.namespace_id)
    return bool(row.project_id == source.project_id)


async def create_deploy_token(
    registry: Registry,
    principal: Principal,
    kind: str,
    ref: str,
    *,
    name: str,
    scopes: list[str],
    username: str | None,
    expires_at: datetime | None,
) -> tuple[Row[Any], str]:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
    if username and not DEPLOY_USERNAME.fullmatch(username):
        raise Invalid(
            {"message": "Username can contain only letters, digits, '_', '-', '+', and '.'"}
        )
    if not scopes:
        raise Invalid({"message": "Scopes can't be blank"})
    new = await admin.create_deploy_token(
        registry,
        name=name,
        scopes=scopes,
        username=username or None,
        expires_at=expires_at,
        project=source.project_id,
        group=source.namespace_id,
    )
    async with registry.db.read() as conn:
        row = await sql.deploy_token_row(conn, new.id)
    assert row is not None
    return row, new.token


async def delete_deploy_token(
    registry: Registry, principal: Principal, kind: str, ref: str, token_id: int
) -> None:
    async with registry.db.write() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        row = await sql.deploy_token_row(conn, token_id)
        if row is None or not _belongs(row, source):
            raise NotFound({"message": "404 Not found"})
        await sql.delete_deploy_token(conn, row.id)


# ---------------------------------------------------------------- project access tokens


async def _token_project(conn: Connection, principal: Principal, ref: str) -> tuple[Source, bool]:
    """The project, and whether the caller may manage its access tokens (Maintainer+)."""
    acting_user(principal)
    source = await find_source(conn, await viewer_of(conn, principal), "project", ref)
    return source, source.level >= AccessLevel.MAINTAINER


async def list_access_tokens(
    registry: Registry, principal: Principal, ref: str, *, offset: int, limit: int
) -> Listing:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
        if not manager:
            raise unauthorized(generic=False)
        assert source.project_id is not None
        query = sql.project_bot_tokens_query(source.project_id)
        rows, total = await sql.page_of(conn, query, offset, limit)
    return Listing(rows, total)


async def get_access_token(
    registry: Registry, principal: Principal, ref: str, token_id: int
) -> Row[Any]:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
        if not manager:
            raise unauthorized(generic=False)
        row = await _bot_token(conn, source, token_id)
    if row is None:
        raise not_found("project Access Token Not Found")
    return row


async def _bot_token(conn: Connection, source: Source, token_id: int) -> Row[Any] | None:
    assert source.project_id is not None
    query = sql.project_bot_tokens_query(source.project_id).where(
        personal_access_tokens.c.id == token_id
    )
    return (await conn.execute(query)).first()  # type: ignore[no-any-return]


async def create_access_token(
    registry: Registry,
    principal: Principal,
    ref: str,
    *,
    name: str,
    scopes: list[str],
    access_level: int,
    expires_at: date | None,
) -> tuple[Row[Any], str]:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
    if not manager:
        raise bad_request("User does not have permission to create project access token")
    if access_level > source.level:
        raise bad_request(
            "User does not have permission to create project access token with the "
            "specified access level"
        )
    if expires_at is not None and expires_at <= utcnow().date():
        raise bad_request("Expiration date must be in the future")
    assert source.project_id is not None
    new = await admin.create_project_access_token(
        registry,
        source.project_id,
        name=name,
        scopes=scopes,
        access_level=AccessLevel(access_level),
        expires_at=expires_at,
    )
    async with registry.db.read() as conn:
        row = await _bot_token(conn, source, new.id)
    assert row is not None
    return row, new.token


async def revoke_access_token(
    registry: Registry, principal: Principal, ref: str, token_id: int
) -> None:
    me = acting_user(principal)
    async with registry.db.write() as conn:
        source, manager = await _token_project(conn, principal, ref)
        row = await _bot_token(conn, source, token_id)
        if row is None:
            raise not_found("project Access Token Not Found")
        if not manager:
            bot = await sql.user_row(conn, row.user_id)
            raise bad_request(f"{me.username} cannot delete {bot.username if bot else 'bot'}")
        await sql.revoke_personal_token(conn, row.id, utcnow())
