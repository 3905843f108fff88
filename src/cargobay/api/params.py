"""Reading a request the way GitLab's Grape endpoints do: path values decoded from the raw
path, credentials resolved before parameters are validated, Grape-shaped 400 bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from starlette.requests import Request

import cargobay.api.convertors  # noqa: F401  (registers {name:row_id})
from cargobay.auth.authenticate import authenticate
from cargobay.auth.credentials import read_credentials
from cargobay.auth.principal import Principal
from cargobay.domain.integers import ID_MAX, ascii_integer, row_id
from cargobay.domain.models import utcnow
from cargobay.errors import bad_params
from cargobay.services.registry import Registry


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def path_value(request: Request, name: str) -> str:
    """A path parameter, percent-decoded (routing ran on the undecoded path)."""
    return decoded(request.path_params[name])


def decoded(raw: str) -> str:
    """An undecoded path segment, percent-decoded as every handler reads it. Bytes that
    are not UTF-8 (``%ff``) become U+FFFD, which no name or path the registry stores
    holds: they reach the validators and lookups as text that matches nothing, never as
    surrogates that the database driver or ``quote()`` cannot encode."""
    return unquote(raw, errors="replace")


def path_id(request: Request, name: str, errors: list[str]) -> int:
    """An integer path parameter (``:package_id``, ``:package_file_id``, a rule or event
    id): ASCII digits, else Grape's ``<name> is invalid`` is added to ``errors``. An id
    past the column's range is NO_ROW, which the service answers with its own 404."""
    value = row_id(path_value(request, name))
    if value is None:
        errors.append(f"{name} is invalid")
        return 0
    return value


def required_path_id(request: Request, name: str) -> int:
    """``path_id`` alone: a bad value is a 400 at once."""
    errors: list[str] = []
    value = path_id(request, name, errors)
    if errors:
        raise bad_params(*errors)
    return value


def converted_id(request: Request, name: str) -> int:
    """A path parameter the route matched as ``{name:row_id}`` (api/convertors.py):
    ASCII digits, NO_ROW past the column's range."""
    value: int = request.path_params[name]
    return value


def query_integer(
    request: Request, name: str, errors: list[str], *, low: int = -ID_MAX, high: int = ID_MAX
) -> int | None:
    """An optional integer query parameter (``page``, ``per_page``): an optionally signed
    run of ASCII digits within [low, high], else ``<name> is invalid``. None: absent or
    empty."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = ascii_integer(raw)
    if value is None or not low <= value <= high:
        errors.append(f"{name} is invalid")
        return None
    return value


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


def if_unmodified_since(request: Request) -> datetime | None:
    """``If-Unmodified-Since`` as naive UTC; None when absent or unreadable (ignored,
    as RFC 9110 says and GitLab does)."""
    value = request.headers.get("if-unmodified-since")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
