"""Settings > Packages and registries, for a project (Maintainers): who may use the
registry, the cleanup policy with its dry-run preview, and package protection rules."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargobay.domain import protection
from cargobay.domain.cleanup import (
    DUPLICATE_FILE,
    KEEP_N_DUPLICATED,
    MAX_KEEP_PATTERN_LENGTH,
    NOT_DOWNLOADED,
    NOT_LATEST,
    OLDER_THAN,
    Removal,
)
from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import AccessLevel, PackageType, RegistryAccess
from cargobay.errors import CargobayError, bad_request, forbidden
from cargobay.services import browse, cleanup, policies
from cargobay.services import projects as project_service
from cargobay.services.access import ProjectAccess
from cargobay.web.account import require_write
from cargobay.web.format import plural
from cargobay.web.forms import FormState, refuse_from
from cargobay.web.page import (
    actor,
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

ACCESS_LEVELS = {
    RegistryAccess.disabled: (
        "Disabled",
        "Nobody can list, download or publish packages; the API answers 403.",
    ),
    RegistryAccess.private: (
        "Only project members",
        "Members can download (Guests and up) and publish (Developers and up), "
        "whatever the project's visibility.",
    ),
    RegistryAccess.enabled: (
        "Everyone with access to the project",
        "Follows the project's visibility: public projects' packages are public.",
    ),
    RegistryAccess.public: (
        "Everyone (allow anyone to pull)",
        "Anyone, signed in or not, can list and download packages, even in a private "
        "project. Publishing still needs a Developer.",
    ),
}
REASONS = {
    DUPLICATE_FILE: "older duplicate of a file name",
    NOT_LATEST: "not among the newest versions kept",
    OLDER_THAN: "older than the age limit",
    NOT_DOWNLOADED: "not downloaded within the limit",
}
# (field, label, help) of the cleanup policy's numeric rules; empty means "off".
NUMBER_RULES = (
    (
        "keep_n_latest_versions",
        "Keep the newest versions of each package",
        "Number of versions per package name always kept. Alone, every older version is "
        "removed; with an age rule below, it only protects.",
    ),
    (
        "remove_older_than_days",
        "Remove versions older than (days)",
        "Versions published longer ago than this are removed.",
    ),
    (
        "remove_not_downloaded_days",
        "Remove versions not downloaded for (days)",
        "Counts from the last download, or from publication if never downloaded.",
    ),
)
MAX_RULE_NUMBER = 100_000
PREVIEW_ROWS = 500  # a preview lists this many; a run removes them all
PUSH_CHOICES = {
    "": "Anyone who can publish (Developer)",
    **{k: k.title() for k in protection.PUSH_LEVELS},
}
DELETE_CHOICES = {
    "": "Anyone who can delete (Maintainer)",
    **{k: k.title() for k in protection.DELETE_LEVELS},
}


def _every(seconds: float) -> str:
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:g} hours" if hours != 1 else "hour"
    return f"{seconds / 60:g} minutes"


def settings_url(access: ProjectAccess) -> str:
    return f"/{access.project.full_path}/-/settings/packages_and_registries"


async def _maintained(request: Request) -> ProjectAccess:
    who = await visitor(request)
    ref = request.path_params["project"]
    access = await browse.project(registry_of(request), who.principal, ref)
    if access.can.access_level < AccessLevel.MAINTAINER:
        raise forbidden("Only Maintainers and Owners can change a project's package settings.")
    return access


async def project_settings(request: Request) -> Response:
    access = await _maintained(request)
    return await _settings_page(request, access)


async def _settings_page(
    request: Request,
    access: ProjectAccess,
    *,
    cleanup_form: FormState | None = None,
    rule_form: FormState | None = None,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The settings page; after a refused or previewed form, with what was typed."""
    who = await visitor(request)
    registry = registry_of(request)
    context: dict[str, Any] = {"policy": None, "rules": []}
    if access.can.admin_package:  # cleanup and protection need the registry enabled
        ref = str(access.project.id)
        context["policy"] = await cleanup.get_policy(registry, who.principal, ref)
        context["rules"] = await policies.list_rules(registry, who.principal, ref)
    return render(
        request,
        "project_settings.html",
        status,
        project=access.project,
        can=access.can,
        tab="settings",
        levels=ACCESS_LEVELS,
        current=access.project.registry_access,
        keep_n_choices=KEEP_N_DUPLICATED,
        number_rules=NUMBER_RULES,
        max_pattern=MAX_KEEP_PATTERN_LENGTH,
        rule_types=protection.RULE_PACKAGE_TYPES,
        push_choices=PUSH_CHOICES,
        delete_choices=DELETE_CHOICES,
        level_name=protection.level_name,
        type_name=lambda value: PackageType(value).name,
        cleanup_every=_every(registry.settings.cleanup_interval_seconds),
        c=cleanup_form or FormState("cleanup"),
        r=rule_form or FormState("rule"),
        preview=preview,
        reasons=REASONS,
        **context,
    )


