"""SQL for registry policies: namespace duplicate settings, package protection rules,
feature flag gates and plan limits, and the one-row snapshot of all of them an upload
reads before it accepts a body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Exists,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from cargobay.domain.features import INSTANCE, NAMESPACE, PROJECT, Gate
from cargobay.domain.models import PackageType, ProtectionRule
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import insert_ignoring_conflicts, is_ancestor, sql_literal
from cargobay.storage.db.records import to_rule
from cargobay.storage.db.tables import (
    feature_gates,
    namespaces,
    package_protection_rules,
    plan_limits,
)

rules = package_protection_rules
DEFAULT_PLAN = "default"


# ---------------------------------------------------------------- namespace settings


async def update_duplicate_settings(
    conn: Connection, namespace_id: int, values: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        update(namespaces).where(namespaces.c.id == namespace_id).values(**values, updated_at=now)
    )


# ---------------------------------------------------------------- protection rules


def _like_of(pattern: ColumnElement[str]) -> ColumnElement[str]:
    """GitLab's ``Gitlab::SQL::Glob.to_like`` in SQL: ``%`` and ``_`` literal, ``*`` any."""
    escaped = func.replace(
        func.replace(func.replace(pattern, "\\", "\\\\"), "%", "\\%"), "_", "\\_"
    )
    return func.replace(escaped, "*", "%")


def protection_applies(
    project_id: Any,
    package_name: Any,
    *,
    action: str,
    below: int | ColumnElement[int] | None,
    package_type: PackageType = PackageType.generic,
) -> Exists:
    """EXISTS a rule of the project matching the name whose minimum level for ``action``
    (push or delete) is above ``below``; ``below`` None: any rule setting that level.
    ``project_id`` and ``package_name`` may be values or columns (for a correlated use)."""
    column = (
        rules.c.minimum_access_level_for_push
        if action == "push"
        else rules.c.minimum_access_level_for_delete
    )
    name = package_name if isinstance(package_name, ColumnElement) else literal(package_name)
    level = column.is_not(None) if below is None else column > below
    return exists().where(
        rules.c.project_id == project_id,
        rules.c.package_type == int(package_type),
        level,
        name.ilike(_like_of(rules.c.package_name_pattern), escape="\\"),
    )


async def is_protected(
    conn: Connection, project_id: int, package_name: str, *, action: str, level: int
) -> bool:
    query = select(protection_applies(project_id, package_name, action=action, below=level))
    return bool((await conn.execute(query)).scalar())


async def list_rules(conn: Connection, project_id: int) -> list[ProtectionRule]:
    rows = await conn.execute(
        select(rules).where(rules.c.project_id == project_id).order_by(rules.c.id)
    )
    return [to_rule(row) for row in rows]


async def find_rule(conn: Connection, project_id: int, rule_id: int) -> ProtectionRule | None:
    query = select(rules).where(rules.c.project_id == project_id, rules.c.id == rule_id)
    row = (await conn.execute(query)).first()
    return to_rule(row) if row else None


async def rule_taken(
    conn: Connection,
    project_id: int,
    package_type: int,
    pattern: str,
    *,
    other_than: int | None = None,
) -> bool:
    query = select(rules.c.id).where(
        rules.c.project_id == project_id,
        rules.c.package_type == package_type,
        rules.c.package_name_pattern == pattern,
    )
    if other_than is not None:
        query = query.where(rules.c.id != other_than)
    return (await conn.execute(query.limit(1))).first() is not None


async def insert_rule(conn: Connection, **values: Any) -> ProtectionRule:
    """``values``: the rule's columns (tables.package_protection_rules)."""
    result = await conn.execute(insert(rules).values(**values).returning(rules))
    return to_rule(result.one())


async def update_rule(conn: Connection, rule_id: int, **values: Any) -> ProtectionRule:
    result = await conn.execute(
        update(rules).where(rules.c.id == rule_id).values(**values).returning(rules)
    )
    return to_rule(result.one())


async def delete_rule(conn: Connection, rule_id: int) -> None:
    await conn.execute(delete(rules).where(rules.c.id == rule_id))


