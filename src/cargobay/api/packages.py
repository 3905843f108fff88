"""The Packages API routes: P1-P4, F1-F3 and GR1 (spec §1, §7, §10-§12)."""

from __future__ import annotations

import base64
import binascii
from datetime import date, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cargobay.api import serializers
from cargobay.api.delivery import send_file
from cargobay.api.pagination import Page, base_url, paginated, parse_page
from cargobay.api.params import (
    check_values,
    client_address,
    if_unmodified_since,
    path_id,
    path_value,
    principal_of,
    query_integer,
    registry_of,
)
from cargobay.api.responses import json
from cargobay.domain.integers import ID_MAX
from cargobay.domain.models import PackageStatus, PackageType, utcnow
from cargobay.errors import bad_params
from cargobay.services import catalog
from cargobay.storage.db.listing import PackageFilter

TRUE = frozenset({"true", "1", "t", "yes", "y", "on"})
FALSE = frozenset({"false", "0", "f", "no", "n", "off", ""})
ORDER_BY = ("created_at", "name", "version", "type")
SORT = ("asc", "desc")


def _boolean(request: Request, name: str, errors: list[str]) -> bool:
    value = request.query_params.get(name)
    if value is None or value.lower() in FALSE:
        return False
    if value.lower() in TRUE:
        return True
    errors.append(f"{name} is invalid")
    return False


def _filters(
    request: Request, errors: list[str], order_by_values: tuple[str, ...]
) -> tuple[PackageFilter, str, str, Page]:
    order_by, error = check_values(request, "order_by", order_by_values)
    errors.extend([error] if error else [])
    sort, error = check_values(request, "sort", SORT)
    errors.extend([error] if error else [])
    package_type, error = check_values(request, "package_type", tuple(t.name for t in PackageType))
    errors.extend([error] if error else [])
    status, error = check_values(request, "status", tuple(s.name for s in PackageStatus))
    errors.extend([error] if error else [])
    include_versionless = _boolean(request, "include_versionless", errors)
    page = parse_page(request, errors)
    where = PackageFilter(
        package_type=PackageType[package_type] if package_type else None,
        package_name=request.query_params.get("package_name"),
        package_version=request.query_params.get("package_version"),
        status=PackageStatus[status] if status else None,
        include_versionless=include_versionless,
    )
    return where, order_by or "created_at", sort or "asc", page


def _ids(request: Request, *names: str) -> list[int]:
    """Integer path parameters, or one Grape-shaped 400 naming every bad one."""
    errors: list[str] = []
    values = [path_id(request, name, errors) for name in names]
    _raise(errors)
    return values


def _raise(errors: list[str]) -> None:
    if errors:
        raise bad_params(*errors)


