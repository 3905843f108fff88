"""GitLab's audit events API (lib/api/audit_events.rb and the group and project
variants): the instance log for administrators, a group's (with its subgroups and
projects) for its owners, a project's for its maintainers. Newest first, offset paged."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.admin_params import Params
from cargobay.api.pagination import paginated, parse_page
from cargobay.api.params import path_value, principal_of, registry_of, required_path_id
from cargobay.api.responses import gitlab_time, json
from cargobay.services import audit_events
from cargobay.services.audit import DEPLOY_TOKEN_AUTHOR_ID
from cargobay.storage.db.audit import EventFilter

ENTITY_TYPES = ("User", "Group", "Project", "Gitlab::Audit::InstanceScope")


def event_entity(row: Any) -> dict[str, Any]:
    """API::Entities::AuditEvent; ``details`` adds Cargobay's ``token_kind``."""
    m = row._mapping
    if m["author_id"] == DEPLOY_TOKEN_AUTHOR_ID:
        author_class = "DeployToken"
    elif m["author_id"] is None:
        author_class = "Cargobay::LocalAccess"
    else:
        author_class = "User"
    details = {
        **orjson.loads(m["details"]),
        "author_name": m["author_name"],
        "author_class": author_class,
        "target_id": m["target_id"],
        "target_type": m["target_type"],
        "target_details": m["target_details"],
        "ip_address": m["ip_address"],
        "entity_path": m["entity_path"],
        "token_kind": m["token_kind"],
    }
    return {
        "id": m["id"],
        "author_id": m["author_id"],
        "entity_id": m["entity_id"],
        "entity_type": m["entity_type"],
        "event_name": m["event_name"],
        "details": details,
        "created_at": gitlab_time(m["created_at"]),
    }


async def _filters(request: Request, *, instance: bool) -> tuple[EventFilter, Any]:
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    after = params.moment("created_after")
    before = params.moment("created_before")
    entity_type = params.choice("entity_type", ENTITY_TYPES) if instance else None
    entity_id = params.integer("entity_id") if instance else None
    params.check()
    where = EventFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        created_after=after,
        created_before=before,
    )
    return where, page


def _event_id(request: Request) -> int:
    return required_path_id(request, "audit_event_id")


def _page(request: Request, found: audit_events.EventPage, page: Any) -> Response:
    items = [event_entity(row) for row in found.rows]
    return paginated(request, items, page, total=found.total, has_next=found.has_next)


async def instance_events(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    where, page = await _filters(request, instance=True)
    found = await audit_events.instance_events(
        registry_of(request), principal, where, offset=page.offset, limit=page.size
    )
    return _page(request, found, page)


async def instance_event(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await audit_events.instance_event(registry_of(request), principal, _event_id(request))
    return json(event_entity(row))


async def group_events(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    where, page = await _filters(request, instance=False)
    found = await audit_events.group_events(
        registry_of(request),
        principal,
        path_value(request, "id"),
        where,
        offset=page.offset,
        limit=page.size,
    )
    return _page(request, found, page)


async def group_event(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await audit_events.group_event(
        registry_of(request), principal, path_value(request, "id"), _event_id(request)
    )
    return json(event_entity(row))


async def project_events(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    where, page = await _filters(request, instance=False)
    found = await audit_events.project_events(
        registry_of(request),
        principal,
        path_value(request, "id"),
        where,
        offset=page.offset,
        limit=page.size,
    )
    return _page(request, found, page)


async def project_event(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await audit_events.project_event(
        registry_of(request), principal, path_value(request, "id"), _event_id(request)
    )
    return json(event_entity(row))
