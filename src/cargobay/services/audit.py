"""Recording the audit log: who published, deleted and changed settings, when, with which
kind of token and from which address. Services record an event inside the transaction
that makes the change, so an event exists exactly when its change committed. Reading the
log is services/audit_events.py.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.auth.tokens import TokenKind
from cargobay.domain.models import Namespace, Project, utcnow
from cargobay.storage.db import audit as sql
from cargobay.storage.db.audit import Entity
from cargobay.storage.db.database import Connection

# GitLab's pseudo-authors: Gitlab::Audit::DeployTokenAuthor is -2; the scheduler and the
# CLI act with local access and no user.
DEPLOY_TOKEN_AUTHOR_ID = -2


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, for the log: a request's caller and address, or local system work."""

    principal: Principal | None = None
    ip_address: str | None = None
    system: str = ""  # "scheduler", "cli"

    @property
    def author(self) -> tuple[int | None, str, str]:
        """(author_id, author_name, token_kind)."""
        principal = self.principal
        if principal is None:
            if self.system == "cli":
                return None, f"cargobay CLI ({_os_user()})", TokenKind.cli.audit_name
            return None, "Cargobay scheduler", TokenKind.system.audit_name
        if principal.deploy_token is not None:
            return DEPLOY_TOKEN_AUTHOR_ID, principal.deploy_token.username, principal.token_kind
        if principal.user is not None:
            return principal.user.id, principal.user.username, principal.token_kind
        return None, "An unauthenticated user", principal.token_kind


SCHEDULER = Actor(system="scheduler")
CLI = Actor(system="cli")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def project_entity(project: Project) -> Entity:
    return Entity("Project", project.id, project.full_path)


def namespace_entity(namespace: Namespace, user_id: int | None) -> Entity:
    """A group, or a personal namespace (logged against its user, as GitLab does)."""
    if namespace.kind == "group":
        return Entity("Group", namespace.id, namespace.full_path)
    return Entity("User", user_id or namespace.id, namespace.full_path)


async def record(
    conn: Connection,
    actor: Actor,
    entity: Entity,
    event_name: str,
    message: str,
    *,
    target_type: str | None = None,
    target_id: str | int | None = None,
    target_details: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    author_id, author_name, token_kind = actor.author
    await sql.insert_event(
        conn,
        entity=entity,
        event_name=event_name,
        author_id=author_id,
        author_name=author_name,
        token_kind=token_kind,
        ip_address=actor.ip_address,
        target_type=target_type,
        target_id=target_id,
        target_details=target_details,
        details={"custom_message": message, **(details or {})},
        now=now or utcnow(),
    )
