"""GitLab's JSON entities for the management API (lib/api/entities/*), keys in GitLab's
order. Fields for features Cargobay does not have (issues, avatars, 2FA, ...) carry the
value a fresh GitLab shows, so clients that read them keep working.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib.metadata import version as installed_version
from typing import Any
from urllib.parse import urlsplit

from cargobay.api.responses import gitlab_time
from cargobay.domain.models import (
    Account,
    DeployTokenEntry,
    JobDetails,
    Member,
    Namespace,
    PersonalAccessToken,
    ProjectAccessToken,
    RegistryAccess,
    Visibility,
)
from cargobay.services.namespaces import GroupView, ProjectView

# GitLab release whose API behaviour Cargobay follows (spec §13); /version reports it.
GITLAB_VERSION = "18.6.0"
CARGOBAY_VERSION = installed_version("cargobay")
# Cargobay's own extensions a client may use (docs/extensions.md), under "cargobay" in
# GET /version; every answer also carries X-Cargobay-Version (app.py).
EXTENSIONS = (
    "checksum-assert",
    "checksum-deploy",
    "conditional-put",
    "generic-delete",
    "latest",
    "archive",
    "sha256sums",
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _visibility(level: int) -> str:
    return Visibility(level).name


# ---------------------------------------------------------------- users


def user_basic(row: Account | Member, base: str) -> dict[str, Any]:
    """Entities::UserBasic."""
    return {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "state": row.state,
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base}/{row.username}",
    }


def user(row: Account, base: str) -> dict[str, Any]:
    """Entities::User: what any signed-in user sees of another."""
    return {
        **user_basic(row, base),
        "created_at": gitlab_time(row.created_at),
        "bio": "",
        "location": "",
        "public_email": None,
        "linkedin": "",
        "twitter": "",
        "discord": "",
        "website_url": "",
        "organization": "",
        "job_title": "",
        "pronouns": None,
        "bot": row.bot,
        "work_information": None,
        "followers": 0,
        "following": 0,
        "is_followed": False,
        "local_time": None,
    }


def user_public(row: Account, base: str) -> dict[str, Any]:
    """Entities::UserPublic: the caller's own account (GET /user)."""
    return {
        **user(row, base),
        "last_sign_in_at": None,
        "confirmed_at": gitlab_time(row.created_at),
        "last_activity_on": None,
        "email": row.email,
        "theme_id": 1,
        "color_scheme_id": 1,
        "projects_limit": 100000,
        "current_sign_in_at": None,
        "identities": [],
        "can_create_group": True,
        "can_create_project": True,
        "two_factor_enabled": False,
        "external": False,
        "private_profile": False,
        "commit_email": row.email,
    }


def user_with_admin(row: Account, base: str) -> dict[str, Any]:
    """Entities::UserWithAdmin: what administrators see."""
    return {
        **user_public(row, base),
        "is_admin": row.is_admin,
        "note": None,
        "namespace_id": row.namespace_id,
        "created_by": None,
    }


# ---------------------------------------------------------------- tokens


def personal_access_token(row: PersonalAccessToken, today: date) -> dict[str, Any]:
    """Entities::PersonalAccessToken; ``expires_at`` is a date, not a time."""
    expired = row.expires_at is not None and row.expires_at <= today
    return {
        "id": row.id,
        "name": row.name,
        "revoked": row.revoked,
        "created_at": gitlab_time(row.created_at),
        "description": None,
        "scopes": row.scopes.split(),
        "user_id": row.user_id,
        "last_used_at": gitlab_time(row.last_used_at),
        "active": not row.revoked and not expired,
        "expires_at": _day(row.expires_at),
    }


def personal_access_token_with_ips(row: PersonalAccessToken, today: date) -> dict[str, Any]:
    return {**personal_access_token(row, today), "last_used_ips": []}


def resource_access_token(row: ProjectAccessToken, project_id: int, today: date) -> dict[str, Any]:
    """Entities::ResourceAccessToken: a project bot's token and the bot's role."""
    return {
        **personal_access_token_with_ips(row, today),
        "access_level": row.access_level,
        "resource_type": "project",
        "resource_id": project_id,
    }


def deploy_token(row: DeployTokenEntry, now: datetime) -> dict[str, Any]:
    """Entities::DeployToken (``expires_at`` is a time here)."""
    return {
        "id": row.id,
        "name": row.name,
        "username": row.username,
        "expires_at": gitlab_time(row.expires_at),
        "scopes": row.scopes.split(),
        "revoked": row.revoked,
        "expired": row.expires_at is not None and row.expires_at <= now,
    }


# ---------------------------------------------------------------- groups and projects


