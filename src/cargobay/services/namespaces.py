"""Who sees which groups and projects, and the views the entities are rendered from,
with GitLab's visibility and role rules (lib/api/groups.rb, projects.rb). Creating and
changing them: services/groups.py and services/projects.py; members: services/members.py.

Who sees what: administrators everything; anyone public groups and projects; signed-in
users also internal ones and everything they are a member of, directly, through a group
above, or (for groups) through a membership somewhere below. Whoever cannot see a group or
project gets 404 "Group Not Found" / "Project Not Found", never 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain.models import (
    AccessLevel,
    Account,
    Namespace,
    Project,
    RegistryAccess,
    User,
    Visibility,
    utcnow,
)
from cargobay.domain.roles import Memberships, path_and_ancestors
from cargobay.errors import not_found
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection

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
    reach: Memberships = field(default_factory=Memberships)

    @property
    def min_visibility(self) -> Visibility:
        return Visibility.internal if self.user is not None else Visibility.public

    def group_level(self, group: Namespace) -> int:
        return AccessLevel.OWNER if self.admin else self.reach.group_level(group.full_path)

    def sees_group(self, group: Namespace) -> bool:
        return (
            self.admin
            or group.visibility >= self.min_visibility
            or self.reach.group_level(group.full_path) > 0
            or self.reach.inside(group.full_path)
        )

    def project_level(self, project: Project) -> int:
        if self.admin:
            return AccessLevel.OWNER
        return self.reach.project_level(project.id, project.full_path)

    def sees_project(self, project: Project) -> bool:
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
        await member_sql.user_memberships(conn, principal.user.id, utcnow().date()),
    )


async def find_group(conn: Connection, viewer: Viewer, ref: str) -> Namespace:
    row = await namespace_sql.find_namespace(conn, ref)
    if row is None or row.kind != "group" or not viewer.sees_group(row):
        raise not_found("Group Not Found")
    return row


async def find_project(conn: Connection, viewer: Viewer, ref: str) -> Project:
    project = await namespace_sql.find_project(conn, ref)
    if project is None or not viewer.sees_project(project):
        raise not_found("Project Not Found")
    return project


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
    row: Namespace
    full_name: str


@dataclass(frozen=True, slots=True)
class ProjectView:
    row: Project
    namespace: Namespace
    name_with_namespace: str
    owner: Account | None  # the user, when the project is in a personal namespace


async def _names(conn: Connection, full_paths: list[str]) -> dict[str, Namespace]:
    wanted: set[str] = set()
    for full_path in full_paths:
        wanted.update(path_and_ancestors(full_path))
    return await namespace_sql.namespaces_by_path(conn, wanted)


def _full_name(full_path: str, by_path: dict[str, Namespace], last: str | None = None) -> str:
    parts = full_path.split("/")
    names = []
    for i in range(len(parts)):
        row = by_path.get("/".join(parts[: i + 1]))
        names.append(row.name if row is not None else parts[i])
    if last is not None:
        names[-1] = last
    return " / ".join(names)


async def group_views(conn: Connection, rows: list[Namespace]) -> list[GroupView]:
    by_path = await _names(conn, [r.full_path for r in rows])
    return [GroupView(r, _full_name(r.full_path, by_path)) for r in rows]


async def project_views(conn: Connection, rows: list[Project]) -> list[ProjectView]:
    by_path = await _names(conn, [r.full_path.rpartition("/")[0] for r in rows])
    owners = await user_sql.accounts_owning_namespaces(
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


def visible_groups(viewer: Viewer) -> Any:
    """The groups the viewer may see, as a scope for the group finders."""
    return namespace_sql.group_scope(
        everything=viewer.admin,
        min_visibility=viewer.min_visibility,
        exact_paths=viewer.reach.group_paths(),
        tree_paths=viewer.reach.namespaces,
    )


def visible_projects(viewer: Viewer) -> Any:
    """The projects the viewer may see, as a scope for the project finders."""
    return namespace_sql.project_scope(
        everything=viewer.admin,
        min_visibility=viewer.min_visibility,
        namespace_paths=viewer.reach.namespaces,
        project_ids=viewer.reach.projects,
    )


def registry_level(
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
