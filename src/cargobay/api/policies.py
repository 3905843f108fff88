"""Registry policy routes: namespace duplicate settings, project cleanup policies with
their preview and on-demand run, and package protection rules (GitLab's REST API for the
last; documented Cargobay endpoints for the first two, which GitLab offers only through
GraphQL). See docs/policies.md."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.admin_params import Params
from cargobay.api.params import (
    client_address,
    path_value,
    principal_of,
    registry_of,
    required_path_id,
)
from cargobay.api.responses import gitlab_time, json
from cargobay.auth.principal import Principal
from cargobay.domain import protection
from cargobay.domain.cleanup import KEEP_N_DUPLICATED, Removal
from cargobay.domain.models import PackageType, ProtectionRule
from cargobay.services import audit, cleanup, policies
from cargobay.services.accounts import acting_user

MAX_DAYS = 36_500


def _actor(request: Request, principal: Principal) -> audit.Actor:
    return audit.Actor(principal, client_address(request))


# ---------------------------------------------------------------- duplicate settings


def _settings_entity(settings: policies.DuplicateSettings) -> dict[str, Any]:
    return {
        "generic_duplicates_allowed": settings.generic_duplicates_allowed,
        "generic_duplicate_exception_regex": settings.generic_duplicate_exception_regex,
    }


async def _get_settings(request: Request, *, groups_only: bool) -> Response:
    principal = await principal_of(request, generic=False)
    settings = await policies.duplicate_settings(
        registry_of(request), principal, path_value(request, "id"), groups_only=groups_only
    )
    return json(_settings_entity(settings))


async def _put_settings(request: Request, *, groups_only: bool) -> Response:
    principal = await principal_of(request, generic=False)
    acting_user(principal)
    params = await Params.read(request)
    allowed = params.boolean("generic_duplicates_allowed")
    regex = params.string("generic_duplicate_exception_regex")
    params.check()
    settings = await policies.update_duplicate_settings(
        registry_of(request),
        _actor(request, principal),
        path_value(request, "id"),
        allowed=allowed,
        regex=regex,
        groups_only=groups_only,
    )
    return json(_settings_entity(settings))


async def get_group_settings(request: Request) -> Response:
    return await _get_settings(request, groups_only=True)


async def put_group_settings(request: Request) -> Response:
    return await _put_settings(request, groups_only=True)


async def get_namespace_settings(request: Request) -> Response:
    return await _get_settings(request, groups_only=False)


async def put_namespace_settings(request: Request) -> Response:
    return await _put_settings(request, groups_only=False)


# ---------------------------------------------------------------- cleanup policy


def _policy_entity(view: cleanup.PolicyView) -> dict[str, Any]:
    policy = view.policy
    return {
        "keep_n_duplicated_package_files": policy.keep_n_duplicated_package_files,
        "keep_n_latest_versions": policy.keep_n_latest_versions,
        "remove_older_than_days": policy.remove_older_than_days,
        "remove_not_downloaded_days": policy.remove_not_downloaded_days,
        "keep_pattern": policy.keep_pattern,
        "next_run_at": gitlab_time(view.next_run_at),
        "last_run_at": gitlab_time(view.last_run_at),
    }


def removals_entity(removals: list[Removal]) -> dict[str, list[dict[str, Any]]]:
    packages = [
        {"id": r.package_id, "name": r.name, "version": r.version, "reason": r.reason}
        for r in removals
        if r.file_id is None
    ]
    files = [
        {
            "id": r.file_id,
            "package_id": r.package_id,
            "package_name": r.name,
            "package_version": r.version,
            "file_name": r.file_name,
            "reason": r.reason,
        }
        for r in removals
        if r.file_id is not None
    ]
    return {"packages": packages, "package_files": files}


def _days(params: Params, name: str, changes: dict[str, Any]) -> None:
    """An optional whole number of days (or versions); null or "" clears the rule."""
    if name not in params.values:
        return
    raw = params.values[name]
    if raw is None or raw == "":
        changes[name] = None
        return
    value = params.integer(name)
    if value is None:
        return
    if not 1 <= value <= MAX_DAYS:
        params.errors.append(f"{name} does not have a valid value")
        return
    changes[name] = value


async def get_cleanup_policy(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    view = await cleanup.get_policy(registry_of(request), principal, path_value(request, "id"))
    return json(_policy_entity(view))


async def put_cleanup_policy(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    acting_user(principal)
    params = await Params.read(request)
    changes: dict[str, Any] = {}
    keep_n = params.choice("keep_n_duplicated_package_files", KEEP_N_DUPLICATED)
    if keep_n is not None:
        changes["keep_n_duplicated_package_files"] = keep_n
    for name in ("keep_n_latest_versions", "remove_older_than_days", "remove_not_downloaded_days"):
        _days(params, name, changes)
    if "keep_pattern" in params.values:
        changes["keep_pattern"] = params.string("keep_pattern") or ""
    params.check()
    view = await cleanup.update_policy(
        registry_of(request), _actor(request, principal), path_value(request, "id"), changes
    )
    return json(_policy_entity(view))


async def preview_cleanup(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    removals = await cleanup.preview(registry_of(request), principal, path_value(request, "id"))
    return json(removals_entity(removals))


async def run_cleanup(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    removals = await cleanup.run_now(
        registry_of(request), _actor(request, principal), path_value(request, "id")
    )
    return json(removals_entity(removals))


# ---------------------------------------------------------------- protection rules


def rule_entity(rule: ProtectionRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "project_id": rule.project_id,
        "package_name_pattern": rule.package_name_pattern,
        "package_type": PackageType(rule.package_type).name,
        "minimum_access_level_for_delete": protection.level_name(
            rule.minimum_access_level_for_delete
        ),
        "minimum_access_level_for_push": protection.level_name(rule.minimum_access_level_for_push),
    }


def _level(params: Params, name: str, allowed: dict[str, int]) -> Any:
    """A level name, None when explicitly cleared (null or ""), ``...`` when absent."""
    if name not in params.values:
        return ...
    if params.values[name] in (None, ""):
        return None
    return params.choice(name, tuple(allowed))


def _rule_change(params: Params, *, creating: bool) -> policies.RuleChange:
    if creating:
        params.require("package_name_pattern", "package_type")
    pattern = (
        params.string("package_name_pattern") if "package_name_pattern" in params.values else ...
    )
    package_type = (
        params.choice("package_type", protection.RULE_PACKAGE_TYPES)
        if "package_type" in params.values
        else ...
    )
    push = _level(params, "minimum_access_level_for_push", protection.PUSH_LEVELS)
    delete = _level(params, "minimum_access_level_for_delete", protection.DELETE_LEVELS)
    params.check()
    return policies.RuleChange(pattern, package_type, push, delete)


def _rule_id(request: Request) -> int:
    return required_path_id(request, "package_protection_rule_id")


async def list_rules(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    acting_user(principal)
    rules = await policies.list_rules(registry_of(request), principal, path_value(request, "id"))
    return json([rule_entity(rule) for rule in rules])


async def create_rule(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    change = _rule_change(await Params.read(request), creating=True)  # Grape: params first
    acting_user(principal)
    rule = await policies.create_rule(
        registry_of(request), _actor(request, principal), path_value(request, "id"), change
    )
    return json(rule_entity(rule), 201)


async def update_rule(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    rule_id = _rule_id(request)
    change = _rule_change(await Params.read(request), creating=False)
    acting_user(principal)
    rule = await policies.update_rule(
        registry_of(request), _actor(request, principal), path_value(request, "id"), rule_id, change
    )
    return json(rule_entity(rule))


async def delete_rule(request: Request) -> Response:
    principal = await principal_of(request, generic=False)
    rule_id = _rule_id(request)
    acting_user(principal)
    await policies.delete_rule(
        registry_of(request), _actor(request, principal), path_value(request, "id"), rule_id
    )
    return Response(status_code=204)
