"""Roles and token scopes to abilities on one project (spec §5.3). Pure: no I/O.

The caller's effective role and whether its deploy token covers the project are looked
up first (services/access.py); this module only applies GitLab's rules to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.domain.models import AccessLevel, Project, RegistryAccess, Visibility
from cargobay.domain.principal import Principal

READ_REGISTRY = "read_package_registry"
WRITE_REGISTRY = "write_package_registry"


@dataclass(frozen=True, slots=True)
class Abilities:
    read_project: bool = False
    read_package: bool = False
    create_package: bool = False
    destroy_package: bool = False
    admin_package: bool = False
    access_level: int = 0


def project_abilities(
    project: Project,
    principal: Principal,
    *,
    access_level: int,
    deploy_token_covers: bool,
    guests_can_pull: bool,
) -> Abilities:
    registry = project.registry_access
    if principal.deploy_token is not None:
        scopes = principal.deploy_token.scopes
        can_read = deploy_token_covers and bool(scopes & {READ_REGISTRY, WRITE_REGISTRY})
        can_write = deploy_token_covers and WRITE_REGISTRY in scopes
        enabled = registry is not RegistryAccess.disabled
        return Abilities(
            read_project=can_read or project.visibility is Visibility.public,
            read_package=enabled and (can_read or _public_pull(project)),
            create_package=enabled and can_write,
            destroy_package=enabled and can_write,
        )

    if principal.is_admin:
        access_level = AccessLevel.OWNER
    elif principal.job is not None and principal.job.project_id != project.id:
        # A job token reaches other projects only as far as their public parts go
        # (GitLab's default inbound job-token allowlist holds just the job's project).
        access_level = 0

    member = access_level >= AccessLevel.GUEST
    if project.visibility is Visibility.public:
        read_project = True
    elif project.visibility is Visibility.internal:
        read_project = member or (principal.user is not None and principal.job is None)
    else:
        read_project = member

    pull_level = AccessLevel.GUEST if guests_can_pull else AccessLevel.REPORTER
    if registry is RegistryAccess.disabled:
        read_package = False
    elif _public_pull(project):
        read_package = True
    elif registry is RegistryAccess.private or project.visibility is not Visibility.public:
        read_package = access_level >= pull_level or (
            read_project
            and not member
            and project.visibility is Visibility.internal
            and registry is RegistryAccess.enabled
        )
    else:
        read_package = read_project

    enabled = registry is not RegistryAccess.disabled
    return Abilities(
        read_project=read_project or _public_pull(project),
        read_package=read_package,
        create_package=enabled and access_level >= AccessLevel.DEVELOPER,
        destroy_package=enabled and access_level >= AccessLevel.MAINTAINER,
        admin_package=enabled and access_level >= AccessLevel.MAINTAINER,
        access_level=access_level,
    )


def _public_pull(project: Project) -> bool:
    """Public project with its registry open to everyone, or the "allow anyone to pull"
    setting (registry level ``public``) on any project."""
    return project.registry_access is RegistryAccess.public or (
        project.visibility is Visibility.public
        and project.registry_access is RegistryAccess.enabled
    )