# ---------------------------------------------------------------- feature flags


def gate_for(feature: str, project_id: Any, project_path: Any) -> Any:
    """The enabled value of the most specific gate for a project, as a scalar subquery:
    the project's gate, then the nearest namespace's, then the instance's; NULL if none.
    ``project_id`` and ``project_path`` may be values or columns (a correlated use)."""
    gate_namespace = namespaces.alias("gate_namespace")
    scope = feature_gates.c.scope
    project, namespace, instance = (sql_literal(s) for s in (PROJECT, NAMESPACE, INSTANCE))
    applies = or_(
        and_(scope == project, feature_gates.c.scope_id == project_id),
        and_(scope == namespace, is_ancestor(gate_namespace.c.full_path, project_path)),
        scope == instance,
    )
    return (
        select(feature_gates.c.enabled)
        .select_from(
            feature_gates.outerjoin(
                gate_namespace,
                and_(scope == namespace, gate_namespace.c.id == feature_gates.c.scope_id),
            )
        )
        .where(feature_gates.c.feature == sql_literal(feature), applies)
        .order_by(
            case(
                (scope == project, sql_literal(0)),
                (scope == namespace, sql_literal(1)),
                else_=sql_literal(2),
            ),
            func.length(gate_namespace.c.full_path).desc(),
        )
        .limit(sql_literal(1))
        .scalar_subquery()
    )


async def gates(conn: Connection, feature: str | None = None) -> list[tuple[str, Gate]]:
    """(feature, gate) pairs, with each actor's Flipper id."""
    query = (
        select(feature_gates, namespaces.c.kind)
        .outerjoin(
            namespaces,
            and_(feature_gates.c.scope == NAMESPACE, namespaces.c.id == feature_gates.c.scope_id),
        )
        .order_by(feature_gates.c.feature, feature_gates.c.id)
    )
    if feature is not None:
        query = query.where(feature_gates.c.feature == feature)
    found = []
    for row in await conn.execute(query):
        m = row._mapping
        if m["scope"] == PROJECT:
            actor = f"Project:{m['scope_id']}"
        elif m["scope"] == NAMESPACE:
            kind = "Group" if m["kind"] == "group" else "Namespaces::UserNamespace"
            actor = f"{kind}:{m['scope_id']}"
        else:
            actor = ""
        found.append((m["feature"], Gate(m["scope"], m["scope_id"], bool(m["enabled"]), actor)))
    return found


async def set_gate(
    conn: Connection, feature: str, scope: str, scope_id: int, enabled: bool, now: datetime
) -> None:
    changed = await conn.execute(
        update(feature_gates)
        .where(
            feature_gates.c.feature == feature,
            feature_gates.c.scope == scope,
            feature_gates.c.scope_id == scope_id,
        )
        .values(enabled=enabled, updated_at=now)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(feature_gates).values(
                feature=feature,
                scope=scope,
                scope_id=scope_id,
                enabled=enabled,
                created_at=now,
                updated_at=now,
            )
        )


async def delete_gates(conn: Connection, feature: str) -> int:
    result = await conn.execute(delete(feature_gates).where(feature_gates.c.feature == feature))
    return int(result.rowcount)


# ---------------------------------------------------------------- plan limits


def _max_file_size() -> Any:
    return (
        select(plan_limits.c.generic_packages_max_file_size)
        .where(plan_limits.c.plan_name == DEFAULT_PLAN)
        .scalar_subquery()
    )


async def max_file_size(conn: Connection) -> int | None:
    """The stored generic_packages_max_file_size, or None (the setting's default)."""
    value = (await conn.execute(select(_max_file_size()))).scalar()
    return None if value is None else int(value)


async def set_max_file_size(conn: Connection, size: int, now: datetime) -> None:
    statement = (
        insert_ignoring_conflicts(conn, plan_limits)
        .values(plan_name=DEFAULT_PLAN, generic_packages_max_file_size=size, updated_at=now)
        .on_conflict_do_update(
            index_elements=["plan_name"],
            set_={"generic_packages_max_file_size": size, "updated_at": now},
        )
    )
    await conn.execute(statement)
