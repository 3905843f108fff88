"""Settings > Packages and registries, for a group (Owners): whether generic packages may
be published twice with the same file name, and the exceptions (spec §8)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.errors import CargobayError
from cargobay.services import browse, policies
from cargobay.web.account import require_write
from cargobay.web.page import actor, describe, field, flash, form_of, redirect, registry_of, render
from cargobay.web.page import visitor as visitor_of


async def group_settings(request: Request) -> Response:
    who = await visitor_of(request)
    registry = registry_of(request)
    ref = request.path_params["group"]
    overview = await browse.group_overview(registry, who.principal, ref)
    current = await policies.duplicate_settings(registry, who.principal, ref, groups_only=True)
    return render(
        request,
        "group_settings.html",
        group=overview.group,
        level=overview.level,
        tab="settings",
        group_settings=True,
        settings=current,
        max_regex=policies.MAX_REGEX_LENGTH,
    )


async def set_duplicates(request: Request) -> Response:
    who = await visitor_of(request)
    require_write(who)
    ref = request.path_params["group"]
    try:
        await policies.update_duplicate_settings(
            registry_of(request),
            actor(request, who),
            ref,
            allowed=form_of(request).get("generic_duplicates_allowed") == "on",
            regex=field(request, "generic_duplicate_exception_regex"),
            groups_only=True,
        )
    except CargobayError as exc:
        if exc.status in (403, 404):
            raise
        flash(request, "error", f"The duplicate settings were not saved: {describe(exc)}")
    else:
        flash(request, "success", "Duplicate settings saved.")
    return redirect(f"/groups/{ref}/-/settings/packages_and_registries")
