"""The one writer of tokens: personal access tokens (a project access token is one of a
project bot), deploy tokens and their revocation, for the API, the web interface and the
CLI alike. Each token is shown once and stored as a digest (auth/tokens.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cargobay.auth.tokens import TokenKind, digest, mint
from cargobay.domain.models import AccessLevel, Project, User, utcnow
from cargobay.errors import bad_request, not_found
from cargobay.services.users import create_user_in
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection

PAT_SCOPES = frozenset(
    {
        "api",
        "read_api",
        "read_user",
        "read_repository",
        "write_repository",
        "read_registry",
        "write_registry",
        "sudo",
        "admin_mode",
        "create_runner",
        "manage_runner",
        "ai_features",
        "k8s_proxy",
        "self_rotate",
    }
)
DEPLOY_SCOPES = frozenset(
    {
        "read_repository",
        "read_registry",
        "write_registry",
        "read_package_registry",
        "write_package_registry",
        "read_virtual_registry",
        "write_virtual_registry",
    }
)


@dataclass(frozen=True, slots=True)
class NewToken:
    id: int
    token: str
    user: User | None = None


def refuse_past_expiry(expires_at: date | None) -> None:
    """GitLab's rule for a new access token: an expiry date, if any, after today."""
    if expires_at is not None and expires_at <= utcnow().date():
        raise bad_request("Expiration date must be in the future")


def _check_scopes(scopes: list[str], allowed: frozenset[str]) -> str:
    unknown = sorted(set(scopes) - allowed)
    if not scopes or unknown:
        raise bad_request(f"scopes {unknown or scopes} are invalid; choose from {sorted(allowed)}")
    return " ".join(dict.fromkeys(scopes))


async def create_personal_token_in(
    conn: Connection, user: User, name: str, scopes: list[str], expires_at: date | None
) -> NewToken:
    token = mint(TokenKind.personal)
    token_id = await token_sql.insert_personal_token(
        conn,
        user_id=user.id,
        name=name,
        token_digest=digest(token),
        scopes=_check_scopes(scopes, PAT_SCOPES),
        expires_at=expires_at,
        now=utcnow(),
    )
    return NewToken(token_id, token, user)


async def create_project_token_in(
    conn: Connection,
    project: Project,
    *,
    name: str,
    scopes: list[str],
    access_level: AccessLevel,
    expires_at: date | None,
) -> NewToken:
    """A PAT of a new bot user who is a member of the project, as GitLab does it."""
    prefix = f"project_{project.id}_bot_"
    count = 1 + await user_sql.count_usernames_starting(conn, prefix)
    bot = await create_user_in(conn, f"{prefix}{count}", name=name, bot=True)
    await member_sql.set_membership(
        conn,
        user_id=bot.id,
        project_id=project.id,
        access_level=access_level,
        expires_at=None,
        now=utcnow(),
    )
    return await create_personal_token_in(conn, bot, name, scopes, expires_at)


async def create_deploy_token_in(
    conn: Connection,
    *,
    name: str,
    scopes: list[str],
    username: str | None,
    project_id: int | None,
    namespace_id: int | None,
    expires_at: datetime | None,
) -> NewToken:
    token = mint(TokenKind.deploy)
    token_id = await token_sql.insert_deploy_token(
        conn,
        name=name,
        username=username,
        token_digest=digest(token),
        scopes=_check_scopes(scopes, DEPLOY_SCOPES),
        expires_at=expires_at,
        project_id=project_id,
        namespace_id=namespace_id,
        now=utcnow(),
    )
    return NewToken(token_id, token)


async def revoke_personal_token_in(conn: Connection, token_id: int) -> None:
    """Revoke a personal (or project) access token: it stops working at once. 404 when
    there is no such token; who may revoke it is the caller's to decide."""
    if not await token_sql.revoke_personal_token(conn, token_id, utcnow()):
        raise not_found("Not Found")
