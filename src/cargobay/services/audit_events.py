"""Reading the audit log (GitLab's audit events API): the whole instance for admins, a
group and everything below it for the group's owners, a project for its maintainers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain.models import AccessLevel, Visibility
from cargobay.errors import forbidden, not_found
from cargobay.services.accounts import acting_user
from cargobay.services.catalog import api_project
from cargobay.services.policies import namespace_level
from cargobay.services.registry import Registry
from cargobay.storage.db import audit as sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db.audit import EventFilter
from cargobay.storage.db.database import Connection


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: list[Any]
    total: int | None
    has_next: bool


async def _page(conn: Connection, where: EventFilter, offset: int, limit: int) -> EventPage:
    rows, total, has_next = await sql.events_page(conn, where, offset=offset, limit=limit)
    return EventPage(rows, total, has_next)


async def _one(conn: Connection, where: EventFilter, event_id: int) -> Any:
    row = await sql.find_event(conn, where, event_id)
    if row is None:
        raise not_found("Audit Event Not Found")
    return row


def _admin(principal: Principal) -> None:
    acting_user(principal)
    if not principal.is_admin:
        raise forbidden()


async def _group_filter(
    conn: Connection, principal: Principal, ref: str, where: EventFilter
) -> EventFilter:
    acting_user(principal)
    group = await namespace_sql.find_namespace(conn, ref)
    if group is None or group.kind != "group":
        raise not_found("Group Not Found")
    full_path = group.full_path
    level = await namespace_level(conn, principal, full_path)
    if level < AccessLevel.OWNER:
        if level == 0 and group.visibility == Visibility.private:
            raise not_found("Group Not Found")
        raise forbidden()
    return EventFilter(
        under_path=full_path,
        created_after=where.created_after,
        created_before=where.created_before,
    )


async def _project_filter(
    conn: Connection, registry: Registry, principal: Principal, ref: str, where: EventFilter
) -> EventFilter:
    acting_user(principal)
    access = await api_project(conn, registry, principal, ref)
    if access.can.access_level < AccessLevel.MAINTAINER:
        raise forbidden()
    return EventFilter(
        entity_type="Project",
        entity_id=access.project.id,
        created_after=where.created_after,
        created_before=where.created_before,
    )


async def instance_events(
    registry: Registry, principal: Principal, where: EventFilter, *, offset: int, limit: int
) -> EventPage:
    _admin(principal)
    async with registry.db.scan() as conn:
        return await _page(conn, where, offset, limit)


async def instance_event(registry: Registry, principal: Principal, event_id: int) -> Any:
    _admin(principal)
    async with registry.db.scan() as conn:
        return await _one(conn, EventFilter(), event_id)


async def group_events(
    registry: Registry,
    principal: Principal,
    ref: str,
    where: EventFilter,
    *,
    offset: int,
    limit: int,
) -> EventPage:
    async with registry.db.scan() as conn:
        scope = await _group_filter(conn, principal, ref, where)
        return await _page(conn, scope, offset, limit)


async def group_event(registry: Registry, principal: Principal, ref: str, event_id: int) -> Any:
    async with registry.db.scan() as conn:
        return await _one(conn, await _group_filter(conn, principal, ref, EventFilter()), event_id)


async def project_events(
    registry: Registry,
    principal: Principal,
    ref: str,
    where: EventFilter,
    *,
    offset: int,
    limit: int,
) -> EventPage:
    async with registry.db.scan() as conn:
        scope = await _project_filter(conn, registry, principal, ref, where)
        return await _page(conn, scope, offset, limit)


async def project_event(registry: Registry, principal: Principal, ref: str, event_id: int) -> Any:
    async with registry.db.scan() as conn:
        scope = await _project_filter(conn, registry, principal, ref, EventFilter())
        return await _one(conn, scope, event_id)


async def local_events(registry: Registry, where: EventFilter, limit: int) -> list[Any]:
    """For ``cargobay audit`` (local access: no caller to check)."""
    async with registry.db.scan() as conn:
        page = await _page(conn, where, 0, limit)
    return page.rows
