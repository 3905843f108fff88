"""Groups and projects through the management API, with GitLab's visibility and role
rules (lib/api/groups.rb, projects.rb). Members: services/members.py.

Who sees what: administrators everything; anyone public groups and projects; signed-in
users also internal ones and everything they are a member of, directly, through a group
above, or (for groups) through a membership somewhere below. Whoever cannot see a group or
project gets 404 "Group Not Found" / "Project Not Found", never 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from cargobay.auth.principal import Principal
from cargobay.domain.models import AccessLevel, RegistryAccess, User, Visibility, utcnow
from cargobay.domain.names import is_valid_path
from cargobay.errors import Invalid, forbidden, not_found
from cargobay.services.accounts import Listing, acting_user, validation_error
from cargobay.services.registry import Registry
from cargobay.storage.db import accounts as sql
from cargobay.storage.db import repository as repo
from cargobay.storage.db.database import Connection
from cargobay.storage.db.tables import namespaces, projects

# Gitlab::Regex.group_name_regex / project_name_regex, approximately (emoji included).
NAME = re.compile(r"[\w\u00a9-\U0001f9ff][\w\u00a9-\U0001f9ff+.\-() ]*")
PATH_RULE = (
    "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in "
    "'.git' or end in '.atom'"
)
GROUP_NAME_RULE = (
    "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. It must "
    "start with letter, digit, emoji or '_'."
)
PROJECT_NAME_RULE = (
    "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must "
    "start with a letter, digit, emoji, or '_'."
)
# Default roles GitLab asks for: subgroup_creation_level "maintainer",
# project_creation_level "developer"; members of a group are managed by its owners.
CREATE_SUBGROUP = AccessLevel.MAINTAINER
CREATE_PROJECT = AccessLevel.DEVELOPER


# ---------------------------------------------------------------- who is looking


@dataclass(frozen=True, slots=True)
class Viewer:
    user: User | None = None
    admin: bool = False
    reach: sql.Reach = field(default_factory=sql.Reach)

    @property
    def min_visibility(self) -> Visibility:
        return Visibility.internal if self.user is not None else Visibility.public

    def group_level(self, group: Row[Any]) -> int:
        return AccessLevel.OWNER if self.admin else self.reach.group_level(group.full_path)

    def sees_group(self, group: Row[Any]) -> bool:
        return (
            self.admin
            or group.visibility >= self.min_visibility
            or self.reach.group_level(group.full_path) > 0
            or self.reach.inside(group.full_path)
        )

    def project_level(self, project: Row[Any]) -> int:
        if self.admin:
            return AccessLevel.OWNER
        return self.reach.project_level(project.id, project.full_path)

    def sees_project(self, project: Row[Any]) -> bool:
        return (
            self.admin
            or project.visibility >= self.min_visibility
            or self.project_level(project) > 0
        )


async def viewer_of(conn: Connection, principal: Principal) -> Viewer:
    """A CI job token counts as anonymous here: GitLab takes job tokens only on routes
    that allow them, and none of the management routes do."""
    if principal.user is None or principal.job is not None:
        return Viewer()
    return Viewer(
        principal.user,
        principal.is_admin,
        await sql.reach(conn, principal.user.id, utcnow().date()),
    )


async def find_group(conn: Connection, viewer: Viewer, ref: str) -> Row[Any]:
    row = await repo.find_namespace(conn, ref)
    if row is None or row.kind != "group" or not viewer.sees_group(row):
        raise not_found("Group Not Found")
    return row


async def find_project(conn: Connection, viewer: Viewer, ref: str) -> Row[Any]:
    project = await repo.find_project(conn, ref)
    if project is None:
        raise not_found("Project Not Found")
    row = await sql.project_row(conn, project.id)
    if not viewer.sees_project(row):
        raise not_found("Project Not Found")
    return row


def ruby_hash(errors: dict[str, list[str]]) -> str:
    """``errors.messages`` as Ruby prints it inside "Failed to save group ..."."""
    parts = ", ".join(
        f":{key}=>[{', '.join(_ruby_string(m) for m in messages)}]"
        for key, messages in errors.items()
    )
    return "{" + parts + "}"


def _ruby_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def slug(name: str) -> str:
    """Rails' ``parameterize``: the path GitLab derives from a name."""
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-") or "project"


