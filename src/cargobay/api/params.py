"""Reading a request the way GitLab's Grape endpoints do: path values decoded from the raw
path, credentials resolved before parameters are validated, Grape-shaped 400 bodies."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request

from cargobay.auth.authenticate import authenticate
from cargobay.auth.credentials import read_credentials
from cargobay.auth.principal import Principal
from cargobay.domain.models import utcnow
from cargobay.services.registry import Registry


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def path_value(request: Request, name: str) -> str:
    """A path parameter, percent-decoded (routing ran on the undecoded path)."""
    return decoded(request.path_params[name])


def decoded(raw: str) -> str:
    """An undecoded path segment, percent-decoded as every handler reads it."""
    return unquote(raw, errors="surrogateescape")


async def principal_of(request: Request, *, generic: bool) -> Principal:
    creds = read_credentials(request.headers, request.query_params)
    if creds.empty:
        return Principal()
    async with registry_of(request).db.read() as conn:
        return await authenticate(conn, creds, generic=generic, method=request.method, now=utcnow())


def check_values(
    request: Request, name: str, allowed: tuple[str, ...]
) -> tuple[str | None, str | None]:
    """(value, error) for an optional enumerated query parameter."""
    value = request.query_params.get(name)
    if value is None or value in allowed:
        return value, None
    return None, f"{name} does not have a valid value"


def client_address(request: Request) -> str | None:
    """The caller's address as the server saw it (for the audit log)."""
    return request.client.host if request.client else None