async def list_project_packages(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    errors: list[str] = []
    where, order_by, sort, page = _filters(request, errors, ORDER_BY)
    access, found = await catalog.list_project_packages(
        registry_of(request),
        principal,
        path_value(request, "id"),
        where,
        order_by=order_by,
        sort=sort,
        offset=page.offset,
        limit=page.size,
        invalid=errors,  # refused after authorization, as Grape does
    )
    base = base_url(request)
    items = [
        serializers.package(
            row,
            base_url=base,
            project_path=access.project.full_path,
            can_destroy=access.can.destroy_package,
            last_pipeline=found.pipelines.get(row.id),
        )
        for row in found.rows
    ]
    return paginated(
        request,
        items,
        page,
        total=found.total,
        has_next=found.has_next,
        defaults={"order_by": order_by, "sort": sort},
    )


async def list_group_packages(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    errors: list[str] = []
    where, order_by, sort, page = _filters(request, errors, (*ORDER_BY, "project_path"))
    exclude_subgroups = _boolean(request, "exclude_subgroups", errors)
    found = await catalog.list_group_packages(
        registry_of(request),
        principal,
        path_value(request, "id"),
        where,
        exclude_subgroups=exclude_subgroups,
        order_by=order_by,
        sort=sort,
        offset=page.offset,
        limit=page.size,
        invalid=errors,  # refused after authorization, as Grape does
    )
    base = base_url(request)
    items = []
    for row in found.rows:
        can = found.abilities[row.project_id]
        items.append(
            serializers.package(
                row,
                base_url=base,
                project_path=row.project_full_path,
                can_destroy=can.destroy_package,
                last_pipeline=found.pipelines.get(row.id),
                in_group=True,
                project_readable=can.read_project,
            )
        )
    return paginated(
        request,
        items,
        page,
        total=found.total,
        has_next=found.has_next,
        defaults={
            "order_by": order_by,
            "sort": sort,
            "exclude_subgroups": str(exclude_subgroups).lower(),
        },
    )


async def get_package(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    [package_id] = _ids(request, "package_id")
    detail = await catalog.get_package(
        registry_of(request), principal, path_value(request, "id"), package_id
    )
    base = base_url(request)
    path = detail.access.project.full_path
    entity = serializers.package(
        detail.package,
        base_url=base,
        project_path=path,
        can_destroy=detail.access.can.destroy_package,
        last_pipeline=detail.pipeline,
    )
    entity["versions"] = [
        serializers.package_version(
            v, base_url=base, project_path=path, last_pipeline=detail.version_pipelines.get(v.id)
        )
        for v in detail.versions
    ]
    return json(entity)


STATS_SPAN = timedelta(days=29)  # download_stats without ?from=: 30 days to ?to=
STATS_MAX_DAYS = 366


async def download_stats(request: Request) -> Response:
    """Cargobay's ``GET .../packages/:package_id/download_stats?from=&to=``: the
    package's downloads per UTC day, every day from ``from`` to ``to`` (YYYY-MM-DD,
    inclusive; default the last 30 days to today), at most 366 days."""
    principal = await principal_of(request, generic=False)
    errors: list[str] = []
    package_id = path_id(request, "package_id", errors)
    today = utcnow().date()
    last = _day(request, "to", errors) or today
    first = _day(request, "from", errors) or max(last, date.min + STATS_SPAN) - STATS_SPAN
    if not errors and not 0 <= (last - first).days < STATS_MAX_DAYS:
        errors.append(f"from must be on or before to, at most {STATS_MAX_DAYS} days apart")
    days = await catalog.package_download_days(
        registry_of(request),
        principal,
        path_value(request, "id"),
        package_id,
        first,
        last,
        invalid=errors,  # refused after authorization, as Grape does
    )
    return json([{"date": day.isoformat(), "count": count} for day, count in days])


def _day(request: Request, name: str, errors: list[str]) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    errors.append(f"{name} is invalid")
    return None


def _cursor(request: Request, errors: list[str]) -> int | None:
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        value = decoded["id"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        value = None
    # Only a cursor this server made: {"id": <an id in the column's range>, ...}.
    if type(value) is not int or not 0 <= value <= ID_MAX:
        errors.append("cursor is invalid")
        return None
    return value


async def package_pipelines(request: Request) -> Response:
    """P3: keyset-paged, newest first, per_page 1..20."""
    principal = await principal_of(request, generic=False)
    errors: list[str] = []
    package_id = path_id(request, "package_id", errors)
    per_page = 20
    value = query_integer(request, "per_page", errors, low=-(2**63), high=2**63)
    if value is not None:
        if not 1 <= value <= 20:
            errors.append("per_page does not have a valid value")
        else:
            per_page = value
    before = _cursor(request, errors)
    access, rows = await catalog.package_pipelines(
        registry_of(request),
        principal,
        path_value(request, "id"),
        package_id,
        before=before,
        limit=per_page,
        invalid=errors,  # refused after authorization, as Grape does
    )
    base = base_url(request)
    headers = {"X-Per-Page": str(per_page)}
    if len(rows) > per_page:
        rows = rows[:per_page]
        cursor = (
            base64.urlsafe_b64encode(orjson.dumps({"id": rows[-1]["id"], "_kd": "n"}))
            .decode()
            .rstrip("=")
        )
        headers["X-Next-Page"] = cursor
        headers["Link"] = (
            f'<{base}{request.url.path}?cursor={cursor}&per_page={per_page}>; rel="next"'
        )
    items = [serializers.pipeline(r, base, access.project.full_path) for r in rows]
    return json(items, headers=headers)


async def delete_package(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    [package_id] = _ids(request, "package_id")
    await catalog.delete_package(
        registry_of(request),
        principal,
        path_value(request, "id"),
        package_id,
        if_unmodified_since(request),
        client_address(request),
    )
    return Response(status_code=204)


async def list_files(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    errors: list[str] = []
    package_id = path_id(request, "package_id", errors)
    order_by, error = check_values(request, "order_by", ("id", "created_at", "file_name"))
    errors.extend([error] if error else [])
    sort, error = check_values(request, "sort", SORT)
    errors.extend([error] if error else [])
    page = parse_page(request, errors)
    access, found = await catalog.list_files(
        registry_of(request),
        principal,
        path_value(request, "id"),
        package_id,
        order_by=order_by or "id",
        sort=sort or "asc",
        offset=page.offset,
        limit=page.size,
        invalid=errors,  # refused after authorization, as Grape does
    )
    base = base_url(request)
    items = []
    for row in found.rows:
        run = found.pipelines.get(row.pipeline_id) if row.pipeline_id else None
        runs = [serializers.pipeline(run, base, access.project.full_path)] if run else None
        items.append(serializers.package_file(row, runs))
    return paginated(request, items, page, total=found.total, has_next=found.has_next)


async def delete_file(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    package_id, file_id = _ids(request, "package_id", "package_file_id")
    await catalog.delete_file(
        registry_of(request),
        principal,
        path_value(request, "id"),
        package_id,
        file_id,
        if_unmodified_since(request),
        client_address(request),
    )
    return Response(status_code=204)


async def download_file(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    package_id, file_id = _ids(request, "package_id", "package_file_id")
    file = await catalog.file_for_download(
        registry_of(request), principal, path_value(request, "id"), package_id, file_id
    )
    return await send_file(request, file)
