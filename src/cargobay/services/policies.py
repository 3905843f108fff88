"""Namespace duplicate settings (spec §8) and package protection rules: reading and
changing them, and the checks uploads and deletes make against them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain import protection
from cargobay.domain.duplicates import InvalidRegex, compile_exception_regex
from cargobay.domain.models import (
    AccessLevel,
    Namespace,
    PackageType,
    ProtectionRule,
    Visibility,
    utcnow,
)
from cargobay.errors import CargobayError, forbidden, not_found, validation_error
from cargobay.services import audit
from cargobay.services.access import ProjectAccess
from cargobay.services.accounts import acting_user
from cargobay.services.catalog import api_project
from cargobay.services.registry import Registry
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import policies as sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection

MAX_REGEX_LENGTH = 255
REGEX_FIELD = "generic_duplicate_exception_regex"


def regex_errors(field: str, pattern: str) -> dict[str, list[str]]:
    """GitLab's model validation of an ``untrusted_regexp`` column, as error messages."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return {field: [f"is too long (maximum is {MAX_REGEX_LENGTH} characters)"]}
    try:
        compile_exception_regex(pattern)
    except InvalidRegex as exc:
        return {field: [f"not valid RE2 syntax: {exc}"]}
    return {}


# ---------------------------------------------------------------- who may do what


async def namespace_level(conn: Connection, principal: Principal, full_path: str) -> int:
    """The caller's role on a namespace: its highest membership there or on an ancestor.
    Administrators count as owners; job and deploy tokens hold no role here."""
    if principal.is_admin:
        return int(AccessLevel.OWNER)
    if principal.user is None or principal.job is not None:
        return 0
    mine = await member_sql.user_memberships(conn, principal.user.id, utcnow().date())
    return mine.group_level(full_path)


async def owned_namespace(
    conn: Connection, principal: Principal, ref: str, *, groups_only: bool
) -> Namespace:
    """A group (or, unless ``groups_only``, a user namespace) the caller owns. Who cannot
    see it gets 404, who sees it without owning it 403."""
    acting_user(principal)
    what = "Group" if groups_only else "Namespace"
    namespace = await namespace_sql.find_namespace(conn, ref)
    if namespace is None or (groups_only and namespace.kind != "group"):
        raise not_found(f"{what} Not Found")
    level = await namespace_level(conn, principal, namespace.full_path)
    if level >= AccessLevel.OWNER:
        return namespace
    hidden = namespace.kind != "group" or namespace.visibility == Visibility.private
    if level == 0 and hidden:
        raise not_found(f"{what} Not Found")
    raise forbidden()


async def managed_project(
    conn: Connection, registry: Registry, principal: Principal, ref: str
) -> ProjectAccess:
    """A project whose package settings the caller may change (``admin_package``:
    Maintainer and above, registry not disabled)."""
    acting_user(principal)
    access = await api_project(conn, registry, principal, ref)
    if not access.can.admin_package:
        raise forbidden()
    return access


# ---------------------------------------------------------------- duplicate settings


@dataclass(frozen=True, slots=True)
class DuplicateSettings:
    generic_duplicates_allowed: bool
    generic_duplicate_exception_regex: str


def _settings_of(namespace: Namespace) -> DuplicateSettings:
    return DuplicateSettings(
        bool(namespace.generic_duplicates_allowed),
        namespace.generic_duplicate_exception_regex,
    )


async def duplicate_settings(
    registry: Registry, principal: Principal, ref: str, *, groups_only: bool
) -> DuplicateSettings:
    async with registry.db.read() as conn:
        return _settings_of(await owned_namespace(conn, principal, ref, groups_only=groups_only))


async def update_duplicate_settings(
    registry: Registry,
    actor: audit.Actor,
    ref: str,
    *,
    allowed: bool | None,
    regex: str | None,
    groups_only: bool,
) -> DuplicateSettings:
    assert actor.principal is not None
    async with registry.db.write() as conn:
        namespace = await owned_namespace(conn, actor.principal, ref, groups_only=groups_only)
        if regex is not None and (
            errors := regex_errors("generic_duplicate_exception_regex", regex)
        ):
            raise validation_error(errors)
        before = _settings_of(namespace)
        after = DuplicateSettings(
            before.generic_duplicates_allowed if allowed is None else allowed,
            before.generic_duplicate_exception_regex if regex is None else regex,
        )
        if after != before:
            now = utcnow()
            await sql.update_duplicate_settings(
                conn,
                namespace.id,
                {
                    "generic_duplicates_allowed": after.generic_duplicates_allowed,
                    "generic_duplicate_exception_regex": after.generic_duplicate_exception_regex,
                },
                now,
            )
            user_id = None
            if namespace.kind != "group":
                owners = await user_sql.accounts_owning_namespaces(conn, [namespace.id])
                user_id = owners[namespace.id].id if namespace.id in owners else None
            await audit.record(
                conn,
                actor,
                audit.namespace_entity(namespace, user_id),
                "package_settings_updated",
                "Changed generic package duplicate settings",
                target_type="Namespace::PackageSetting",
                target_id=namespace.id,
                target_details=namespace.full_path,
                details={"from": _as_dict(before), "to": _as_dict(after)},
                now=now,
            )
        return after


def _as_dict(settings: DuplicateSettings) -> dict[str, Any]:
    return {
        "generic_duplicates_allowed": settings.generic_duplicates_allowed,
        "generic_duplicate_exception_regex": settings.generic_duplicate_exception_regex,
    }


