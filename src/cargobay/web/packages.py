"""Package registry pages: a project's and a group's package lists, a package with its
files, commands and pipelines, deleting a package or a file, downloading a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.delivery import send_file
from cargobay.api.generic import archive_response
from cargobay.domain.archives import FILE_KEYWORDS
from cargobay.domain.integers import ID_MAX, ascii_digits, ascii_integer
from cargobay.domain.models import LIVE, PackageStatus, PackageType
from cargobay.errors import Forbidden, bad_params, forbidden, not_found
from cargobay.services import browse, catalog
from cargobay.services.access import ProjectAccess
from cargobay.storage.db.listing import PackageFilter
from cargobay.web import commands
from cargobay.web.account import require_write
from cargobay.web.page import (
    Visitor,
    client_address,
    describe,
    flash,
    path_id,
    redirect,
    registry_of,
    render,
    visitor,
)

PER_PAGE = 20
MAX_PER_PAGE = 100
FILES_PER_PAGE = 100
VERSIONS_SHOWN = 20
ORDER_BY = {"created_at": "Published", "name": "Name", "version": "Version", "type": "Type"}
GROUP_ORDER_BY = {**ORDER_BY, "project_path": "Project"}
SORTS = {"desc": "Descending", "asc": "Ascending"}
STATUSES = [s.name for s in PackageStatus]
TYPES = [t.name for t in PackageType]


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's query string: the Packages API's parameters, under the same names
    (``package_name``, ``package_type``, ``status``, ``order_by``, ``sort``, ``page``,
    ``per_page``). The page shows newest first unless told otherwise."""

    package_name: str = ""
    package_type: str = ""
    status: str = ""
    order_by: str = "created_at"
    sort: str = "desc"
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def active(self) -> bool:
        return bool(self.package_name or self.package_type or self.status)

    def query(self) -> dict[str, Any]:
        """Non-default values, for links that keep the current filters."""
        defaults = Filters()
        return {
            name: getattr(self, name)
            for name in ("package_name", "package_type", "status", "order_by", "sort", "per_page")
            if getattr(self, name) != getattr(defaults, name)
        }

    def where(self) -> PackageFilter:
        return PackageFilter(
            package_type=PackageType[self.package_type] if self.package_type else None,
            package_name=self.package_name or None,
            status=PackageStatus[self.status] if self.status else None,
        )


def _positive(value: str | None, default: int, name: str, errors: list[str]) -> int:
    if not value:
        return default
    number = ascii_integer(value) if ascii_digits(value) else None
    if number is None or not 1 <= number <= ID_MAX:
        errors.append(f"{name} must be a whole number of at least 1")
        return default
    return number


def parse_filters(request: Request, order_by: dict[str, str]) -> Filters:
    params = request.query_params
    errors: list[str] = []

    def choice(name: str, allowed: Any, default: str = "") -> str:
        value = params.get(name, "")
        if not value:
            return default
        if value not in allowed:
            errors.append(f"{name} {value!r} is not one of {', '.join(allowed)}")
            return default
        return value

    found = Filters(
        package_name=params.get("package_name", "").strip(),
        package_type=choice("package_type", TYPES),
        status=choice("status", STATUSES),
        order_by=choice("order_by", order_by, "created_at"),
        sort=choice("sort", SORTS, "desc"),
        page=_positive(params.get("page"), 1, "page", errors),
        per_page=min(_positive(params.get("per_page"), PER_PAGE, "per_page", errors), MAX_PER_PAGE),
    )
    if errors:
        raise bad_params(*errors)
    return found


@dataclass(frozen=True, slots=True)
class PackageRow:
    id: int
    name: str
    version: str | None
    type: str
    status: str
    created_at: Any
    project_path: str
    pipeline: Any
    has_page: bool  # a package being deleted has no page


def _rows(found: catalog.Listing, project_path: str | None = None) -> list[PackageRow]:
    return [
        PackageRow(
            id=r.id,
            name=r.name,
            version=r.version,
            type=PackageType(r.package_type).name,
            status=PackageStatus(r.status).name,
            created_at=r.created_at,
            project_path=project_path or r.project_full_path,
            pipeline=found.pipelines.get(r.id),
            has_page=PackageStatus(r.status) in LIVE,
        )
        for r in found.rows
    ]


