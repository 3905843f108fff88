"""Deploy tokens, project access tokens (lib/api/deploy_tokens.rb,
resource_access_tokens.rb) and our CI job endpoint (docs/ci-job-tokens.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import account_entities as entities
from cargobay.api.admin_namespaces import Handler
from cargobay.api.admin_params import Params, path_int, respond_page
from cargobay.api.pagination import base_url, parse_page
from cargobay.api.params import path_value, principal_of, registry_of
from cargobay.api.responses import json
from cargobay.auth.authenticate import unauthorized
from cargobay.domain.models import utcnow
from cargobay.services import ci, resource_tokens
from cargobay.services.admin import JOB_STATUSES
from cargobay.services.tokens import DEPLOY_SCOPES

V4 = "/api/v4"


# ---------------------------------------------------------------- deploy tokens


def deploy_token_handlers(kind: str) -> dict[str, Handler]:
    async def list_tokens(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        params = await Params.read(request)
        page = parse_page(request, params.errors)
        active = params.boolean("active")
        params.check()
        listing = await resource_tokens.list_deploy_tokens(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            active=active,
            offset=page.offset,
            limit=page.size,
        )
        now = utcnow()
        items = [entities.deploy_token(r, now) for r in listing.rows]
        return respond_page(request, items, page, listing.total)

    async def get_token(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        row = await resource_tokens.get_deploy_token(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            path_int(request, "token_id"),
        )
        return json(entities.deploy_token(row, utcnow()))

    async def create_token(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        if principal.user is None or principal.job is not None:
            raise unauthorized(generic=False)
        params = await Params.read(request)
        params.require("name", "scopes")
        name = params.string("name")
        scopes = params.strings("scopes", DEPLOY_SCOPES)
        expires_at = params.moment("expires_at")
        username = params.string("username")
        params.check()
        row, token = await resource_tokens.create_deploy_token(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            name=name or "",
            scopes=scopes or [],
            username=username,
            expires_at=expires_at,
        )
        return json({**entities.deploy_token(row, utcnow()), "token": token}, 201)

    async def delete_token(request: Request) -> Response:
        principal = await principal_of(request, generic=False)
        if principal.user is None or principal.job is not None:
            raise unauthorized(generic=False)
        await resource_tokens.delete_deploy_token(
            registry_of(request),
            principal,
            kind,
            path_value(request, "id"),
            path_int(request, "token_id"),
        )
        return Response(status_code=204)

    return {"list": list_tokens, "get": get_token, "create": create_token, "delete": delete_token}


def deploy_token_routes(kind: str) -> list[BaseRoute]:
    base = f"{V4}/{kind}s/{{id}}/deploy_tokens"
    handlers = deploy_token_handlers(kind)
    return [
        Route(base, handlers["list"], methods=["GET"]),
        Route(base, handlers["create"], methods=["POST"]),
        Route(f"{base}/{{token_id:row_id}}", handlers["get"], methods=["GET"]),
        Route(f"{base}/{{token_id:row_id}}", handlers["delete"], methods=["DELETE"]),
    ]


# ---------------------------------------------------------------- project access tokens


async def list_access_tokens(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    params = await Params.read(request)
    page = parse_page(request, params.errors)
    params.check()
    listing = await resource_tokens.list_access_tokens(
        registry_of(request),
        principal,
        path_value(request, "id"),
        offset=page.offset,
        limit=page.size,
    )
    today = utcnow().date()
    items = [entities.resource_access_token(r, r.project_id, today) for r in listing.rows]
    return respond_page(request, items, page, listing.total)


async def get_access_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    row = await resource_tokens.get_access_token(
        registry_of(request), principal, path_value(request, "id"), path_int(request, "token_id")
    )
    return json(entities.resource_access_token(row, row.project_id, utcnow().date()))


async def create_access_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    params = await Params.read(request)
    params.require("name", "scopes")
    name = params.string("name")
    scopes = params.strings("scopes", resource_tokens.RESOURCE_SCOPES)
    expires_at = params.day("expires_at")
    access_level = params.int_choice("access_level", resource_tokens.TOKEN_LEVELS)
    params.check()
    row, token = await resource_tokens.create_access_token(
        registry_of(request),
        principal,
        path_value(request, "id"),
        name=name or "",
        scopes=scopes or [],
        access_level=access_level or 40,
        expires_at=expires_at,
    )
    entity = entities.resource_access_token(row, row.project_id, utcnow().date())
    return json({**entity, "token": token}, 201)


async def revoke_access_token(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    await resource_tokens.revoke_access_token(
        registry_of(request), principal, path_value(request, "id"), path_int(request, "token_id")
    )
    return Response(status_code=204)


# ---------------------------------------------------------------- CI jobs (ours)


def _job_entity(request: Request, view: ci.JobView) -> dict[str, Any]:
    return entities.ci_job(view.row, view.runner, base_url(request))


async def start_job(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    params = await Params.read(request)
    user_id = params.integer("user_id")
    username = params.string("username")
    git_ref = params.string("ref") or "main"
    sha = params.string("sha") or "0" * 40
    name = params.string("name") or "job"
    pipeline_id = params.integer("pipeline_id")
    if len(git_ref) > 255:
        params.errors.append("ref is too long (maximum is 255 characters)")
    if len(sha) > 64:
        params.errors.append("sha is too long (maximum is 64 characters)")
    params.check()
    view, token = await ci.start_job(
        registry_of(request),
        principal,
        path_value(request, "id"),
        user_ref=user_id if user_id is not None else username,
        git_ref=git_ref,
        sha=sha,
        name=name,
        pipeline_id=pipeline_id,
    )
    return json({**_job_entity(request, view), "token": token}, 201)


async def get_job(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    view = await ci.get_job(
        registry_of(request), principal, path_value(request, "id"), path_int(request, "job_id")
    )
    return json(_job_entity(request, view))


async def finish_job(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    if principal.user is None or principal.job is not None:
        raise unauthorized(generic=False)
    params = await Params.read(request)
    params.require("status")
    status = params.choice("status", tuple(sorted(JOB_STATUSES)))
    params.check()
    assert status is not None
    view = await ci.finish_job(
        registry_of(request),
        principal,
        path_value(request, "id"),
        path_int(request, "job_id"),
        status,
    )
    return json(_job_entity(request, view))


CI_JOBS = f"{V4}/projects/{{id}}/cargobay/ci/jobs"

routes: list[BaseRoute] = [
    *deploy_token_routes("project"),
    *deploy_token_routes("group"),
    Route(f"{V4}/projects/{{id}}/access_tokens", list_access_tokens, methods=["GET"]),
    Route(f"{V4}/projects/{{id}}/access_tokens", create_access_token, methods=["POST"]),
    Route(
        f"{V4}/projects/{{id}}/access_tokens/{{token_id:row_id}}", get_access_token, methods=["GET"]
    ),
    Route(
        f"{V4}/projects/{{id}}/access_tokens/{{token_id:row_id}}",
        revoke_access_token,
        methods=["DELETE"],
    ),
    Route(CI_JOBS, start_job, methods=["POST"]),
    Route(f"{CI_JOBS}/{{job_id:row_id}}", get_job, methods=["GET"]),
    Route(f"{CI_JOBS}/{{job_id:row_id}}", finish_job, methods=["PUT"]),
]
