"""Instance administration of the registry: feature flags (GitLab's Features API) and the
generic package size limit (GitLab's plan limits API). Administrators only."""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.auth.principal import Principal
from cargobay.domain.features import INSTANCE, KNOWN, NAMESPACE, PROJECT, Definition, Gate
from cargobay.domain.models import utcnow
from cargobay.errors import bad_request, forbidden
from cargobay.services import audit
from cargobay.services.accounts import acting_user
from cargobay.services.registry import Registry
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import policies as sql
from cargobay.storage.db.audit import INSTANCE as INSTANCE_ENTITY
from cargobay.storage.db.database import Connection


def _admin(principal: Principal) -> None:
    acting_user(principal)
    if not principal.is_admin:
        raise forbidden()


@dataclass(frozen=True, slots=True)
class Feature:
    definition: Definition
    gates: list[Gate]


def _definition(name: str) -> Definition:
    definition = KNOWN.get(name)
    if definition is None:
        known = ", ".join(sorted(KNOWN))
        raise bad_request(f"Unknown feature flag '{name}'. Cargobay has: {known}")
    return definition


async def _feature(conn: Connection, definition: Definition) -> Feature:
    return Feature(definition, [gate for _, gate in await sql.gates(conn, definition.name)])


async def list_features(registry: Registry, principal: Principal) -> list[Feature]:
    _admin(principal)
    async with registry.db.read() as conn:
        return [await _feature(conn, definition) for definition in KNOWN.values()]


async def set_feature(
    registry: Registry,
    actor: audit.Actor,
    name: str,
    enabled: bool,
    *,
    project: str | None = None,
    namespace: str | None = None,
) -> Feature:
    """Turn a flag on or off for the instance, or only for a project or namespace (a
    group or a user's namespace, with everything below it)."""
    assert actor.principal is not None
    _admin(actor.principal)
    definition = _definition(name)
    async with registry.db.write() as conn:
        scope, scope_id, target = INSTANCE, 0, "instance"
        if project is not None:
            found = await namespace_sql.find_project(conn, project)
            if found is None:
                raise bad_request(f"{project} is not found!")
            scope, scope_id, target = PROJECT, found.id, found.full_path
        elif namespace is not None:
            row = await namespace_sql.find_namespace(conn, namespace)
            if row is None:
                raise bad_request(f"{namespace} is not found!")
            scope, scope_id, target = NAMESPACE, row.id, row.full_path
        now = utcnow()
        await sql.set_gate(conn, name, scope, scope_id, enabled, now)
        await audit.record(
            conn,
            actor,
            INSTANCE_ENTITY,
            "feature_flag_updated",
            f"Feature flag {name} {'enabled' if enabled else 'disabled'} for {target}",
            target_type="Feature",
            target_id=name,
            target_details=target,
            details={"feature": name, "scope": scope, "enabled": enabled},
            now=now,
        )
        return await _feature(conn, definition)


async def delete_feature(registry: Registry, actor: audit.Actor, name: str) -> None:
    """Remove every gate: the flag is back to its default."""
    assert actor.principal is not None
    _admin(actor.principal)
    async with registry.db.write() as conn:
        if await sql.delete_gates(conn, name):
            await audit.record(
                conn,
                actor,
                INSTANCE_ENTITY,
                "feature_flag_deleted",
                f"Feature flag {name} reset to its default",
                target_type="Feature",
                target_id=name,
                target_details=name,
            )


# ---------------------------------------------------------------- plan limits


async def max_file_size(registry: Registry, principal: Principal) -> int:
    _admin(principal)
    async with registry.db.read() as conn:
        stored = await sql.max_file_size(conn)
    return registry.settings.max_file_size if stored is None else stored


async def set_max_file_size(registry: Registry, actor: audit.Actor, size: int) -> int:
    assert actor.principal is not None
    _admin(actor.principal)
    async with registry.db.write() as conn:
        before = await sql.max_file_size(conn)
        now = utcnow()
        await sql.set_max_file_size(conn, size, now)
        await audit.record(
            conn,
            actor,
            INSTANCE_ENTITY,
            "plan_limits_updated",
            f"Changed generic_packages_max_file_size to {size}",
            target_type="PlanLimits",
            target_id="default",
            target_details="default",
            details={
                "from": registry.settings.max_file_size if before is None else before,
                "to": size,
            },
            now=now,
        )
    return size
