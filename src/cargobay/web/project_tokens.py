"""A project's access tokens (bots with a role) and deploy tokens, on
``/<project>/-/settings/access_tokens``: create (the secret shown once), list, revoke.

Through services/resource_tokens.py, the management API's use cases: Maintainers manage
both, a project access token's role is at most the creator's own."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain.models import AccessLevel, utcnow
from cargobay.errors import CargobayError, Unauthorized, forbidden
from cargobay.services import browse, resource_tokens
from cargobay.services.access import ProjectAccess
from cargobay.web.account import require_write
from cargobay.web.forms import FormState, refuse_from
from cargobay.web.page import (
    field,
    flash,
    form_of,
    path_id,
    redirect,
    registry_of,
    render,
    visitor,
)

ACCESS_SCOPES = {
    "api": "Read and write: publish, download and delete packages.",
    "read_api": "Read only: list and download packages.",
}
DEPLOY_SCOPES = {
    "read_package_registry": "Download packages.",
    "write_package_registry": "Publish packages.",
}
ROLES = [(level, AccessLevel(level).name.title()) for level in resource_tokens.TOKEN_LEVELS]
DEFAULT_DAYS = 30
ACCESS_FIELDS = {
    "Expiration date": "expires_at",
    "scopes": "scopes",
    "User does not have permission to create project access token with": "access_level",
}
DEPLOY_FIELDS = {"Username": "username", "Scopes": "scopes", "scopes": "scopes"}


async def _maintained(request: Request) -> ProjectAccess:
    who = await visitor(request)
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to manage access tokens."})
    ref = request.path_params["project"]
    access = await browse.project(registry_of(request), who.principal, ref)
    if access.can.access_level < AccessLevel.MAINTAINER:
        raise forbidden("Only Maintainers and Owners manage a project's tokens.")
    return access


def _url(access: ProjectAccess) -> str:
    return f"/{access.project.full_path}/-/settings/access_tokens"


async def _page(
    request: Request,
    access: ProjectAccess,
    *,
    bot: FormState | None = None,
    deploy: FormState | None = None,
    new_token: str = "",
    new_kind: str = "",
    status: int = 200,
) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    ref = str(access.project.id)
    bots = await resource_tokens.list_access_tokens(
        registry, who.principal, ref, offset=0, limit=100
    )
    deploys = await resource_tokens.list_deploy_tokens(
        registry, who.principal, "project", ref, active=None, offset=0, limit=100
    )
    today = utcnow().date()
    return render(
        request,
        "project_tokens.html",
        status,
        project=access.project,
        can=access.can,
        tab="tokens",
        bots=[t for t in bots.rows if not t.revoked],
        deploys=[t for t in deploys.rows if not t.revoked],
        access_scopes=ACCESS_SCOPES,
        deploy_scopes=DEPLOY_SCOPES,
        roles=[(v, n) for v, n in ROLES if v <= access.can.access_level or who.is_admin],
        role_name=lambda level: AccessLevel(level).name.title(),
        b=bot or FormState("bot"),
        d=deploy or FormState("deploy"),
        new_token=new_token,
        new_kind=new_kind,
        default_expiry=(today + timedelta(days=DEFAULT_DAYS)).isoformat(),
        min_expiry=(today + timedelta(days=1)).isoformat(),
    )


async def tokens_page(request: Request) -> Response:
    return await _page(request, await _maintained(request))


def _date(state: FormState) -> date | None:
    raw = state.value("expires_at")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        state.refuse("expires_at", "Give the expiration date as YYYY-MM-DD.")
        return None


def _scopes(state: FormState, allowed: dict[str, str]) -> list[str]:
    scopes = state.chosen("scopes")
    if not scopes:
        state.refuse("scopes", "Choose at least one scope.")
    elif unknown := sorted(set(scopes) - set(allowed)):
        state.refuse("scopes", f"Unknown scope {unknown[0]!r}.")
    return scopes


async def create_access_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    state = FormState.of("bot", form_of(request))
    name = field(request, "name")
    if not name:
        state.refuse("name", "Give the token a name.")
    expires_at = _date(state)
    scopes = _scopes(state, ACCESS_SCOPES)
    raw_level = field(request, "access_level")
    level = int(raw_level) if raw_level.isascii() and raw_level.isdigit() else 0
    if level not in resource_tokens.TOKEN_LEVELS:
        state.refuse("access_level", "Choose a role from the list.")
    if not state.failed:
        try:
            _, secret = await resource_tokens.create_access_token(
                registry_of(request),
                who.principal,
                str(access.project.id),
                name=name,
                scopes=scopes,
                access_level=level,
                expires_at=expires_at,
            )
        except CargobayError as exc:
            refuse_from(state, exc, ACCESS_FIELDS)
        else:
            return await _page(request, access, new_token=secret, new_kind="project access")
    return await _page(request, access, bot=state, status=400)


async def revoke_access_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    await resource_tokens.revoke_access_token(
        registry_of(request), who.principal, str(access.project.id), path_id(request, "token_id")
    )
    flash(request, "success", "The project access token was revoked.")
    return redirect(_url(access))


async def create_deploy_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    state = FormState.of("deploy", form_of(request))
    name = field(request, "name")
    if not name:
        state.refuse("name", "Give the token a name.")
    expires_on = _date(state)
    scopes = _scopes(state, DEPLOY_SCOPES)
    if not state.failed:
        # A deploy token expires at the start of the day it names (GitLab's date field).
        expires_at = datetime.combine(expires_on, time(), UTC) if expires_on else None
        try:
            _, secret = await resource_tokens.create_deploy_token(
                registry_of(request),
                who.principal,
                "project",
                str(access.project.id),
                name=name,
                scopes=scopes,
                username=field(request, "username") or None,
                expires_at=expires_at,
            )
        except CargobayError as exc:
            refuse_from(state, exc, DEPLOY_FIELDS)
        else:
            return await _page(request, access, new_token=secret, new_kind="deploy")
    return await _page(request, access, deploy=state, status=400)


async def revoke_deploy_token(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    await resource_tokens.delete_deploy_token(
        registry_of(request),
        who.principal,
        "project",
        str(access.project.id),
        path_id(request, "token_id"),
    )
    flash(request, "success", "The deploy token was revoked.")
    return redirect(_url(access))
