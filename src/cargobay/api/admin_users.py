"""/version, /user, /users and /personal_access_tokens (lib/api/users.rb, version.rb,
personal_access_tokens.rb)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import account_entities as entities
from cargobay.api.admin_params import Params, path_int, respond_page
from cargobay.api.pagination import base_url, parse_page
from cargobay.api.params import principal_of, registry_of
from cargobay.api.responses import json
from cargobay.auth.credentials import read_credentials
from cargobay.domain.models import utcnow
from cargobay.services import accounts
from cargobay.services.accounts import acting_user
from cargobay.services.tokens import PAT_SCOPES

V4 = "/api/v4"


async def version(request: Request) -> Response:
    acting_user(await principal_of(request, generic=False))
    return json(entities.version())


async def current_user(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await accounts.current_user(registry_of(request), principal)
    base = base_url(request)
    if principal.is_admin:
        return json(entities.user_with_admin(row, base))
    return json(entities.user_public(row, base))


async def list_users(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    active = params.boolean("active")
    blocked = params.boolean("blocked")
    username = params.string("username")
    search = params.string("search")
    params.check()
    state = "blocked" if blocked else "active" if active else None
    listing = await accounts.list_users(
        registry_of(request),
        principal,
        username=username,
        search=search,
        state=state,
        offset=page.offset,
        limit=page.size,
    )
    base = base_url(request)
    shape = entities.user_with_admin if principal.is_admin else entities.user_basic
    return respond_page(request, [shape(r, base) for r in listing.rows], page, listing.total)


async def create_user(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    accounts.acting_admin(principal)  # authenticated_as_admin! comes before validation
    params = await Params.read(request)
    params.require("email")
    params.require("name", "username")
    is_admin = params.boolean("admin")
    params.boolean("skip_confirmation")  # accepted; there is no e-mail confirmation here
    params.check()
    row = await accounts.create_user(
        registry_of(request),
        principal,
        username=params.string("username") or "",
        name=params.string("name") or "",
        email=params.string("email") or "",
        password=params.string("password"),
        is_admin=bool(is_admin),
    )
    return json(entities.user_with_admin(row, base_url(request)), 201)


async def get_user(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await accounts.get_user(registry_of(request), principal, path_int(request, "id"))
    base = base_url(request)
    if principal.is_admin:
        return json(entities.user_with_admin(row, base))
    return json(entities.user(row, base))


async def block_user(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    await accounts.set_blocked(
        registry_of(request), principal, path_int(request, "id"), blocked=True
    )
    return json(True, 201)


async def unblock_user(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    await accounts.set_blocked(
        registry_of(request), principal, path_int(request, "id"), blocked=False
    )
    return json(True, 201)


async def create_user_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    accounts.acting_admin(principal)
    params = await Params.read(request)
    params.require("name", "scopes")
    name = params.string("name")
    scopes = params.strings("scopes", PAT_SCOPES)
    expires_at = params.day("expires_at")
    params.check()
    row, token = await accounts.create_personal_token_for(
        registry_of(request),
        principal,
        path_int(request, "id"),
        name=name or "",
        scopes=scopes or [],
        expires_at=expires_at,
    )
    return json({**entities.personal_access_token(row, utcnow().date()), "token": token}, 201)


async def list_tokens(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    user_id = params.integer("user_id")
    state = params.choice("state", ("active", "inactive"))
    revoked = params.boolean("revoked")
    search = params.string("search")
    params.check()
    listing = await accounts.list_personal_tokens(
        registry_of(request),
        principal,
        user_id=user_id,
        user_id_given="user_id" in params.values,
        state=state,
        revoked=revoked,
        search=search,
        offset=page.offset,
        limit=page.size,
    )
    today = utcnow().date()
    items = [entities.personal_access_token(r, today) for r in listing.rows]
    return respond_page(request, items, page, listing.total)


def _request_token(request: Request) -> str | None:
    creds = read_credentials(request.headers, request.query_params)
    return creds.private_token or creds.bearer


async def get_own_token(request: Request) -> Response:
    row = await accounts.token_of_request(registry_of(request), _request_token(request))
    return json(entities.personal_access_token_with_ips(row, utcnow().date()))


async def revoke_own_token(request: Request) -> Response:
    await accounts.revoke_token_of_request(registry_of(request), _request_token(request))
    return Response(status_code=204)


async def get_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await accounts.get_personal_token(
        registry_of(request), principal, path_int(request, "id")
    )
    return json(entities.personal_access_token_with_ips(row, utcnow().date()))


async def revoke_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    await accounts.revoke_personal_token(registry_of(request), principal, path_int(request, "id"))
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route(f"{V4}/version", version, methods=["GET"]),
    Route(f"{V4}/user", current_user, methods=["GET"]),
    Route(f"{V4}/users", list_users, methods=["GET"]),
    Route(f"{V4}/users", create_user, methods=["POST"]),
    Route(f"{V4}/users/{{id:row_id}}", get_user, methods=["GET"]),
    Route(f"{V4}/users/{{id:row_id}}/block", block_user, methods=["POST"]),
    Route(f"{V4}/users/{{id:row_id}}/unblock", unblock_user, methods=["POST"]),
    Route(f"{V4}/users/{{id:row_id}}/personal_access_tokens", create_user_token, methods=["POST"]),
    Route(f"{V4}/personal_access_tokens", list_tokens, methods=["GET"]),
    Route(f"{V4}/personal_access_tokens/self", get_own_token, methods=["GET"]),
    Route(f"{V4}/personal_access_tokens/self", revoke_own_token, methods=["DELETE"]),
    Route(f"{V4}/personal_access_tokens/{{id:row_id}}", get_token, methods=["GET"]),
    Route(f"{V4}/personal_access_tokens/{{id:row_id}}", revoke_token, methods=["DELETE"]),
]
