"""GitLab's Features API (lib/api/features.rb) for the flags Cargobay has, and the plan
limits API (lib/api/admin/plan_limits.rb) for generic_packages_max_file_size.
Administrators only; 401 for anonymous callers and 403 for others come before any
parameter check, as GitLab's ``before { authenticated_as_admin! }`` does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.admin_params import Params
from cargobay.api.params import client_address, path_value, principal_of, registry_of
from cargobay.api.responses import json
from cargobay.auth.principal import Principal
from cargobay.domain.features import INSTANCE, state
from cargobay.errors import bad_request, forbidden, validation_error
from cargobay.services import audit, features
from cargobay.services.accounts import acting_user


async def _admin(request: Request) -> Principal:
    principal = await principal_of(request, generic=False)
    acting_user(principal)
    if not principal.is_admin:
        raise forbidden()
    return principal


def feature_entity(feature: features.Feature) -> dict[str, Any]:
    """API::Entities::Feature. ``actors`` lists actors turned on, as Flipper does;
    ``disabled_actors`` (Cargobay) those turned off (see domain/features.py)."""
    definition = feature.definition
    gates: list[dict[str, Any]] = []
    instance = [g for g in feature.gates if g.scope == INSTANCE]
    if instance:
        gates.append({"key": "boolean", "value": instance[0].enabled})
    enabled = [g.actor for g in feature.gates if g.scope != INSTANCE and g.enabled]
    disabled = [g.actor for g in feature.gates if g.scope != INSTANCE and not g.enabled]
    if enabled:
        gates.append({"key": "actors", "value": enabled})
    if disabled:
        gates.append({"key": "disabled_actors", "value": disabled})
    return {
        "name": definition.name,
        "state": state(definition, feature.gates),
        "gates": gates,
        "definition": {
            "name": definition.name,
            "introduced_by_url": None,
            "rollout_issue_url": None,
            "milestone": definition.milestone,
            "log_state_changes": None,
            "type": definition.type,
            "group": definition.group,
            "default_enabled": definition.default_enabled,
        },
    }


async def list_features(request: Request) -> Response:
    principal = await _admin(request)
    found = await features.list_features(registry_of(request), principal)
    return json([feature_entity(f) for f in found])


def _on_off(params: Params) -> bool:
    value = params.values.get("value")
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise bad_request(
        "Cargobay turns flags on or off only: value must be true or false "
        "(percentages are not supported)"
    )


async def set_feature(request: Request) -> Response:
    principal = await _admin(request)
    params = await Params.read(request)
    params.require("value")
    project = params.string("project")
    group = params.string("group")
    namespace = params.string("namespace")
    params.check()
    for unsupported in ("user", "feature_group", "repository"):
        if params.present(unsupported):
            raise bad_request(
                f"Cargobay gates flags per project, group or namespace, not {unsupported}"
            )
    if params.string("key") not in (None, "", "boolean"):
        raise bad_request("Cargobay supports only boolean gates")
    if sum(1 for target in (project, group, namespace) if target) > 1:
        raise bad_request("give one of project, group or namespace")
    feature = await features.set_feature(
        registry_of(request),
        audit.Actor(principal, client_address(request)),
        path_value(request, "name"),
        _on_off(params),
        project=project or None,
        namespace=group or namespace or None,
    )
    return json(feature_entity(feature), 201)


async def delete_feature(request: Request) -> Response:
    principal = await _admin(request)
    await features.delete_feature(
        registry_of(request),
        audit.Actor(principal, client_address(request)),
        path_value(request, "name"),
    )
    return Response(status_code=204)


# ---------------------------------------------------------------- plan limits


def _plan_name(params: Params) -> None:
    params.choice("plan_name", ("default",))


async def get_plan_limits(request: Request) -> Response:
    principal = await _admin(request)
    params = await Params.read(request)
    _plan_name(params)
    params.check()
    size = await features.max_file_size(registry_of(request), principal)
    return json({"generic_packages_max_file_size": size})


async def put_plan_limits(request: Request) -> Response:
    principal = await _admin(request)
    params = await Params.read(request)
    _plan_name(params)
    size = params.integer("generic_packages_max_file_size", limit=2**63 - 1)  # BIGINT
    params.check()
    registry = registry_of(request)
    if size is None:
        return json(
            {"generic_packages_max_file_size": await features.max_file_size(registry, principal)}
        )
    if size < 0:
        raise validation_error(
            {"generic_packages_max_file_size": ["must be greater than or equal to 0"]}
        )
    await features.set_max_file_size(
        registry, audit.Actor(principal, client_address(request)), size
    )
    return json({"generic_packages_max_file_size": size})