# ---------------------------------------------------------------- views for the entities


@dataclass(frozen=True, slots=True)
class GroupView:
    row: Row[Any]
    full_name: str


@dataclass(frozen=True, slots=True)
class ProjectView:
    row: Row[Any]
    namespace: Row[Any]
    name_with_namespace: str
    owner: Row[Any] | None  # the user, when the project is in a personal namespace


async def _names(conn: Connection, full_paths: list[str]) -> dict[str, Row[Any]]:
    wanted: set[str] = set()
    for full_path in full_paths:
        parts = full_path.split("/")
        wanted.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return await sql.namespaces_by_path(conn, wanted)


def _full_name(full_path: str, by_path: dict[str, Row[Any]], last: str | None = None) -> str:
    parts = full_path.split("/")
    names = []
    for i in range(len(parts)):
        row = by_path.get("/".join(parts[: i + 1]))
        names.append(row.name if row is not None else parts[i])
    if last is not None:
        names[-1] = last
    return " / ".join(names)


async def group_views(conn: Connection, rows: list[Row[Any]]) -> list[GroupView]:
    by_path = await _names(conn, [r.full_path for r in rows])
    return [GroupView(r, _full_name(r.full_path, by_path)) for r in rows]


async def project_views(conn: Connection, rows: list[Row[Any]]) -> list[ProjectView]:
    by_path = await _names(conn, [r.full_path.rpartition("/")[0] for r in rows])
    owners = await sql.owners_of_user_namespaces(
        conn, [by_path[p].id for p in by_path if by_path[p].kind == "user"]
    )
    views = []
    for row in rows:
        namespace = by_path[row.full_path.rpartition("/")[0]]
        views.append(
            ProjectView(
                row,
                namespace,
                _full_name(row.full_path, by_path, last=row.name),
                owners.get(namespace.id) if namespace.kind == "user" else None,
            )
        )
    return views


# ---------------------------------------------------------------- groups


async def create_group(
    registry: Registry,
    principal: Principal,
    *,
    name: str,
    path: str,
    parent_id: int | None,
    visibility: Visibility | None,
    description: str | None,
) -> GroupView:
    me = acting_user(principal)
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        parent = None
        if parent_id is not None:
            parent = await find_group(conn, viewer, str(parent_id))
            if viewer.group_level(parent) < CREATE_SUBGROUP:
                raise forbidden()
        errors: dict[str, list[str]] = {}
        if not NAME.fullmatch(name):
            errors["name"] = [GROUP_NAME_RULE]
        if not is_valid_path(path) or path.endswith("."):
            errors["path"] = [PATH_RULE]
        level = visibility if visibility is not None else Visibility.private
        if parent is not None and level > parent.visibility:
            errors["visibility_level"] = [
                f"{level.name} is not allowed since the parent group has a "
                f"{Visibility(parent.visibility).name} visibility."
            ]
        full_path = f"{parent.full_path}/{path}" if parent is not None else path
        if "path" not in errors and await repo.path_taken(conn, full_path):
            errors["path"] = ["has already been taken"]
        if errors:
            raise Invalid({"message": f"Failed to save group {ruby_hash(errors)}"})
        now = utcnow()
        try:
            group_id = await repo.insert_row(
                conn,
                namespaces,
                kind="group",
                name=name,
                path=path,
                full_path=full_path,
                parent_id=parent.id if parent is not None else None,
                visibility=level,
                description=description or "",
                created_at=now,
                updated_at=now,
            )
        except IntegrityError:
            message = ruby_hash({"path": ["has already been taken"]})
            raise Invalid({"message": f"Failed to save group {message}"}) from None
        if parent is None:
            # Groups::CreateService makes the creator the owner of a new top-level group.
            await repo.set_membership(
                conn, user_id=me.id, namespace_id=group_id, access_level=AccessLevel.OWNER, now=now
            )
        row = await sql.namespace_by_id(conn, group_id)
        assert row is not None
        return (await group_views(conn, [row]))[0]


