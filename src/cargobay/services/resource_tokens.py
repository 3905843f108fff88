"""Deploy tokens (projects and groups) and project access tokens through the management
API (lib/api/deploy_tokens.rb, resource_access_tokens.rb).

Project deploy tokens and project access tokens need the Maintainer role; group deploy
tokens the Owner role (GitLab tightened this after a 2020 security report).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from cargobay.auth.authenticate import unauthorized
from cargobay.auth.principal import Principal
from cargobay.domain.models import (
    AccessLevel,
    DeployTokenEntry,
    Project,
    ProjectAccessToken,
    utcnow,
)
from cargobay.errors import Invalid, NotFound, bad_request, forbidden, not_found
from cargobay.services import tokens
from cargobay.services.accounts import Listing, acting_user
from cargobay.services.members import Source, find_source
from cargobay.services.namespaces import viewer_of
from cargobay.services.registry import Registry
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection

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
) -> Listing[DeployTokenEntry]:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        rows, total = await token_sql.deploy_tokens_page(
            conn,
            project_id=source.project_id,
            namespace_id=source.namespace_id,
            active=active,
            now=utcnow(),
            offset=offset,
            limit=limit,
        )
    return Listing(rows, total)


async def get_deploy_token(
    registry: Registry, principal: Principal, kind: str, ref: str, token_id: int
) -> DeployTokenEntry:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        row = await token_sql.find_deploy_token_entry(conn, token_id)
    if row is None or not _belongs(row, source):
        raise NotFound({"message": "404 Not found"})
    return row


def _belongs(row: DeployTokenEntry, source: Source) -> bool:
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
) -> tuple[DeployTokenEntry, str]:
    async with registry.db.read() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
    if username and not DEPLOY_USERNAME.fullmatch(username):
        raise Invalid(
            {"message": "Username can contain only letters, digits, '_', '-', '+', and '.'"}
        )
    if not scopes:
        raise Invalid({"message": "Scopes can't be blank"})
    async with registry.db.write() as conn:
        new = await tokens.create_deploy_token_in(
            conn,
            name=name,
            scopes=scopes,
            username=username or None,
            expires_at=expires_at,
            project_id=source.project_id,
            namespace_id=source.namespace_id,
        )
        row = await token_sql.find_deploy_token_entry(conn, new.id)
    assert row is not None
    return row, new.token


async def delete_deploy_token(
    registry: Registry, principal: Principal, kind: str, ref: str, token_id: int
) -> None:
    async with registry.db.write() as conn:
        source = await _deploy_source(conn, principal, kind, ref)
        row = await token_sql.find_deploy_token_entry(conn, token_id)
        if row is None or not _belongs(row, source):
            raise NotFound({"message": "404 Not found"})
        await token_sql.delete_deploy_token(conn, row.id)


# ---------------------------------------------------------------- project access tokens


async def _token_project(conn: Connection, principal: Principal, ref: str) -> tuple[Source, bool]:
    """The project, and whether the caller may manage its access tokens (Maintainer+)."""
    acting_user(principal)
    source = await find_source(conn, await viewer_of(conn, principal), "project", ref)
    return source, source.level >= AccessLevel.MAINTAINER


async def list_access_tokens(
    registry: Registry, principal: Principal, ref: str, *, offset: int, limit: int
) -> Listing[ProjectAccessToken]:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
        if not manager:
            raise unauthorized(generic=False)
        assert source.project_id is not None
        rows, total = await token_sql.project_tokens_page(
            conn, source.project_id, offset=offset, limit=limit
        )
    return Listing(rows, total)


async def get_access_token(
    registry: Registry, principal: Principal, ref: str, token_id: int
) -> ProjectAccessToken:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
        if not manager:
            raise unauthorized(generic=False)
        row = await _bot_token(conn, source, token_id)
    if row is None:
        raise not_found("project Access Token Not Found")
    return row


async def _bot_token(conn: Connection, source: Source, token_id: int) -> ProjectAccessToken | None:
    assert source.project_id is not None
    return await token_sql.find_project_token(conn, source.project_id, token_id)


async def create_access_token(
    registry: Registry,
    principal: Principal,
    ref: str,
    *,
    name: str,
    scopes: list[str],
    access_level: int,
    expires_at: date | None,
) -> tuple[ProjectAccessToken, str]:
    async with registry.db.read() as conn:
        source, manager = await _token_project(conn, principal, ref)
    if not manager:
        raise bad_request("User does not have permission to create project access token")
    if access_level > source.level:
        raise bad_request(
            "User does not have permission to create project access token with the "
            "specified access level"
        )
    tokens.refuse_past_expiry(expires_at)
    assert isinstance(source.row, Project)
    async with registry.db.write() as conn:
        new = await tokens.create_project_token_in(
            conn,
            source.row,
            name=name,
            scopes=scopes,
            access_level=AccessLevel(access_level),
            expires_at=expires_at,
        )
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
            bot = await user_sql.find_account(conn, row.user_id)
            raise bad_request(f"{me.username} cannot delete {bot.username if bot else 'bot'}")
        await tokens.revoke_personal_token_in(conn, row.id)
