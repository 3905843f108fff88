"""What protection rules and the generic_packages flag refuse: the checks the upload,
download and delete paths make (rules are managed in services/policies.py)."""

from __future__ import annotations

from cargobay.auth.principal import Principal
from cargobay.domain import protection
from cargobay.domain.features import GENERIC_PACKAGES
from cargobay.domain.permissions import Abilities
from cargobay.errors import CargobayError, NotFound, forbidden, message
from cargobay.services.access import ProjectAccess
from cargobay.storage.db import policies as sql
from cargobay.storage.db.database import Connection


def role_for_rules(principal: Principal, can: Abilities) -> int:
    """The level a protection rule compares with its minimum for push or delete.
    Administrators pass every rule; a deploy token has no role, so any rule stops it."""
    if principal.is_admin:
        return protection.ADMIN
    if principal.deploy_token is not None:
        return 0
    return can.access_level


def package_protected() -> CargobayError:
    return forbidden(protection.PROTECTED)


def generic_disabled() -> NotFound:
    """The generic_packages flag is off for the project (spec §2 step 1)."""
    return NotFound(message(404))


async def check_delete_protection(
    conn: Connection, principal: Principal, access: ProjectAccess, package_name: str
) -> None:
    if await sql.is_protected(
        conn,
        access.project.id,
        package_name,
        action="delete",
        level=role_for_rules(principal, access.can),
    ):
        raise forbidden(protection.DELETION_PROTECTED)


def generic_on(gate: bool | None) -> bool:
    """The generic_packages flag given its deciding gate (None: no gate, the default)."""
    return GENERIC_PACKAGES.default_enabled if gate is None else gate
