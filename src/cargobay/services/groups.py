"""Groups: the one writer (``create_group_in``) and the management API's use cases, with
GitLab's rules (lib/api/groups.rb). Who sees which group: services/namespaces.py."""

from __future__ import annotations

from cargobay.auth.principal import Principal
from cargobay.domain.models import AccessLevel, Namespace, Visibility, utcnow
from cargobay.domain.names import is_valid_path
from cargobay.errors import Invalid, forbidden
from cargobay.services.accounts import Listing, acting_user
from cargobay.services.namespaces import (
    CREATE_SUBGROUP,
    GROUP_NAME_RULE,
    NAME,
    PATH_RULE,
    GroupView,
    ProjectView,
    find_group,
    group_views,
    project_views,
    ruby_hash,
    viewer_of,
    visible_projects,
)
from cargobay.services.registry import Registry
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db.database import Connection
from cargobay.storage.db.errors import IntegrityError


async def create_group_in(
    conn: Connection,
    *,
    name: str,
    path: str,
    parent: Namespace | None,
    visibility: Visibility,
    description: str,
    owner_id: int | None,
) -> int:
    """The one way a group is made (the API, the web interface, the CLI): GitLab's name
    and path rules, a subgroup no more visible than its parent, a path no group, user or
    project holds; 400 "Failed to save group {...}" otherwise. ``owner_id`` becomes its
    Owner. Who may create it is the caller's to check."""
    errors: dict[str, list[str]] = {}
    if not NAME.fullmatch(name):
        errors["name"] = [GROUP_NAME_RULE]
    if not is_valid_path(path) or path.endswith("."):
        errors["path"] = [PATH_RULE]
    level = visibility
    if parent is not None and level > parent.visibility:
        errors["visibility_level"] = [
            f"{level.name} is not allowed since the parent group has a "
            f"{Visibility(parent.visibility).name} visibility."
        ]
    full_path = f"{parent.full_path}/{path}" if parent is not None else path
    if "path" not in errors and await namespace_sql.path_taken(conn, full_path):
        errors["path"] = ["has already been taken"]
    if errors:
        raise Invalid({"message": f"Failed to save group {ruby_hash(errors)}"})
    now = utcnow()
    try:
        group_id = await namespace_sql.insert_namespace(
            conn,
            kind="group",
            name=name,
            path=path,
            full_path=full_path,
            parent_id=parent.id if parent is not None else None,
            visibility=level,
            description=description,
            now=now,
        )
    except IntegrityError:
        message = ruby_hash({"path": ["has already been taken"]})
        raise Invalid({"message": f"Failed to save group {message}"}) from None
    if owner_id is not None:
        await member_sql.set_membership(
            conn,
            user_id=owner_id,
            namespace_id=group_id,
            access_level=AccessLevel.OWNER,
            now=now,
        )
    return group_id


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
        owner_id = me.id if parent is None else None
        group_id = await create_group_in(
            conn,
            name=name,
            path=path,
            parent=parent,
            visibility=visibility if visibility is not None else Visibility.private,
            description=description or "",
            owner_id=owner_id,
        )
        row = await namespace_sql.find_namespace(conn, group_id)
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
) -> tuple[Listing[Namespace], list[GroupView]]:
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
            scope = namespace_sql.group_scope(
                everything=False, min_visibility=None, tree_paths=owner_paths
            )
        elif viewer.user is None:
            scope = namespace_sql.group_scope(everything=False, min_visibility=Visibility.public)
        else:
            wide = all_available if all_available is not None else viewer.admin
            scope = namespace_sql.group_scope(
                everything=viewer.admin and wide,
                min_visibility=viewer.min_visibility if wide else None,
                exact_paths=authorized,
                tree_paths=viewer.reach.namespaces,
            )
        rows, total = await namespace_sql.groups_page(
            conn,
            scope,
            search=search,
            parent_id=parent_id,
            top_level_only=top_level_only,
            visibility=visibility,
            order_by=order_by,
            descending=descending,
            offset=offset,
            limit=limit,
        )
        return Listing(rows, total), await group_views(conn, rows)


async def get_group(
    registry: Registry, principal: Principal, ref: str, *, with_projects: bool
) -> tuple[GroupView, list[ProjectView]]:
    async with registry.db.read() as conn:
        viewer = await viewer_of(conn, principal)
        group = await find_group(conn, viewer, ref)
        views: list[ProjectView] = []
        if with_projects:
            rows = await namespace_sql.projects_in_scope(
                conn, visible_projects(viewer), namespace_id=group.id, descending=True
            )
            views = await project_views(conn, rows)
        return (await group_views(conn, [group]))[0], views
