"""New project and new group (GitLab's ``/projects/new`` and ``/groups/new``), through
the services the management API uses (``create_project``, ``create_group``), so who may
create what, and the path rules, are the API's."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import Visibility
from cargobay.errors import CargobayError, Unauthorized
from cargobay.services import accounts
from cargobay.services import groups as group_service
from cargobay.services import projects as project_service
from cargobay.web.account import require_write
from cargobay.web.forms import FormState, refuse_from
from cargobay.web.page import Visitor, field, flash, form_of, redirect, registry_of, render, visitor

VISIBILITIES = {
    "private": "Private: only members can see it.",
    "internal": "Internal: every signed-in user can see it.",
    "public": "Public: anyone, signed in or not, can see it.",
}
# What the services name in a refusal -> the form's field.
PROJECT_FIELDS = {
    "name": "name",
    "path": "path",
    "namespace": "namespace_id",
    "visibility_level": "visibility",
}
GROUP_FIELDS = {"name": "name", "path": "path", "visibility_level": "visibility"}


async def _writer(request: Request) -> Visitor:
    who = await visitor(request)
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to create projects and groups."})
    return who


async def _group_choices(request: Request, who: Visitor) -> list[tuple[int, str]]:
    """Groups the visitor belongs to (all of them for an administrator): the service
    refuses one where their role is too low, beside the field."""
    _, views = await group_service.list_groups(
        registry_of(request),
        who.principal,
        all_available=who.is_admin,
        owned=False,
        search=None,
        top_level_only=False,
        visibility=None,
        order_by="full_path",
        descending=False,
        offset=0,
        limit=100,
    )
    return [(v.row.id, v.row.full_path) for v in views]


def _status_of(exc: CargobayError) -> int:
    """A refused form is answered 400, or 403 when the role is too low (as the API)."""
    return 403 if exc.status == 403 else 400


def _number(raw: str) -> int | None:
    return ascii_integer(raw) if raw and ascii_digits(raw) else None


def _visibility(state: FormState, raw: str) -> Visibility:
    if raw not in VISIBILITIES:
        state.refuse("visibility", "Choose private, internal or public.")
        return Visibility.private
    return Visibility[raw]


# ---------------------------------------------------------------- projects


async def _project_form(request: Request, who: Visitor, state: FormState, status: int) -> Response:
    me = await accounts.current_user(registry_of(request), who.principal)
    choices = [(me.namespace_id, f"{me.username} (your personal namespace)")]
    choices += await _group_choices(request, who)
    chosen = state.value("namespace_id", request.query_params.get("namespace_id", ""))
    return render(
        request,
        "new_project.html",
        status,
        f=state,
        namespaces=choices,
        chosen=str(chosen or me.namespace_id),
        visibilities=VISIBILITIES,
    )


async def new_project(request: Request) -> Response:
    who = await _writer(request)
    return await _project_form(request, who, FormState("project"), 200)


async def create_project(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    state = FormState.of("project", form_of(request))
    status = 400
    name = field(request, "name")
    if not name:
        state.refuse("name", "Give the project a name.")
    visibility = _visibility(state, field(request, "visibility"))
    namespace_id = _number(field(request, "namespace_id"))
    if namespace_id is None:
        state.refuse("namespace_id", "Choose where the project goes.")
    if not state.failed:
        try:
            view = await project_service.create_project(
                registry_of(request),
                who.principal,
                name=name,
                path=field(request, "path") or None,
                namespace_id=namespace_id,
                visibility=visibility,
                registry_access=None,
                packages_enabled=None,
                description=field(request, "description"),
            )
        except CargobayError as exc:
            refuse_from(state, exc, PROJECT_FIELDS)
            status = _status_of(exc)
        else:
            flash(request, "success", f"Project {view.row.full_path} created.")
            return redirect(f"/{view.row.full_path}/-/packages")
    return await _project_form(request, who, state, status)


# ---------------------------------------------------------------- groups


async def _group_form(request: Request, who: Visitor, state: FormState, status: int) -> Response:
    chosen = state.value("parent_id", request.query_params.get("parent_id", ""))
    return render(
        request,
        "new_group.html",
        status,
        f=state,
        parents=await _group_choices(request, who),
        chosen=str(chosen),
        visibilities=VISIBILITIES,
    )


async def new_group(request: Request) -> Response:
    who = await _writer(request)
    return await _group_form(request, who, FormState("group"), 200)


async def create_group(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    state = FormState.of("group", form_of(request))
    status = 400
    name = field(request, "name")
    path = field(request, "path")
    if not name:
        state.refuse("name", "Give the group a name.")
    if not path:
        state.refuse("path", "Give the group a path (letters, digits, '_', '-', '.').")
    visibility = _visibility(state, field(request, "visibility"))
    parent_raw = field(request, "parent_id")
    parent_id = _number(parent_raw)
    if parent_raw and parent_id is None:
        state.refuse("parent_id", "Choose a parent group from the list.")
    if not state.failed:
        changes: dict[str, Any] = {"name": name, "path": path, "parent_id": parent_id}
        try:
            view = await group_service.create_group(
                registry_of(request),
                who.principal,
                visibility=visibility,
                description=field(request, "description"),
                **changes,
            )
        except CargobayError as exc:
            refuse_from(state, exc, GROUP_FIELDS)
            status = _status_of(exc)
        else:
            flash(request, "success", f"Group {view.row.full_path} created.")
            return redirect(f"/groups/{view.row.full_path}")
    return await _group_form(request, who, state, status)
