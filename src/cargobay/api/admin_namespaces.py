"""/groups, /projects and their /members (lib/api/groups.rb, projects.rb, members.rb).

``:id`` is a numeric id or a URL-encoded full path (``acme%2Ftools``), as in GitLab.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import account_entities as entities
from cargobay.api.admin_params import Params, path_int, respond_page
from cargobay.api.pagination import base_url, parse_page
from cargobay.api.params import path_value, principal_of, registry_of
from cargobay.api.responses import json
from cargobay.auth.authenticate import unauthorized
from cargobay.domain.models import RegistryAccess, Visibility
from cargobay.services import groups as group_service
from cargobay.services import members
from cargobay.services import projects as project_service

V4 = "/api/v4"
Handler = Callable[[Request], Awaitable[Response]]
VISIBILITIES = tuple(v.name for v in Visibility)
REGISTRY_LEVELS = tuple(level.value for level in RegistryAccess)
# GitLab accepts more project orderings than we keep data for; those sort by creation.
PROJECT_ORDER = {
    "id": "id",
    "name": "name",
    "path": "path",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "last_activity_at": "updated_at",
    "similarity": "created_at",
    "star_count": "created_at",
    "repository_size": "created_at",
    "storage_size": "created_at",
    "packages_size": "created_at",
    "wiki_size": "created_at",
}


def _visibility(params: Params) -> Visibility | None:
    value = params.choice("visibility", VISIBILITIES)
    return Visibility[value] if value else None


# ---------------------------------------------------------------- groups


async def create_group(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)  # authenticate_non_get! comes before validation
    params = await Params.read(request)
    params.require("name", "path")
    name, path = params.string("name"), params.string("path")
    parent_id = params.integer("parent_id")
    visibility = _visibility(params)
    description = params.string("description")
    params.check()
    view = await group_service.create_group(
        registry_of(request),
        principal,
        name=name or "",
        path=path or "",
        parent_id=parent_id,
        visibility=visibility,
        description=description,
    )
    return json(entities.group_detail(view, [], base_url(request)), 201)


async def _list_groups(request: Request, parent: str | None) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    all_available = params.boolean("all_available")
    owned = params.boolean("owned")
    search = params.string("search")
    top_level_only = params.boolean("top_level_only")
    visibility = _visibility(params)
    order_by = params.choice("order_by", ("name", "path", "id", "similarity")) or "name"
    sort = params.choice("sort", ("asc", "desc")) or "asc"
    params.check()
    listing, views = await group_service.list_groups(
        registry_of(request),
        principal,
        parent_ref=parent,
        all_available=all_available,
        owned=bool(owned),
        search=search,
        top_level_only=bool(top_level_only),
        visibility=visibility,
        order_by="name" if order_by == "similarity" else order_by,
        descending=sort == "desc",
        offset=page.offset,
        limit=page.size,
    )
    base = base_url(request)
    return respond_page(request, [entities.group(v, base) for v in views], page, listing.total)


async def list_groups(request: Request) -> Response:
    return await _list_groups(request, None)


async def list_subgroups(request: Request) -> Response:
    return await _list_groups(request, path_value(request, "id"))


async def get_group(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    with_projects = params.boolean("with_projects")
    params.check()
    view, projects = await group_service.get_group(
        registry_of(request),
        principal,
        path_value(request, "id"),
        with_projects=with_projects is not False,
    )
    return json(entities.group_detail(view, projects, base_url(request)))


# ---------------------------------------------------------------- projects


def _registry_params(params: Params) -> tuple[RegistryAccess | None, bool | None]:
    packages_enabled = params.boolean("packages_enabled")
    level = params.choice("package_registry_access_level", REGISTRY_LEVELS)
    return (RegistryAccess(level) if level else None), packages_enabled


async def create_project(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    params = await Params.read(request)
    params.at_least_one_of("name", "path")
    name, path = params.string("name"), params.string("path")
    namespace_id = params.integer("namespace_id")
    visibility = _visibility(params)
    registry_access, packages_enabled = _registry_params(params)
    description = params.string("description")
    params.check()
    view = await project_service.create_project(
        registry_of(request),
        principal,
        name=name,
        path=path,
        namespace_id=namespace_id,
        visibility=visibility,
        registry_access=registry_access,
        packages_enabled=packages_enabled,
        description=description,
    )
    return json(entities.project(view, base_url(request)), 201)


async def list_projects(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    owned = params.boolean("owned")
    membership = params.boolean("membership")
    search = params.string("search")
    visibility = _visibility(params)
    order_by = params.choice("order_by", tuple(PROJECT_ORDER)) or "created_at"
    sort = params.choice("sort", ("asc", "desc")) or "desc"
    params.check()
    listing, views = await project_service.list_projects(
        registry_of(request),
        principal,
        owned=bool(owned),
        membership=bool(membership),
        search=search,
        visibility=visibility,
        order_by=PROJECT_ORDER[order_by],
        descending=sort == "desc",
        offset=page.offset,
        limit=page.size,
    )
    base = base_url(request)
    return respond_page(request, [entities.project(v, base) for v in views], page, listing.total)


async def get_project(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    view = await project_service.get_project(
        registry_of(request), principal, path_value(request, "id")
    )
    return json(entities.project(view, base_url(request)))


async def update_project(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    params = await Params.read(request)
    name = params.string("name")
    description = params.string("description")
    visibility = _visibility(params)
    registry_access, packages_enabled = _registry_params(params)
    params.check()
    view = await project_service.update_project(
        registry_of(request),
        principal,
        path_value(request, "id"),
        name=name,
        description=description,
        visibility=visibility,
        registry_access=registry_access,
        packages_enabled=packages_enabled,
    )
    return json(entities.project(view, base_url(request)))


# ---------------------------------------------------------------- members (both kinds)


def member_handlers(kind: str) -> dict[str, Handler]:
    async def list_members(request: Request, *, inherited: bool = False) -> Response:
        principal = await principal_of(request, generic=False)
        params = await Params.read(request)
        page = parse_page(request, params.errors)
        query = params.string("query")
        user_ids = params.integers("user_ids")
        params.check()
        listing = await members.list_members(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            search=query,
            user_ids=user_ids,
            inherited=inherited,
            offset=page.offset,
            limit=page.size,
        )
        base = base_url(request)
        items = [entities.member(r, base) for r in listing.rows]
        return respond_page(request, items, page, listing.total)

    async def list_all(request: Request) -> Response:
        return await list_members(request, inherited=True)

    async def get_member(request: Request, *, inherited: bool = False) -> Response:
        principal = await principal_of(request, generic=False)
        row = await members.get_member(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            path_int(request, "user_id"),
            inherited=inherited,
        )
        return json(entities.member(row, base_url(request)))

    async def get_any(request: Request) -> Response:
        return await get_member(request, inherited=True)

    async def add_member(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        if principal.user is None or principal.job is not None:
            raise unauthorized(generic=False)
        params = await Params.read(request)
        params.require("access_level")
        access_level = params.integer("access_level")
        if not (params.present("user_id") or params.present("username")):
            params.errors.append(
                "user_id, username are missing, exactly one parameter must be provided"
            )
        # An id (GitLab also takes a username here) or, failing that, ``username``.
        user_ref = params.string("user_id") or params.string("username") or ""
        expires_at = params.day("expires_at")
        params.check()
        assert access_level is not None
        row = await members.add_member(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            user_ref=user_ref,
            access_level=access_level,
            expires_at=expires_at,
        )
        return json(entities.member(row, base_url(request)), 201)

    async def update_member(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        if principal.user is None or principal.job is not None:
            raise unauthorized(generic=False)
        params = await Params.read(request)
        params.require("access_level")
        access_level = params.integer("access_level")
        expires_at = params.day("expires_at")
        params.check()
        assert access_level is not None
        row = await members.update_member(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            path_int(request, "user_id"),
            access_level=access_level,
            expires_at=expires_at,
            expires_given="expires_at" in params.values,
        )
        return json(entities.member(row, base_url(request)))

    async def remove_member(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        if principal.user is None or principal.job is not None:
            raise unauthorized(generic=False)
        await members.remove_member(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            path_int(request, "user_id"),
        )
        return Response(status_code=204)

    return {
        "list": list_members,
        "list_all": list_all,
        "get": get_member,
        "get_all": get_any,
        "add": add_member,
        "update": update_member,
        "remove": remove_member,
    }


def member_routes(kind: str) -> list[BaseRoute]:
    base = f"{V4}/{kind}s/{{id}}/members"
    handlers = member_handlers(kind)
    return [
        Route(base, handlers["list"], methods=["GET"]),
        Route(base, handlers["add"], methods=["POST"]),
        Route(f"{base}/all", handlers["list_all"], methods=["GET"]),
        Route(f"{base}/all/{{user_id:row_id}}", handlers["get_all"], methods=["GET"]),
        Route(f"{base}/{{user_id:row_id}}", handlers["get"], methods=["GET"]),
        Route(f"{base}/{{user_id:row_id}}", handlers["update"], methods=["PUT"]),
        Route(f"{base}/{{user_id:row_id}}", handlers["remove"], methods=["DELETE"]),
    ]


routes: list[BaseRoute] = [
    Route(f"{V4}/groups", list_groups, methods=["GET"]),
    Route(f"{V4}/groups", create_group, methods=["POST"]),
    Route(f"{V4}/groups/{{id}}", get_group, methods=["GET"]),
    Route(f"{V4}/groups/{{id}}/subgroups", list_subgroups, methods=["GET"]),
    *member_routes("group"),
    Route(f"{V4}/projects", list_projects, methods=["GET"]),
    Route(f"{V4}/projects", create_project, methods=["POST"]),
    Route(f"{V4}/projects/{{id}}", get_project, methods=["GET"]),
    Route(f"{V4}/projects/{{id}}", update_project, methods=["PUT"]),
    *member_routes("project"),
]