async def set_access_level(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    value = field(request, "package_registry_access_level")
    if value not in RegistryAccess.__members__:
        raise bad_request(f"Choose one of: {', '.join(RegistryAccess.__members__)}.")
    await project_service.update_project(
        registry_of(request),
        who.principal,
        str(access.project.id),
        name=None,
        description=None,
        visibility=None,
        registry_access=RegistryAccess(value),
        packages_enabled=None,
    )
    label = ACCESS_LEVELS[RegistryAccess(value)][0]
    flash(request, "success", f"Package registry access: {label}.")
    return redirect(settings_url(access))


# ---------------------------------------------------------------- cleanup policy


def _rule_number(request: Request, name: str, label: str) -> int | None:
    raw = field(request, name)
    if not raw:
        return None
    number = ascii_integer(raw) if ascii_digits(raw) else None
    if number is None or not 1 <= number <= MAX_RULE_NUMBER:
        raise bad_request(
            f"{label}: give a whole number from 1 to {MAX_RULE_NUMBER:,}, or leave it empty."
        )
    return number


def _cleanup_changes(request: Request, state: FormState) -> dict[str, Any]:
    """The policy fields the form holds; each unreadable one refused in ``state``."""
    keep_n = field(request, "keep_n_duplicated_package_files") or "all"
    if keep_n not in KEEP_N_DUPLICATED:
        state.refuse(
            "keep_n_duplicated_package_files", f"Choose one of {', '.join(KEEP_N_DUPLICATED)}."
        )
    changes: dict[str, Any] = {
        "keep_n_duplicated_package_files": keep_n,
        "keep_pattern": field(request, "keep_pattern"),
    }
    for name, label, _ in NUMBER_RULES:
        try:
            changes[name] = _rule_number(request, name, label)
        except CargobayError as exc:
            state.refuse(name, describe(exc))
    return changes


CLEANUP_FIELDS = {"keep_pattern": "keep_pattern"}


async def set_cleanup_policy(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    state = FormState.of("cleanup", form_of(request))
    changes = _cleanup_changes(request, state)
    if not state.failed:
        try:
            await cleanup.update_policy(
                registry_of(request), actor(request, who), str(access.project.id), changes
            )
        except CargobayError as exc:
            refuse_from(state, exc, CLEANUP_FIELDS)
    if state.failed:
        return await _settings_page(request, access, cleanup_form=state, status=400)
    flash(request, "success", "Cleanup policy saved.")
    return redirect(settings_url(access) + "#cleanup")


def _counts(removals: list[Removal]) -> dict[str, Any]:
    packages = sum(1 for r in removals if r.file_id is None)
    return {
        "removals": removals[:PREVIEW_ROWS],
        "packages": packages,
        "files": len(removals) - packages,
        "total": len(removals),
    }


async def preview_form(request: Request) -> Response:
    """ "Preview what it removes" on the settings form: the plan of exactly what the form
    holds, shown under it with the form as typed; nothing is saved."""
    who = await visitor(request)
    access = await _maintained(request)
    state = FormState.of("cleanup", form_of(request))
    changes = _cleanup_changes(request, state)
    preview: dict[str, Any] | None = None
    if not state.failed:
        try:
            policy, removals = await cleanup.preview_changes(
                registry_of(request), who.principal, str(access.project.id), changes
            )
        except CargobayError as exc:
            refuse_from(state, exc, CLEANUP_FIELDS)
        else:
            preview = {"policy": policy, **_counts(removals)}
    return await _settings_page(
        request,
        access,
        cleanup_form=state,
        preview=preview,
        status=400 if state.failed else 200,
    )


async def cleanup_preview(request: Request) -> Response:
    access = await _maintained(request)
    who = await visitor(request)
    registry = registry_of(request)
    ref = str(access.project.id)
    view = await cleanup.get_policy(registry, who.principal, ref)
    removals = await cleanup.preview(registry, who.principal, ref)
    return render(
        request,
        "cleanup_preview.html",
        project=access.project,
        can=access.can,
        tab="settings",
        policy=view.policy,
        reasons=REASONS,
        back=settings_url(access),
        **_counts(removals),
    )


async def cleanup_run(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    removals = await cleanup.run_now(
        registry_of(request), actor(request, who), str(access.project.id)
    )
    packages = sum(1 for r in removals if r.file_id is None)
    files = len(removals) - packages
    flash(
        request,
        "success",
        f"Cleanup removed {plural(packages, 'package')} and {plural(files, 'file')}.",
    )
    return redirect(settings_url(access) + "#cleanup")


# ---------------------------------------------------------------- protection rules


RULE_FIELDS = {
    "Package name pattern": "package_name_pattern",
    protection.NEEDS_A_LEVEL: "minimum_access_level_for_push",
}


async def create_rule(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    state = FormState.of("rule", form_of(request))
    push = field(request, "minimum_access_level_for_push")
    delete = field(request, "minimum_access_level_for_delete")
    package_type = field(request, "package_type") or "generic"
    if push and push not in protection.PUSH_LEVELS:
        state.refuse("minimum_access_level_for_push", f"Unknown push level {push!r}.")
    if delete and delete not in protection.DELETE_LEVELS:
        state.refuse("minimum_access_level_for_delete", f"Unknown delete level {delete!r}.")
    if package_type not in protection.RULE_PACKAGE_TYPES:
        state.refuse("package_type", f"Unknown package type {package_type!r}.")
    if not state.failed:
        try:
            await policies.create_rule(
                registry_of(request),
                actor(request, who),
                str(access.project.id),
                policies.RuleChange(
                    package_name_pattern=field(request, "package_name_pattern"),
                    package_type=package_type,
                    minimum_access_level_for_push=push or None,
                    minimum_access_level_for_delete=delete or None,
                ),
            )
        except CargobayError as exc:
            refuse_from(state, exc, RULE_FIELDS)
    if state.failed:
        return await _settings_page(request, access, rule_form=state, status=422)
    flash(request, "success", "Protection rule added.")
    return redirect(settings_url(access) + "#protection")


async def delete_rule(request: Request) -> Response:
    who = await visitor(request)
    require_write(who)
    access = await _maintained(request)
    await policies.delete_rule(
        registry_of(request),
        actor(request, who),
        str(access.project.id),
        path_id(request, "rule_id"),
    )
    flash(request, "success", "Protection rule deleted.")
    return redirect(settings_url(access) + "#protection")
