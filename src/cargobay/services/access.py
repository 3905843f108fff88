"""Find a project and what the caller may do with it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from cargobay.auth.authenticate import unauthorized
from cargobay.auth.principal import Principal
from cargobay.domain.models import Project, utcnow
from cargobay.domain.permissions import Abilities, project_abilities
from cargobay.errors import CargobayError, NotFound, forbidden, message
from cargobay.settings import Settings
from cargobay.storage.db import repository as repo


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    project: Project
    can: Abilities


async def project_access(
    conn: AsyncConnection, principal: Principal, project_ref: str, settings: Settings
) -> ProjectAccess | None:
    """None when the project does not exist or the caller may not see it: callers answer
    that with 404 (or 401 when anonymous), never 403, so private names do not leak."""
    project = await repo.find_project(conn, project_ref)
    if project is None:
        return None
    level = 0
    if principal.user is not None:
        level = await repo.access_level(conn, principal.user.id, project, utcnow().date())
    covers = principal.deploy_token is not None and await repo.deploy_token_covers(
        conn, principal.deploy_token, project
    )
    can = project_abilities(
        project,
        principal,
        access_level=level,
        deploy_token_covers=covers,
        guests_can_pull=settings.guests_can_pull,
    )
    return ProjectAccess(project, can) if can.read_project else None


def generic_project_denied(principal: Principal) -> CargobayError:
    """The packages BasicAuth helper: anonymous callers get 401 with the Basic realm (so
    curl and wget retry with credentials), identified ones 404 (spec §3 step 4)."""
    if principal.anonymous:
        return unauthorized(generic=True)
    return NotFound(message(404))


def generic_forbidden(principal: Principal) -> CargobayError:
    return unauthorized(generic=True) if principal.anonymous else forbidden()
