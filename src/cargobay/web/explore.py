"""Explore: the projects and groups a visitor may see; a group's overview; where a bare
``/<path>`` leads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain.integers import ID_MAX, ascii_digits, ascii_integer
from cargobay.errors import NotFound, bad_params, not_found
from cargobay.services import browse
from cargobay.services import groups as group_service
from cargobay.services import projects as project_service
from cargobay.web.page import redirect, registry_of, render, visitor

PER_PAGE = 20


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1") or "1"
    page = ascii_integer(raw) if ascii_digits(raw) else None
    if page is None or not 1 <= page <= ID_MAX:
        raise bad_params("page must be a whole number of at least 1")
    return page


async def home(request: Request) -> Response:
    return redirect("/explore")


async def to_admin_users(request: Request) -> Response:
    return redirect("/admin/users")


async def projects(request: Request) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    search = request.query_params.get("search", "").strip()
    mine = request.query_params.get("scope") == "mine" and who.signed_in
    page = _page(request)
    listing, views = await project_service.list_projects(
        registry,
        who.principal,
        owned=False,
        membership=mine,
        search=search or None,
        visibility=None,
        order_by="full_path",
        descending=False,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    counts = await browse.package_counts(registry, [v.row.id for v in views])
    return render(
        request,
        "explore.html",
        tab="mine" if mine else "projects",
        search=search,
        projects=views,
        groups=[],
        counts=counts,
        page=page,
        total=listing.total,
        last_page=max(1, -(-listing.total // PER_PAGE)),
    )


async def groups(request: Request) -> Response:
    who = await visitor(request)
    search = request.query_params.get("search", "").strip()
    page = _page(request)
    listing, views = await group_service.list_groups(
        registry_of(request),
        who.principal,
        all_available=True,
        owned=False,
        search=search or None,
        top_level_only=False,
        visibility=None,
        order_by="full_path",
        descending=False,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    return render(
        request,
        "explore.html",
        tab="groups",
        search=search,
        projects=[],
        groups=views,
        counts={},
        page=page,
        total=listing.total,
        last_page=max(1, -(-listing.total // PER_PAGE)),
    )


async def group_page(request: Request) -> Response:
    who = await visitor(request)
    ref = request.path_params["group"]
    try:
        overview = await browse.group_overview(registry_of(request), who.principal, ref)
    except NotFound:
        if await _user_namespace(request, ref):
            return redirect(f"/{ref}")  # a personal namespace: its user's page
        raise
    return render(
        request,
        "group.html",
        group=overview.group,
        level=overview.level,
        tab="overview",
        group_settings=True,
        subgroups=overview.subgroups,
        projects=overview.projects,
        counts=overview.package_counts,
    )


async def namespace_or_project(request: Request) -> Response:
    """``/<full path>``: a project's package registry or a group's page."""
    who = await visitor(request)
    registry = registry_of(request)
    path = request.path_params["path"].strip("/")
    if not path:
        return redirect("/explore")
    try:
        access = await browse.project(registry, who.principal, path)
    except NotFound:
        if await browse.group_visible(registry, who.principal, path):
            return redirect(f"/groups/{path}")
        if "/" not in path:  # a user's page: /<username>
            try:
                overview = await browse.user_overview(registry, who.principal, path)
            except NotFound:
                pass
            else:
                return _user_page(request, overview)
        raise not_found("There is no project, group or user at this address") from None
    return redirect(f"/{access.project.full_path}/-/packages")


async def _user_namespace(request: Request, path: str) -> bool:
    who = await visitor(request)
    try:
        await browse.user_overview(registry_of(request), who.principal, path)
    except NotFound:
        return False
    return True


def _user_page(request: Request, overview: browse.UserOverview) -> Response:
    return render(
        request,
        "user.html",
        person=overview.user,
        namespace=overview.namespace,
        projects=overview.projects,
        counts=overview.package_counts,
    )