async def list_groups(
    registry: Registry,
    principal: Principal,
    *,
    parent_ref: str | None = None,
    all_available: bool | None,
    owned: bool,
    search: str | None,
    top_level_only: bool,
    visibility: Visibility | None,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[Listing, list[GroupView]]:
    """GroupsFinder: administrators see all groups, anonymous callers public ones, users
    the groups they belong to (plus every group they may see with ``all_available``).
    With ``parent_ref``: the parent's direct subgroups the caller may see."""
    async with registry.db.scan() as conn:
        viewer = await viewer_of(conn, principal)
        parent_id = None
        if parent_ref is not None:
            parent_id = (await find_group(conn, viewer, parent_ref)).id
            all_available = True  # the visible children, not only the caller's own
        authorized = viewer.reach.group_paths()
        if owned:
            owner_paths = [p for p, lvl in viewer.reach.namespaces.items() if lvl >= 50]
            scope = sql.group_scope(everything=False, min_visibility=None, tree_paths=owner_paths)
        elif viewer.user is None:
            scope = sql.group_scope(everything=False, min_visibility=Visibility.public)
        else:
            wide = all_available if all_available is not None else viewer.admin
            scope = sql.group_scope(
                everything=viewer.admin and wide,
                min_visibility=viewer.min_visibility if wide else None,
                exact_paths=authorized,
                tree_paths=viewer.reach.namespaces,
            )
        query = sql.groups_query(
            scope,
            search=search,
            parent_id=parent_id,
            top_level_only=top_level_only,
            visibility=visibility,
            order_by=order_by,
            descending=descending,
        )
        rows, total = await sql.page_of(conn, query, offset, limit)
        return Listing(rows, total), await group_views(conn, rows)


async def get_group(
    registry: Registry, principal: Principal, ref: str, *, with_projects: bool
) -> tuple[GroupView, list[ProjectView]]:
    async with registry.db.read() as conn:
        viewer = await viewer_of(conn, principal)
        group = await find_group(conn, viewer, ref)
        views: list[ProjectView] = []
        if with_projects:
            rows = (
                await conn.execute(
                    sql.projects_query(
                        _project_scope(viewer), namespace_id=group.id, descending=True
                    )
                )
            ).all()
            views = await project_views(conn, list(rows))
        return (await group_views(conn, [group]))[0], views


def _project_scope(viewer: Viewer) -> Any:
    return sql.project_scope(
        everything=viewer.admin,
        min_visibility=viewer.min_visibility,
        namespace_paths=viewer.reach.namespaces,
        project_ids=viewer.reach.projects,
    )


# ---------------------------------------------------------------- projects


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
            me_row = await sql.user_row(conn, me.id)
            namespace_id = me_row.namespace_id if me_row is not None else None
        namespace = (
            await sql.namespace_by_id(conn, namespace_id) if namespace_id is not None else None
        )
        errors: dict[str, list[str]] = {}
        if namespace is None or not _may_create_in(viewer, me, namespace):
            errors["namespace"] = ["is not valid"]
        if not NAME.fullmatch(name):
            errors["name"] = [PROJECT_NAME_RULE]
        if not is_valid_path(path):
            errors["path"] = [PATH_RULE]
        level = visibility if visibility is not None else Visibility.private
        if namespace is not None and namespace.kind == "group" and level > namespace.visibility:
            errors["visibility_level"] = [
                f"{level.name} is not allowed in a {Visibility(namespace.visibility).name} group."
            ]
        full_path = f"{namespace.full_path}/{path}" if namespace is not None else path
        if namespace is not None and "namespace" not in errors:
            if "name" not in errors and await _name_taken(conn, namespace.id, name):
                errors["name"] = ["has already been taken"]
            if "path" not in errors and await repo.path_taken(conn, full_path):
                errors["path"] = ["has already been taken"]
        if errors:
            raise validation_error(errors)
        assert namespace is not None
        access = _registry_level(RegistryAccess.enabled, registry_access, packages_enabled)
        now = utcnow()
        try:
            project_id = await repo.insert_row(
                conn,
                projects,
                namespace_id=namespace.id,
                name=name,
                path=path,
                full_path=full_path,
                description=description or "",
                visibility=level,
                package_registry_access_level=access,
                creator_id=me.id,
                created_at=now,
                updated_at=now,
            )
        except IntegrityError:
            raise validation_error({"path": ["has already been taken"]}) from None
        row = await sql.project_row(conn, project_id)
        if not viewer.admin and viewer.project_level(row) < AccessLevel.MAINTAINER:
            # A Developer who creates a project in a group maintains it (GitLab does this).
            await repo.set_membership(
                conn,
                user_id=me.id,
                project_id=project_id,
                access_level=AccessLevel.MAINTAINER,
                now=now,
            )
        return (await project_views(conn, [row]))[0]


def _may_create_in(viewer: Viewer, me: User, namespace: Row[Any]) -> bool:
    if viewer.admin:
        return True
    if namespace.kind == "user":
        return viewer.reach.namespaces.get(namespace.full_path, 0) >= AccessLevel.OWNER
    return viewer.sees_group(namespace) and viewer.group_level(namespace) >= CREATE_PROJECT


async def _name_taken(conn: Connection, namespace_id: int, name: str) -> bool:
    """Project names are unique within a namespace, as paths are."""
    query = sql.projects_query(projects.c.namespace_id == namespace_id)
    return any(r.name.lower() == name.lower() for r in (await conn.execute(query)).all())


def _registry_level(
    current: RegistryAccess, level: RegistryAccess | None, packages_enabled: bool | None
) -> RegistryAccess:
    """``package_registry_access_level`` wins; ``packages_enabled`` is its old switch
    (false = disabled, true = enabled unless already on)."""
    if level is not None:
        return level
    if packages_enabled is False:
        return RegistryAccess.disabled
    if packages_enabled is True and current is RegistryAccess.disabled:
        return RegistryAccess.enabled
    return current


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
) -> tuple[Listing, list[ProjectView]]:
    async with registry.db.scan() as conn:
        viewer = await viewer_of(conn, principal)
        reach = viewer.reach
        if viewer.user is not None and (owned or membership):
            minimum = AccessLevel.OWNER if owned else AccessLevel.GUEST
            scope = sql.project_scope(
                everything=False,
                min_visibility=None,
                namespace_paths=[p for p, lvl in reach.namespaces.items() if lvl >= minimum],
                project_ids=[i for i, (_, lvl) in reach.projects.items() if lvl >= minimum],
            )
        else:
            scope = _project_scope(viewer)
        query = sql.projects_query(
            scope, search=search, visibility=visibility, order_by=order_by, descending=descending
        )
        rows, total = await sql.page_of(conn, query, offset, limit)
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
        namespace = await sql.namespace_by_id(conn, row.namespace_id)
        assert namespace is not None
        errors: dict[str, list[str]] = {}
        if name is not None and not NAME.fullmatch(name):
            errors["name"] = [PROJECT_NAME_RULE]
        elif (
            name is not None
            and name.lower() != row.name.lower()
            and await _name_taken(conn, row.namespace_id, name)
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
        current = RegistryAccess(row.package_registry_access_level)
        access = _registry_level(current, registry_access, packages_enabled)
        if access is not current:
            values["package_registry_access_level"] = access
        if values:
            await sql.update_project(conn, row.id, updated_at=utcnow(), **values)
        row = await sql.project_row(conn, row.id)
        return (await project_views(conn, [row]))[0]
