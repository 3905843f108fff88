"""Admin area: the generic package size limit and feature flags (administrators only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain.features import state
from cargobay.errors import CargobayError, bad_request
from cargobay.services import features
from cargobay.web.account import require_write
from cargobay.web.admin import admin_visitor
from cargobay.web.format import parse_size
from cargobay.web.page import actor, describe, field, flash, redirect, registry_of, render

URL = "/admin/registry"


async def registry_page(request: Request) -> Response:
    who = await admin_visitor(request)
    registry = registry_of(request)
    flags = await features.list_features(registry, who.principal)
    return render(
        request,
        "admin_registry.html",
        max_file_size=await features.max_file_size(registry, who.principal),
        default_max_file_size=registry.settings.max_file_size,
        flags=[(flag, state(flag.definition, flag.gates)) for flag in flags],
    )


async def set_max_file_size(request: Request) -> Response:
    who = await admin_visitor(request)
    require_write(who)
    try:
        size = parse_size(field(request, "max_file_size"))
        if size is None:
            raise bad_request(
                "Give a size in bytes, or with a unit: 500 MiB, 5 GiB, 0 for no limit."
            )
        await features.set_max_file_size(registry_of(request), actor(request, who), size)
    except CargobayError as exc:
        flash(request, "error", f"The size limit was not changed: {describe(exc)}")
    else:
        flash(request, "success", "Maximum file size saved.")
    return redirect(URL)


async def set_flag(request: Request) -> Response:
    who = await admin_visitor(request)
    require_write(who)
    name = request.path_params["name"]
    choice = field(request, "state")
    target = field(request, "target")
    kind = field(request, "target_kind") or "project"
    try:
        if choice == "default":
            await features.delete_feature(registry_of(request), actor(request, who), name)
        elif choice in ("on", "off"):
            await features.set_feature(
                registry_of(request),
                actor(request, who),
                name,
                choice == "on",
                project=target if target and kind == "project" else None,
                namespace=target if target and kind == "namespace" else None,
            )
        else:
            raise bad_request("Choose on, off or default.")
    except CargobayError as exc:
        flash(request, "error", f"The feature flag was not changed: {describe(exc)}")
    else:
        where = f" for {target}" if target and choice != "default" else ""
        flash(request, "success", f"Feature flag {name}: {choice}{where}.")
    return redirect(URL)
