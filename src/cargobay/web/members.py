"""Members of a project (``/<project>/-/project_members``) or a group
(``/groups/<group>/-/group_members``): list, add with a role, change a role, remove.

Everything goes through services/members.py, the management API's use cases, so the
rules are the API's: Maintainers manage a project's members and Owners a group's, nobody
but an administrator grants a role above their own, and a group keeps its last Owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain.models import AccessLevel
from cargobay.errors import CargobayError, Unauthorized, bad_request, forbidden
from cargobay.services import browse
from cargobay.services import members as member_service
from cargobay.web.account import require_write
from cargobay.web.forms import FormState, refuse_from
from cargobay.web.page import (
    describe,
    field,
    flash,
    form_of,
    path_id,
    redirect,
    registry_of,
    render,
    visitor,
)

ROLES = [(level, AccessLevel(level).name.title()) for level in member_service.MEMBER_LEVELS]
ADD_FIELDS = {
    "User Not Found": "username",
    "Member already exists": "username",
    "access_level": "access_level",
}


@dataclass(frozen=True, slots=True)
class Place:
    """The project or group whose members a page shows, and the visitor's role there."""

    kind: str  # "project" | "group"
    full_path: str
    level: int
    header: dict[str, Any]  # what the page header macro needs

    @property
    def url(self) -> str:
        if self.kind == "group":
            return f"/groups/{self.full_path}/-/group_members"
        return f"/{self.full_path}/-/project_members"

    @property
    def manages(self) -> bool:
        manager = AccessLevel.OWNER if self.kind == "group" else AccessLevel.MAINTAINER
        return self.level >= manager

    def require_manager(self) -> None:
        if not self.manages:
            who = "Owners" if self.kind == "group" else "Maintainers and Owners"
            raise forbidden(f"Only {who} manage the members of this {self.kind}.")


async def _place(request: Request) -> Place:
    who = await visitor(request)
    if not who.signed_in:
        raise Unauthorized({"message": "Sign in to see members."})
    registry = registry_of(request)
    if "group" in request.path_params:
        overview = await browse.group_overview(
            registry, who.principal, request.path_params["group"]
        )
        header = {"group": overview.group, "level": overview.level}
        return Place("group", overview.group.row.full_path, overview.level, header)
    access = await browse.project(registry, who.principal, request.path_params["project"])
    header = {"project": access.project, "can": access.can}
    return Place("project", access.project.full_path, access.can.access_level, header)


async def _page(
    request: Request, place: Place, add: FormState | None = None, status: int = 200
) -> Response:
    who = await visitor(request)
    registry = registry_of(request)
    rows = await member_service.members_here(
        registry, who.principal, place.kind, place.full_path, limit=500
    )
    return render(
        request,
        "members.html",
        status,
        place=place,
        members=rows,
        roles=ROLES,
        role_name=lambda level: AccessLevel(level).name.title(),
        f=add or FormState("member"),
        tab="members",
        **place.header,
    )


async def members_page(request: Request) -> Response:
    return await _page(request, await _place(request))


def _level(request: Request) -> int:
    raw = field(request, "access_level")
    if not raw.isascii() or not raw.isdigit() or int(raw) not in member_service.MEMBER_LEVELS:
        raise bad_request("Choose a role from the list.")
    return int(raw)


def _expiry(request: Request) -> date | None:
    raw = field(request, "expires_at")
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise bad_request("Give the expiration date as YYYY-MM-DD.") from None


async def add_member(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    place = await _place(request)
    place.require_manager()
    state = FormState.of("member", form_of(request))
    username = field(request, "username").removeprefix("@")
    if not username:
        state.refuse("username", "Give the username of the person to add.")
    try:
        level = _level(request)
    except CargobayError as exc:
        state.refuse("access_level", describe(exc))
    try:
        expires_at = _expiry(request)
    except CargobayError as exc:
        state.refuse("expires_at", describe(exc))
    if not state.failed:
        try:
            await member_service.add_member(
                registry_of(request),
                who.principal,
                place.kind,
                place.full_path,
                user_ref=username,
                access_level=level,
                expires_at=expires_at,
            )
        except CargobayError as exc:
            refuse_from(state, exc, ADD_FIELDS)
    if state.failed:
        return await _page(request, place, state, 400)
    flash(request, "success", f"{username} is now a {AccessLevel(level).name.title()} here.")
    return redirect(place.url)


def _why(exc: CargobayError) -> str:
    return describe(exc) or "your role does not allow it"


async def change_role(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    place = await _place(request)
    place.require_manager()
    try:
        member = await member_service.update_member(
            registry_of(request),
            who.principal,
            place.kind,
            place.full_path,
            path_id(request, "user_id"),
            access_level=_level(request),
            expires_at=None,
            expires_given=False,
        )
    except CargobayError as exc:
        flash(request, "error", f"The role was not changed: {_why(exc)}.")
    else:
        role = AccessLevel(member.access_level).name.title()
        flash(request, "success", f"{member.username} is now a {role} here.")
    return redirect(place.url)


async def remove_member(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    place = await _place(request)
    try:
        await member_service.remove_member(
            registry_of(request),
            who.principal,
            place.kind,
            place.full_path,
            path_id(request, "user_id"),
        )
    except CargobayError as exc:
        flash(request, "error", f"The member was not removed: {_why(exc)}.")
    else:
        flash(request, "success", "Member removed.")
    return redirect(place.url)
