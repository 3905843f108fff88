"""What the web interface shows around the package lists: a group with its subgroups and
projects, a project with the caller's abilities, package counts. Visibility follows the
same rules as the management API (services/namespaces.py) and the Packages API
(services/catalog.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain.integers import ascii_digits
from cargobay.domain.models import LIVE, Account, Namespace, Package
from cargobay.errors import forbidden, not_found
from cargobay.services import namespaces
from cargobay.services.access import ProjectAccess
from cargobay.services.catalog import api_project
from cargobay.services.namespaces import GroupView, ProjectView
from cargobay.services.registry import Registry
from cargobay.storage.db import listing
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import packages as package_sql
from cargobay.storage.db import users as user_sql


@dataclass(frozen=True, slots=True)
class GroupOverview:
    group: GroupView
    level: int  # the caller's role in the group (Owner for administrators)
    subgroups: list[GroupView]
    projects: list[ProjectView]
    package_counts: dict[int, int]


async def group_overview(registry: Registry, principal: Principal, ref: str) -> GroupOverview:
    """A group the caller may see, its visible direct subgroups and projects; 404
    ``Group Not Found`` otherwise."""
    async with registry.db.scan() as conn:
        viewer = await namespaces.viewer_of(conn, principal)
        group = await namespaces.find_group(conn, viewer, ref)
        subgroup_rows = await namespace_sql.groups(
            conn, namespaces.visible_groups(viewer), parent_id=group.id
        )
        project_rows = await namespace_sql.projects_in_scope(
            conn,
            namespaces.visible_projects(viewer),
            namespace_id=group.id,
            order_by="name",
            descending=False,
        )
        counts = await package_sql.package_counts(conn, [p.id for p in project_rows])
        return GroupOverview(
            group=(await namespaces.group_views(conn, [group]))[0],
            level=viewer.group_level(group),
            subgroups=await namespaces.group_views(conn, subgroup_rows),
            projects=await namespaces.project_views(conn, project_rows),
            package_counts=counts,
        )


async def project(registry: Registry, principal: Principal, ref: str) -> ProjectAccess:
    """The project and what the caller may do in its package registry; 404 ``Project
    Not Found`` when it does not exist or the caller may not see it."""
    async with registry.db.read() as conn:
        return await api_project(conn, registry, principal, ref)


@dataclass(frozen=True, slots=True)
class PackageOverview:
    access: ProjectAccess
    package: Package
    pipeline: Any  # the newest pipeline that built it, or None
    pipelines: list[Any]  # the newest pipelines, at most the limit asked for
    versions: list[Package]  # the newest other versions, at most the limit asked for
    versions_total: int


async def package_overview(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    *,
    versions: int,
    pipelines: int = 0,
) -> PackageOverview:
    """A package that is not being deleted, hidden and failed ones included (which the
    Packages API answers 404, spec §10: their owners still need to see and delete them),
    with its newest ``versions`` other versions and newest ``pipelines`` pipelines:
    unlike the API's entity, not all of them, which a nightly build may count by
    thousands."""
    async with registry.db.read() as conn:
        access = await api_project(conn, registry, principal, ref)
        if not access.can.read_package:
            raise forbidden()
        package = await package_sql.displayable_package(conn, access.project.id, package_id, LIVE)
        if package is None:
            raise not_found("Package not found")
        last = await listing.last_pipelines(conn, [package.id])
        recent = (
            await listing.package_pipelines(conn, package.id, before=None, limit=pipelines)
            if pipelines
            else []
        )
        rows, total = await package_sql.recent_versions(conn, package, versions)
        return PackageOverview(access, package, last.get(package.id), recent, rows, total)


async def package_counts(registry: Registry, project_ids: Sequence[int]) -> dict[int, int]:
    async with registry.db.read() as conn:
        return await package_sql.package_counts(conn, project_ids)


async def group_visible(registry: Registry, principal: Principal, path: str) -> bool:
    """Whether ``path`` names a group the caller may see (where a bare ``/<path>`` URL
    should lead)."""
    async with registry.db.read() as conn:
        viewer = await namespaces.viewer_of(conn, principal)
        row = await namespace_sql.find_namespace(conn, path) if not ascii_digits(path) else None
        return row is not None and row.kind == "group" and viewer.sees_group(row)


@dataclass(frozen=True, slots=True)
class UserOverview:
    namespace: Namespace
    user: Account
    projects: list[ProjectView]
    package_counts: dict[int, int]


async def user_overview(registry: Registry, principal: Principal, path: str) -> UserOverview:
    """A user's page (``/<username>``): who they are and the projects of their personal
    namespace the caller may see; 404 ``User Not Found`` for no such user."""
    async with registry.db.scan() as conn:
        viewer = await namespaces.viewer_of(conn, principal)
        row = await namespace_sql.find_namespace(conn, path) if not ascii_digits(path) else None
        owners = await user_sql.accounts_owning_namespaces(conn, [row.id]) if row else {}
        if row is None or row.kind != "user" or row.id not in owners:
            raise not_found("User Not Found")
        project_rows = await namespace_sql.projects_in_scope(
            conn,
            namespaces.visible_projects(viewer),
            namespace_id=row.id,
            order_by="name",
            descending=False,
        )
        return UserOverview(
            namespace=row,
            user=owners[row.id],
            projects=await namespaces.project_views(conn, project_rows),
            package_counts=await package_sql.package_counts(conn, [p.id for p in project_rows]),
        )
