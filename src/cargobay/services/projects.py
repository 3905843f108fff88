"""Projects: the one writer (``create_project_in``) and the management API's use cases,
with GitLab's rules (lib/api/projects.rb). Who sees which project: services/namespaces.py."""

from __future__ import annotations

from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain.models import (
    AccessLevel,
    Namespace,
    Project,
    RegistryAccess,
    User,
    Visibility,
    utcnow,
)
from cargobay.domain.names import is_valid_path
from cargobay.errors import forbidden, validation_error
from cargobay.services.accounts import Listing, acting_user
from cargobay.services.namespaces import (
    CREATE_PROJECT,
    NAME,
    PATH_RULE,
    PROJECT_NAME_RULE,
    ProjectView,
    Viewer,
    find_project,
    project_views,
    registry_level,
    slug,
    viewer_of,
    visible_projects,
)
from cargobay.services.registry import Registry
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection
from cargobay.storage.db.errors import IntegrityError


async def create_project_in(
    conn: Connection,
    namespace: Namespace | None,
    *,
    name: str,
    path: str,
    visibility: Visibility,
    registry_access: RegistryAccess,
    description: str,
    creator_id: int | None,
    errors: dict[str, list[str]] | None = None,
) -> int:
    """The one way a project is made (the API, the web interface, the CLI): GitLab's
    name and path rules, no more visible than its group, a name and path not taken in
    the namespace; 400 with the messages otherwise (``errors``: the caller's own, reported
    with them). Who may create it is the caller's to check."""
    errors = dict(errors or {})
    if namespace is None:
        errors["namespace"] = ["is not valid"]
    if not NAME.fullmatch(name):
        errors["name"] = [PROJECT_NAME_RULE]
    if not is_valid_path(path):
        errors["path"] = [PATH_RULE]
    level = visibility
    if namespace is not None and namespace.kind == "group" and level > namespace.visibility:
        errors["visibility_level"] = [
            f"{level.name} is not allowed in a {Visibility(namespace.visibility).name} group."
        ]
    full_path = f"{namespace.full_path}/{path}" if namespace is not None else path
    if namespace is not None and "namespace" not in errors:
        if "name" not in errors and await namespace_sql.project_name_taken(
            conn, namespace.id, name
        ):
            errors["name"] = ["has already been taken"]
        if "path" not in errors and await namespace_sql.path_taken(conn, full_path):
            errors["path"] = ["has already been taken"]
    if errors:
        raise validation_error(errors)
    assert namespace is not None
    now = utcnow()
    try:
        project_id = await namespace_sql.insert_project(
            conn,
            namespace_id=namespace.id,
            name=name,
            path=path,
            full_path=full_path,
            description=description,
            visibility=level,
            registry_access=registry_access,
            creator_id=creator_id,
            now=now,
        )
    except IntegrityError:
        raise validation_error({"path": ["has already been taken"]}) from None
    return project_id


async def create_project(
    registry: Registry,
    principal: Principal,
    *,
    name: str | None,
    path: str | None,
    namespace_id: int | None,
    visibility: Visibility | None,
    registry_access: RegistryAccess | None,
    packages_enabled: bool | None,
    description: str | None,
) -> ProjectView:
    me = acting_user(principal)
    name = name if name is not None else path
    path = path if path is not None else slug(name or "")
    assert name is not None
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        if namespace_id is None:
            me_row = await user_sql.find_account(conn, me.id)
            namespace_id = me_row.namespace_id if me_row is not None else None
        namespace = (
            await namespace_sql.find_namespace(conn, namespace_id)
            if namespace_id is not None
            else None
        )
        allowed = namespace is not None and _may_create_in(viewer, me, namespace)
        project_id = await create_project_in(
            conn,
            namespace,
            name=name,
            path=path,
            visibility=visibility if visibility is not None else Visibility.private,
            registry_access=registry_level(
                RegistryAccess.enabled, registry_access, packages_enabled
            ),
            description=description or "",
            creator_id=me.id,
            errors=None if allowed else {"namespace": ["is not valid"]},
        )
        now = utcnow()
        row = await namespace_sql.project_by_id(conn, project_id)
        if not viewer.admin and viewer.project_level(row) < AccessLevel.MAINTAINER:
            # A Developer who creates a project in a group maintains it (GitLab does this).
            await member_sql.set_membership(
                conn,
                user_id=me.id,
                project_id=project_id,
                access_level=AccessLevel.MAINTAINER,
                now=now,
            )
        return (await project_views(conn, [row]))[0]