def _pages(filters: Filters, found: catalog.Listing) -> dict[str, Any]:
    last = None if found.total is None else max(1, -(-found.total // filters.per_page))
    return {
        "page": filters.page,
        "last_page": last,
        "has_next": found.has_next,
        "total": found.total,
    }


def _base_url(request: Request) -> str:
    configured = registry_of(request).settings.external_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


async def project_packages(request: Request) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    filters = parse_filters(request, ORDER_BY)
    access = await browse.project(registry, who.principal, request.path_params["project"])
    context: dict[str, Any] = {
        "project": access.project,
        "can": access.can,
        "tab": "packages",
        "filters": filters,
        "order_by": ORDER_BY,
        "sorts": SORTS,
        "statuses": STATUSES,
        "publish": commands.publish_commands(
            commands.Target(_base_url(request), access.project.id, "my-package", "1.0.0"),
            "./my-file.tar.gz",
            "my-file.tar.gz",
        ),
    }
    if not access.can.read_package:
        return render(request, "project_packages.html", disabled=True, **context)
    _, found = await catalog.list_project_packages(
        registry,
        who.principal,
        str(access.project.id),
        filters.where(),
        order_by=filters.order_by,
        sort=filters.sort,
        offset=(filters.page - 1) * filters.per_page,
        limit=filters.per_page,
    )
    return render(
        request,
        "project_packages.html",
        disabled=False,
        packages=_rows(found, access.project.full_path),
        **_pages(filters, found),
        **context,
    )


async def group_packages(request: Request) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    filters = parse_filters(request, GROUP_ORDER_BY)
    ref = request.path_params["group"]
    overview = await browse.group_overview(registry, who.principal, ref)
    found = await catalog.list_group_packages(
        registry,
        who.principal,
        ref,
        filters.where(),
        exclude_subgroups=False,
        order_by=filters.order_by,
        sort=filters.sort,
        offset=(filters.page - 1) * filters.per_page,
        limit=filters.per_page,
    )
    return render(
        request,
        "group_packages.html",
        group=overview.group,
        level=overview.level,
        tab="packages",
        group_settings=True,
        filters=filters,
        order_by=GROUP_ORDER_BY,
        sorts=SORTS,
        statuses=STATUSES,
        packages=_rows(found),
        **_pages(filters, found),
    )


def _package_id(request: Request) -> int:
    return path_id(request, "package_id")


async def package_page(request: Request) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    ref = request.path_params["project"]
    package_id = _package_id(request)
    errors: list[str] = []
    files_page = _positive(request.query_params.get("files_page"), 1, "files_page", errors)
    if errors:
        raise bad_params(*errors)
    detail = await browse.package_overview(
        registry, who.principal, ref, package_id, versions=VERSIONS_SHOWN, pipelines=20
    )
    project = detail.access.project
    _, files = await catalog.list_files(
        registry,
        who.principal,
        str(project.id),
        package_id,
        order_by="id",
        sort="asc",
        offset=(files_page - 1) * FILES_PER_PAGE,
        limit=FILES_PER_PAGE,
        statuses=LIVE,
    )
    package = detail.package
    target = commands.Target(_base_url(request), project.id, package.name, package.version or "")
    return render(
        request,
        "package.html",
        project=project,
        can=detail.access.can,
        tab="packages",
        package=package,
        pipeline=detail.pipeline,
        versions=detail.versions,
        versions_total=detail.versions_total,
        files=[
            (row, commands.download_commands(target, row.file_name), files.pipelines)
            for row in files.rows
        ],
        file_count=files.total,
        files_page=files_page,
        files_has_next=files.has_next,
        pipelines=detail.pipelines,
        publish=commands.publish_commands(target),
        archive=commands.archive_commands(target),
        token_variable=commands.TOKEN_VARIABLE,
        may_delete=detail.access.can.destroy_package and who.can_write,
        flush_seconds=registry.settings.download_count_flush_seconds,
    )


async def _overview(request: Request, who: Visitor) -> browse.PackageOverview:
    """The package of the URL, for an action on it (no versions, no pipelines)."""
    return await browse.package_overview(
        registry_of(request),
        who.principal,
        request.path_params["project"],
        _package_id(request),
        versions=0,
    )


# The web's names for the archives: /-/packages/:id/archive.zip and so on.
ARCHIVES = {keyword.removeprefix("~"): keyword for keyword in FILE_KEYWORDS}


async def download_archive(request: Request) -> Response:
    """The package as one archive, or its SHA256SUMS, with the visitor's session."""
    keyword = ARCHIVES.get(request.path_params["archive"])
    if keyword is None:
        raise not_found()
    who = await visitor(request)
    detail = await _overview(request, who)
    package = detail.package
    return await archive_response(
        request,
        who.principal,
        str(detail.access.project.id),
        package.name,
        package.version or "",
        keyword,
    )


async def _deletable(request: Request) -> tuple[ProjectAccess, browse.PackageOverview]:
    who = await visitor(request)
    require_write(who)
    detail = await _overview(request, who)
    if not detail.access.can.destroy_package:
        raise forbidden("Only Maintainers and Owners can delete packages.")
    return detail.access, detail


def _package_url(access: ProjectAccess, package_id: int | None = None) -> str:
    url = f"/{access.project.full_path}/-/packages"
    return url if package_id is None else f"{url}/{package_id}"


async def confirm_delete_package(request: Request) -> Response:
    access, detail = await _deletable(request)
    return render(
        request,
        "confirm_delete.html",
        project=access.project,
        package=detail.package,
        file=None,
        action=f"{_package_url(access, detail.package.id)}/delete",
        cancel=_package_url(access, detail.package.id),
    )


async def delete_package(request: Request) -> Response:
    access, detail = await _deletable(request)
    who = await visitor(request)
    try:
        await catalog.delete_package(
            registry_of(request),
            who.principal,
            str(access.project.id),
            detail.package.id,
            ip_address=client_address(request),
            statuses=LIVE,
        )
    except Forbidden as exc:  # a protection rule keeps it
        flash(request, "error", f"The package was not deleted: {describe(exc)}")
        return redirect(_package_url(access, detail.package.id))
    flash(
        request,
        "success",
        f"Deleted package {detail.package.name} {detail.package.version or ''}. Its files can "
        "no longer be downloaded.",
    )
    return redirect(_package_url(access))


async def _deletable_file(
    request: Request,
) -> tuple[ProjectAccess, browse.PackageOverview, Any]:
    access, detail = await _deletable(request)
    who = await visitor(request)
    file_id = path_id(request, "file_id")
    file = await catalog.file_for_download(
        registry_of(request),
        who.principal,
        str(access.project.id),
        detail.package.id,
        file_id,
        LIVE,
    )
    return access, detail, file


async def confirm_delete_file(request: Request) -> Response:
    access, detail, file = await _deletable_file(request)
    return render(
        request,
        "confirm_delete.html",
        project=access.project,
        package=detail.package,
        file=file,
        action=f"{_package_url(access, detail.package.id)}/files/{file.id}/delete",
        cancel=_package_url(access, detail.package.id),
    )


async def delete_file(request: Request) -> Response:
    access, detail, file = await _deletable_file(request)
    who = await visitor(request)
    try:
        await catalog.delete_file(
            registry_of(request),
            who.principal,
            str(access.project.id),
            detail.package.id,
            file.id,
            ip_address=client_address(request),
            statuses=LIVE,
        )
    except Forbidden as exc:  # a protection rule keeps it
        flash(request, "error", f"The file was not deleted: {describe(exc)}")
        return redirect(_package_url(access, detail.package.id))
    flash(request, "success", f"Deleted file {file.file_name}.")
    return redirect(_package_url(access, detail.package.id))


async def download_file(request: Request) -> Response:
    who = await visitor(request)
    file = await catalog.file_for_download(
        registry_of(request),
        who.principal,
        request.path_params["project"],
        _package_id(request),
        path_id(request, "file_id"),
        LIVE,
    )
    return await send_file(request, file)
