"""Find projects and groups, and what the caller may do with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cargobay.auth.authenticate import unauthorized
from cargobay.auth.principal import Principal
from cargobay.domain.models import Namespace, Project, Visibility, utcnow
from cargobay.domain.permissions import Abilities, project_abilities
from cargobay.errors import CargobayError, NotFound, forbidden, message
from cargobay.settings import Settings
from cargobay.storage.db import downloads
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db.database import Connection


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    project: Project
    can: Abilities
    generic_gate: bool | None  # the deciding generic_packages gate (None: no gate)


async def abilities_for(
    conn: Connection, principal: Principal, projects: Sequence[Project], settings: Settings
) -> dict[int, Abilities]:
    """What the caller may do in each project, with two queries however many projects."""
    levels: dict[int, int] = {}
    if principal.user is not None:
        mine = await member_sql.user_memberships(conn, principal.user.id, utcnow().date())
        levels = {p.id: mine.project_level(p.id, p.full_path) for p in projects}
    result = {}
    for project in projects:
        covers = principal.deploy_token is not None and await token_sql.deploy_token_covers(
            conn, principal.deploy_token, project
        )
        result[project.id] = project_abilities(
            project,
            principal,
            access_level=levels.get(project.id, 0),
            deploy_token_covers=covers,
            guests_can_pull=settings.guests_can_pull,
        )
    return result


async def project_access(
    conn: Connection, principal: Principal, project_ref: str, settings: Settings
) -> ProjectAccess | None:
    """None when the project does not exist or the caller may not see it: callers answer
    that with 404 (or 401 when anonymous), never 403, so private names do not leak."""
    access = await find_project_access(conn, principal, project_ref, settings)
    return access if access is not None and access.can.read_project else None


async def find_project_access(
    conn: Connection, principal: Principal, project_ref: str, settings: Settings
) -> ProjectAccess | None:
    """The project and what the caller may do there, visible or not (None: no such
    project). One statement reads the project, the caller's role on it and its feature
    gate; a deploy token's reach takes one more."""
    user_id = principal.user.id if principal.user is not None else None
    facts = await downloads.project_facts(conn, project_ref, user_id, utcnow().date())
    if facts is None:
        return None
    project = facts.project
    covers = principal.deploy_token is not None and await token_sql.deploy_token_covers(
        conn, principal.deploy_token, project
    )
    can = project_abilities(
        project,
        principal,
        access_level=facts.member_level,
        deploy_token_covers=covers,
        guests_can_pull=settings.guests_can_pull,
    )
    return ProjectAccess(project, can, facts.generic_gate)


def generic_project_denied(principal: Principal) -> CargobayError:
    """The packages BasicAuth helper: anonymous callers get 401 with the Basic realm (so
    curl and wget retry with credentials), identified ones 404 (spec §3 step 4)."""
    if principal.anonymous:
        return unauthorized(generic=True)
    return NotFound(message(404))


def generic_forbidden(principal: Principal) -> CargobayError:
    return unauthorized(generic=True) if principal.anonymous else forbidden()


def group_visible(
    group: Namespace, principal: Principal, level: int, has_readable_project: bool
) -> bool:
    visibility = Visibility(group.visibility)
    return (
        visibility is Visibility.public
        or (visibility is Visibility.internal and principal.user is not None)
        or principal.is_admin
        or level > 0
        or has_readable_project
    )