def _may_create_in(viewer: Viewer, me: User, namespace: Namespace) -> bool:
    if viewer.admin:
        return True
    if namespace.kind == "user":
        return viewer.reach.namespaces.get(namespace.full_path, 0) >= AccessLevel.OWNER
    return viewer.sees_group(namespace) and viewer.group_level(namespace) >= CREATE_PROJECT


async def list_projects(
    registry: Registry,
    principal: Principal,
    *,
    owned: bool,
    membership: bool,
    search: str | None,
    visibility: Visibility | None,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[Listing[Project], list[ProjectView]]:
    async with registry.db.scan() as conn:
        viewer = await viewer_of(conn, principal)
        reach = viewer.reach
        if viewer.user is not None and (owned or membership):
            minimum = AccessLevel.OWNER if owned else AccessLevel.GUEST
            scope = namespace_sql.project_scope(
                everything=False,
                min_visibility=None,
                namespace_paths=[p for p, lvl in reach.namespaces.items() if lvl >= minimum],
                project_ids=[i for i, (_, lvl) in reach.projects.items() if lvl >= minimum],
            )
        else:
            scope = visible_projects(viewer)
        rows, total = await namespace_sql.projects_page(
            conn,
            scope,
            search=search,
            visibility=visibility,
            order_by=order_by,
            descending=descending,
            offset=offset,
            limit=limit,
        )
        return Listing(rows, total), await project_views(conn, rows)


async def get_project(registry: Registry, principal: Principal, ref: str) -> ProjectView:
    async with registry.db.read() as conn:
        viewer = await viewer_of(conn, principal)
        row = await find_project(conn, viewer, ref)
        return (await project_views(conn, [row]))[0]


async def update_project(
    registry: Registry,
    principal: Principal,
    ref: str,
    *,
    name: str | None,
    description: str | None,
    visibility: Visibility | None,
    registry_access: RegistryAccess | None,
    packages_enabled: bool | None,
) -> ProjectView:
    acting_user(principal)
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        row = await find_project(conn, viewer, ref)
        if viewer.project_level(row) < AccessLevel.MAINTAINER:
            raise forbidden()
        namespace = await namespace_sql.find_namespace(conn, row.namespace_id)
        assert namespace is not None
        errors: dict[str, list[str]] = {}
        if name is not None and not NAME.fullmatch(name):
            errors["name"] = [PROJECT_NAME_RULE]
        elif (
            name is not None
            and name.lower() != row.name.lower()
            and await namespace_sql.project_name_taken(conn, row.namespace_id, name)
        ):
            errors["name"] = ["has already been taken"]
        if (
            visibility is not None
            and namespace.kind == "group"
            and visibility > namespace.visibility
        ):
            errors["visibility_level"] = [
                f"{visibility.name} is not allowed in a "
                f"{Visibility(namespace.visibility).name} group."
            ]
        if errors:
            raise validation_error(errors)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if description is not None:
            values["description"] = description
        if visibility is not None:
            values["visibility"] = visibility
        current = row.registry_access
        access = registry_level(current, registry_access, packages_enabled)
        if access is not current:
            values["package_registry_access_level"] = access
        if values:
            await namespace_sql.update_project(conn, row.id, updated_at=utcnow(), **values)
        row = await namespace_sql.project_by_id(conn, row.id)
        return (await project_views(conn, [row]))[0]
