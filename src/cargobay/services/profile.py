"""The signed-in user's own account: personal access tokens they create for themselves.
(Listing and revoking them are services.accounts' use cases, shared with the API.)"""

from __future__ import annotations

from datetime import date

from cargobay.auth.principal import Principal
from cargobay.domain.models import utcnow
from cargobay.errors import bad_request
from cargobay.services import tokens
from cargobay.services.accounts import acting_user
from cargobay.services.registry import Registry

MAX_NAME_LENGTH = 255


async def create_own_token(
    registry: Registry,
    principal: Principal,
    *,
    name: str,
    scopes: list[str],
    expires_at: date | None,
) -> tokens.NewToken:
    """A personal access token for the caller; the token text is returned once."""
    me = acting_user(principal)
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise bad_request(f"Give the token a name (up to {MAX_NAME_LENGTH} characters).")
    if not scopes:
        raise bad_request("Choose at least one scope.")
    if expires_at is not None and expires_at <= utcnow().date():
        raise bad_request("Expiration date must be in the future.")
    async with registry.db.write() as conn:
        return await tokens.create_personal_token_in(conn, me, name, scopes, expires_at)
