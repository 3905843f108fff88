"""SQL for the audit log: one INSERT inside the transaction that makes the change (so an
event exists exactly when its change committed), and filtered, paged reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, Select, insert, or_, select

from cargobay.storage.db.database import Connection, Prepared, fetch
from cargobay.storage.db.expressions import capped_page_of
from cargobay.storage.db.tables import audit_events


@dataclass(frozen=True, slots=True)
class Entity:
    """What an event is about, in GitLab's terms: a Project, a Group, a User (its personal
    namespace) or the instance (``Gitlab::Audit::InstanceScope``)."""

    type: str
    id: int
    path: str


INSTANCE = Entity("Gitlab::Audit::InstanceScope", 1, "")


# Every change writes one: prepared once, values bound at execution (database.py).
_INSERT_EVENT = Prepared(insert(audit_events))


async def insert_event(
    conn: Connection,
    *,
    entity: Entity,
    event_name: str,
    author_id: int | None,
    author_name: str,
    token_kind: str,
    ip_address: str | None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    target_details: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    await fetch(
        conn,
        _INSERT_EVENT,
        {
            "created_at": now,
            "author_id": author_id,
            "author_name": author_name,
            "entity_type": entity.type,
            "entity_id": entity.id,
            "entity_path": entity.path,
            "event_name": event_name,
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "target_details": target_details,
            "token_kind": token_kind,
            "ip_address": ip_address,
            "details": orjson.dumps(details or {}).decode(),
        },
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    entity_type: str | None = None
    entity_id: int | None = None
    # Events of this namespace or project path and of everything below it.
    under_path: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


NEWEST_FIRST = [audit_events.c.id.desc()]  # as GitLab lists audit events


def events_query(where: EventFilter) -> Select[Any]:
    query = select(audit_events)
    if where.entity_type is not None:
        query = query.where(audit_events.c.entity_type == where.entity_type)
    if where.entity_id is not None:
        query = query.where(audit_events.c.entity_id == where.entity_id)
    if where.under_path is not None:
        escaped = where.under_path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                audit_events.c.entity_path == where.under_path,
                audit_events.c.entity_path.like(f"{escaped}/%", escape="\\"),
            )
        )
    if where.created_after is not None:
        query = query.where(audit_events.c.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(audit_events.c.created_at <= where.created_before)
    return query


async def find_event(conn: Connection, where: EventFilter, event_id: int) -> Row[Any] | None:
    query = events_query(where).where(audit_events.c.id == event_id)
    row: Row[Any] | None = (await conn.execute(query)).first()
    return row


async def events_page(
    conn: Connection, where: EventFilter, *, offset: int, limit: int
) -> tuple[list[Any], int | None, bool]:
    """Newest first: (rows, total or None past the count cap, whether a next page exists)."""
    return await capped_page_of(
        conn, events_query(where), NEWEST_FIRST, key=audit_events.c.id, offset=offset, limit=limit
    )