def group(view: GroupView, base: str) -> dict[str, Any]:
    """Entities::Group."""
    row = view.row
    return {
        "id": row.id,
        "web_url": f"{base}/groups/{row.full_path}",
        "name": row.name,
        "path": row.path,
        "description": row.description,
        "visibility": _visibility(row.visibility),
        "share_with_group_lock": False,
        "require_two_factor_authentication": False,
        "two_factor_grace_period": 48,
        "project_creation_level": "developer",
        "auto_devops_enabled": None,
        "subgroup_creation_level": "maintainer",
        "emails_disabled": False,
        "emails_enabled": True,
        "mentions_disabled": None,
        "lfs_enabled": True,
        "archived": False,
        "default_branch": None,
        "default_branch_protection": 2,
        "avatar_url": None,
        "request_access_enabled": True,
        "full_name": view.full_name,
        "full_path": row.full_path,
        "created_at": gitlab_time(row.created_at),
        "parent_id": row.parent_id,
        "organization_id": 1,
        "shared_runners_setting": "enabled",
        "max_artifacts_size": None,
        "marked_for_deletion_on": None,
    }


def group_detail(view: GroupView, projects: list[ProjectView], base: str) -> dict[str, Any]:
    """Entities::GroupDetail: the group with its projects."""
    return {
        **group(view, base),
        "shared_with_groups": [],
        "prevent_sharing_groups_outside_hierarchy": False,
        "projects": [project(p, base) for p in projects],
        "shared_projects": [],
    }


def namespace_basic(row: Namespace, base: str) -> dict[str, Any]:
    """Entities::NamespaceBasic."""
    web_url = f"{base}/{row.full_path}" if row.kind == "user" else f"{base}/groups/{row.full_path}"
    return {
        "id": row.id,
        "name": row.name,
        "path": row.path,
        "kind": row.kind,
        "full_path": row.full_path,
        "parent_id": row.parent_id,
        "avatar_url": None,
        "web_url": web_url,
    }


def project(view: ProjectView, base: str) -> dict[str, Any]:
    """Entities::Project (the fields a package registry has something to say about)."""
    row = view.row
    host = urlsplit(base).hostname or "localhost"
    api = f"{base}/api/v4/projects/{row.id}"
    access = row.registry_access
    entity: dict[str, Any] = {
        "id": row.id,
        "description": row.description,
        "name": row.name,
        "name_with_namespace": view.name_with_namespace,
        "path": row.path,
        "path_with_namespace": row.full_path,
        "created_at": gitlab_time(row.created_at),
        "default_branch": None,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@{host}:{row.full_path}.git",
        "http_url_to_repo": f"{base}/{row.full_path}.git",
        "web_url": f"{base}/{row.full_path}",
        "readme_url": None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": gitlab_time(row.updated_at),
        "namespace": namespace_basic(view.namespace, base),
        "_links": {
            "self": api,
            "issues": f"{api}/issues",
            "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches",
            "labels": f"{api}/labels",
            "events": f"{api}/events",
            "members": f"{api}/members",
            "cluster_agents": f"{api}/cluster_agents",
        },
        "packages_enabled": access is not RegistryAccess.disabled,
        "package_registry_access_level": access.value,
        "empty_repo": True,
        "archived": False,
        "visibility": _visibility(row.visibility),
    }
    if view.owner is not None:
        entity["owner"] = user_basic(view.owner, base)
    entity.update(
        {
            "resolve_outdated_diff_discussions": False,
            "issues_enabled": False,
            "merge_requests_enabled": False,
            "wiki_enabled": False,
            "jobs_enabled": False,
            "snippets_enabled": False,
            "container_registry_enabled": False,
            "repository_access_level": "disabled",
            "builds_access_level": "disabled",
            "creator_id": row.creator_id,
            "import_status": "none",
            "shared_with_groups": [],
            "request_access_enabled": False,
        }
    )
    return entity


def member(row: Member, base: str) -> dict[str, Any]:
    """Entities::Member: the user, merged, with the membership's own fields."""
    return {
        **user_basic(row, base),
        "access_level": row.access_level,
        "created_at": gitlab_time(row.member_created_at),
        "expires_at": _day(row.member_expires_at),
        "membership_state": "active",
    }


# ---------------------------------------------------------------- CI jobs (our own)


def ci_job(row: JobDetails, runner: Account | None, base: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "ref": row.ref,
        "created_at": gitlab_time(row.created_at),
        "finished_at": gitlab_time(row.finished_at),
        "project_id": row.project_id,
        "user": user_basic(runner, base) if runner is not None else None,
        "pipeline": {
            "id": row.pipeline_id,
            "iid": row.pipeline_iid,
            "project_id": row.project_id,
            "sha": row.sha,
            "ref": row.ref,
            "status": row.pipeline_status,
            "source": row.source,
            "created_at": gitlab_time(row.pipeline_created_at),
            "updated_at": gitlab_time(row.pipeline_updated_at),
        },
    }


def version() -> dict[str, Any]:
    """GET /version: the GitLab version we follow; the revision names our own release."""
    return {
        "version": GITLAB_VERSION,
        "revision": f"cargobay-{CARGOBAY_VERSION}",
        "kas": {
            "enabled": False,
            "externalUrl": None,
            "externalK8sProxyUrl": None,
            "version": None,
        },
        "enterprise": False,
        "cargobay": {"version": CARGOBAY_VERSION, "features": list(EXTENSIONS)},
    }