# ---------------------------------------------------------------- protection rules


@dataclass(frozen=True, slots=True)
class RuleChange:
    """Fields of a create or update; ``...`` (Ellipsis) means "not given"."""

    package_name_pattern: Any = ...
    package_type: Any = ...
    minimum_access_level_for_push: Any = ...
    minimum_access_level_for_delete: Any = ...


class Unprocessable(CargobayError):
    status = 422


def _unprocessable(text: str) -> Unprocessable:
    """GitLab's ``render_api_error!({ error: message }, :unprocessable_entity)``."""
    return Unprocessable({"message": {"error": text}})


async def list_rules(registry: Registry, principal: Principal, ref: str) -> list[ProtectionRule]:
    async with registry.db.read() as conn:
        access = await managed_project(conn, registry, principal, ref)
        return await sql.list_rules(conn, access.project.id)


async def create_rule(
    registry: Registry, actor: audit.Actor, ref: str, change: RuleChange
) -> ProtectionRule:
    assert actor.principal is not None
    async with registry.db.write() as conn:
        access = await managed_project(conn, registry, actor.principal, ref)
        values = _validated(change, current=None)
        await _check_unique(conn, access.project.id, values, rule_id=None)
        now = utcnow()
        rule = await sql.insert_rule(
            conn, project_id=access.project.id, created_at=now, updated_at=now, **values
        )
        await _audit_rule(conn, actor, access, "package_protection_rule_created", rule, now)
        return rule


async def update_rule(
    registry: Registry, actor: audit.Actor, ref: str, rule_id: int, change: RuleChange
) -> ProtectionRule:
    assert actor.principal is not None
    async with registry.db.write() as conn:
        access = await managed_project(conn, registry, actor.principal, ref)
        current = await _rule(conn, access.project.id, rule_id)
        values = _validated(change, current=current)
        await _check_unique(conn, access.project.id, values, rule_id=rule_id)
        now = utcnow()
        rule = await sql.update_rule(conn, rule_id, updated_at=now, **values)
        await _audit_rule(conn, actor, access, "package_protection_rule_updated", rule, now)
        return rule


async def delete_rule(registry: Registry, actor: audit.Actor, ref: str, rule_id: int) -> None:
    assert actor.principal is not None
    async with registry.db.write() as conn:
        access = await managed_project(conn, registry, actor.principal, ref)
        rule = await _rule(conn, access.project.id, rule_id)
        await sql.delete_rule(conn, rule_id)
        await _audit_rule(conn, actor, access, "package_protection_rule_deleted", rule, utcnow())


async def _rule(conn: Connection, project_id: int, rule_id: int) -> ProtectionRule:
    rule = await sql.find_rule(conn, project_id, rule_id)
    if rule is None:
        raise not_found("Not found")
    return rule


def _validated(change: RuleChange, current: ProtectionRule | None) -> dict[str, Any]:
    """The rule's columns after the change, or 422 with GitLab's model messages."""

    def pick(name: str) -> Any:
        given = getattr(change, name)
        if given is ...:
            return None if current is None else getattr(current, name)
        return given

    pattern = pick("package_name_pattern")
    type_value = change.package_type
    package_type = (
        int(PackageType[type_value]) if type_value is not ... else current.package_type  # type: ignore[union-attr]  # an update has a current
    )
    push = pick("minimum_access_level_for_push")
    delete = pick("minimum_access_level_for_delete")
    if isinstance(push, str):
        push = int(protection.PUSH_LEVELS[push])
    if isinstance(delete, str):
        delete = int(protection.DELETE_LEVELS[delete])
    if not pattern:
        raise _unprocessable("Package name pattern can't be blank")
    if len(pattern) > protection.MAX_PATTERN_LENGTH:
        raise _unprocessable(
            f"Package name pattern is too long (maximum is {protection.MAX_PATTERN_LENGTH} "
            "characters)"
        )
    if push is None and delete is None:
        raise _unprocessable(protection.NEEDS_A_LEVEL)
    return {
        "package_name_pattern": pattern,
        "package_type": package_type,
        "minimum_access_level_for_push": push,
        "minimum_access_level_for_delete": delete,
    }


async def _check_unique(
    conn: Connection, project_id: int, values: dict[str, Any], rule_id: int | None
) -> None:
    if await sql.rule_taken(
        conn,
        project_id,
        values["package_type"],
        values["package_name_pattern"],
        other_than=rule_id,
    ):
        raise _unprocessable("Package name pattern has already been taken")


async def _audit_rule(
    conn: Connection,
    actor: audit.Actor,
    access: ProjectAccess,
    event: str,
    rule: ProtectionRule,
    now: datetime,
) -> None:
    verb = event.rsplit("_", 1)[1]
    await audit.record(
        conn,
        actor,
        audit.project_entity(access.project),
        event,
        f"Package protection rule {verb}",
        target_type="Packages::Protection::Rule",
        target_id=rule.id,
        target_details=rule.package_name_pattern,
        details={
            "package_type": PackageType(rule.package_type).name,
            "minimum_access_level_for_push": protection.level_name(
                rule.minimum_access_level_for_push
            ),
            "minimum_access_level_for_delete": protection.level_name(
                rule.minimum_access_level_for_delete
            ),
        },
        now=now,
    )
