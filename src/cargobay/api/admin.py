"""The management API: enough of GitLab's REST API v4 for python-gitlab and curl to set up
a registry from nothing (users, groups, projects, members and every kind of token), plus
our CI job-token endpoint (docs/ci-job-tokens.md). The routes live in admin_users,
admin_namespaces and admin_tokens; routes.py registers them all through this module, and
``OPENAPI`` describes each one for api/openapi.py: plain keyword arguments of its ``Op``
(``{key: op(**spec) for key, spec in admin.OPENAPI.items()}``), so that module can import
this one without an import cycle.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from cargobay.api import admin_namespaces, admin_tokens, admin_users

routes: list[BaseRoute] = [
    *admin_users.routes,
    *admin_tokens.routes,
    *admin_namespaces.routes,
]

V4 = "/api/v4"
PAGING = {"page": "Page number (default 1).", "per_page": "Items per page (default 20, max 100)."}
TOKEN_BODY = "JSON or form: name, scopes[], expires_at (YYYY-MM-DD)."
DEPLOY_BODY = "JSON or form: name, scopes[], expires_at, username. The token is shown once."
MEMBER_BODY = "JSON or form: user_id (or username), access_level, expires_at."


def op(
    summary: str,
    tag: str,
    query: dict[str, str] | None = None,
    body: str | None = None,
    success: int = 200,
) -> dict[str, Any]:
    return {"summary": summary, "tag": tag, "query": query or {}, "body": body, "success": success}


def _members(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    base = f"{V4}/{kind}s/{{id}}/members"
    who = "group Owners" if kind == "group" else "project Maintainers"
    query = {**PAGING, "query": "Name or username contains.", "user_ids": "Only these users."}
    return {
        ("GET", base): op(f"List the {kind}'s direct members.", "members", query),
        ("POST", base): op(f"Add a member ({who}).", "members", body=MEMBER_BODY, success=201),
        ("GET", f"{base}/all"): op(
            "List direct and inherited members, each with their highest role.", "members", query
        ),
        ("GET", f"{base}/all/{{user_id}}"): op("Get a direct or inherited member.", "members"),
        ("GET", f"{base}/{{user_id}}"): op("Get a direct member.", "members"),
        ("PUT", f"{base}/{{user_id}}"): op(
            f"Change a member's role or expiry ({who}).",
            "members",
            body="access_level, expires_at.",
        ),
        ("DELETE", f"{base}/{{user_id}}"): op(
            f"Remove a member ({who}; anyone may leave).", "members", success=204
        ),
    }


def _deploy_tokens(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    base = f"{V4}/{kind}s/{{id}}/deploy_tokens"
    who = "group Owners" if kind == "group" else "project Maintainers"
    return {
        ("GET", base): op(
            f"List the {kind}'s deploy tokens ({who}).",
            "deploy tokens",
            {**PAGING, "active": "Only usable (or only unusable) tokens."},
        ),
        ("POST", base): op(
            f"Create a deploy token ({who}).", "deploy tokens", body=DEPLOY_BODY, success=201
        ),
        ("GET", f"{base}/{{token_id}}"): op("Get a deploy token.", "deploy tokens"),
        ("DELETE", f"{base}/{{token_id}}"): op(
            "Delete a deploy token; it stops working at once.", "deploy tokens", success=204
        ),
    }


ACCESS_TOKENS = f"{V4}/projects/{{id}}/access_tokens"
CI_JOBS = f"{V4}/projects/{{id}}/cargobay/ci/jobs"

OPENAPI: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", f"{V4}/version"): op("GitLab version followed, and Cargobay's release.", "meta"),
    ("GET", f"{V4}/user"): op("The signed-in user.", "users"),
    ("GET", f"{V4}/users"): op(
        "List users (anonymous callers need `username`).",
        "users",
        {
            **PAGING,
            "username": "Exact, case-insensitive.",
            "search": "Name or username contains, or exact e-mail.",
            "active": "Only active users.",
            "blocked": "Only blocked users.",
        },
    ),
    ("POST", f"{V4}/users"): op(
        "Create a user (administrators).",
        "users",
        body="username, name, email, password (optional), admin.",
        success=201,
    ),
    ("GET", f"{V4}/users/{{id}}"): op("Get a user.", "users"),
    ("POST", f"{V4}/users/{{id}}/block"): op(
        "Block a user: their tokens stop working (administrators).", "users", success=201
    ),
    ("POST", f"{V4}/users/{{id}}/unblock"): op("Unblock a user.", "users", success=201),
    ("POST", f"{V4}/users/{{id}}/personal_access_tokens"): op(
        "Create a personal access token for a user (administrators).",
        "tokens",
        body=TOKEN_BODY,
        success=201,
    ),
    ("GET", f"{V4}/personal_access_tokens"): op(
        "List your tokens (administrators: everyone's).",
        "tokens",
        {
            **PAGING,
            "user_id": "Only this user's tokens.",
            "state": "active or inactive.",
            "revoked": "true or false.",
            "search": "Name contains.",
        },
    ),
    ("GET", f"{V4}/personal_access_tokens/self"): op(
        "The token this request uses (any scope).", "tokens"
    ),
    ("DELETE", f"{V4}/personal_access_tokens/self"): op(
        "Revoke the token this request uses.", "tokens", success=204
    ),
    ("GET", f"{V4}/personal_access_tokens/{{id}}"): op("Get a token.", "tokens"),
    ("DELETE", f"{V4}/personal_access_tokens/{{id}}"): op("Revoke a token.", "tokens", success=204),
    ("GET", f"{V4}/groups"): op(
        "List groups you belong to (administrators: all; anonymous: public).",
        "groups",
        {
            **PAGING,
            "all_available": "Every group you can see.",
            "owned": "Only groups you own.",
            "search": "Name or path contains.",
            "top_level_only": "No subgroups.",
            "visibility": "private, internal or public.",
            "order_by": "name (default), path or id.",
            "sort": "asc (default) or desc.",
        },
    ),
    ("POST", f"{V4}/groups"): op(
        "Create a group, or a subgroup with parent_id (Maintainer of the parent).",
        "groups",
        body="name, path, parent_id, visibility, description.",
        success=201,
    ),
    ("GET", f"{V4}/groups/{{id}}"): op(
        "Get a group with its projects.", "groups", {"with_projects": "false to omit them."}
    ),
    ("GET", f"{V4}/groups/{{id}}/subgroups"): op(
        "List the visible direct subgroups.", "groups", PAGING
    ),
    **_members("group"),
    **_deploy_tokens("group"),
    ("GET", f"{V4}/projects"): op(
        "List projects you can see.",
        "projects",
        {
            **PAGING,
            "owned": "Only projects you own.",
            "membership": "Only projects you are a member of.",
            "search": "Name or path contains.",
            "visibility": "private, internal or public.",
            "order_by": "created_at (default), id, name, path, updated_at, last_activity_at.",
            "sort": "desc (default) or asc.",
        },
    ),
    ("POST", f"{V4}/projects"): op(
        "Create a project (in your namespace unless namespace_id is given).",
        "projects",
        body=(
            "name and/or path, namespace_id, visibility, description, packages_enabled, "
            "package_registry_access_level (disabled, private, enabled, public)."
        ),
        success=201,
    ),
    ("GET", f"{V4}/projects/{{id}}"): op("Get a project.", "projects"),
    ("PUT", f"{V4}/projects/{{id}}"): op(
        "Change a project's settings (Maintainer).",
        "projects",
        body=("name, description, visibility, packages_enabled, package_registry_access_level."),
    ),
    **_members("project"),
    **_deploy_tokens("project"),
    ("GET", ACCESS_TOKENS): op("List project access tokens (Maintainer).", "tokens", PAGING),
    ("POST", ACCESS_TOKENS): op(
        "Create a project access token: a bot member with a token (Maintainer).",
        "tokens",
        body=TOKEN_BODY + " access_level (default 40).",
        success=201,
    ),
    ("GET", f"{ACCESS_TOKENS}/{{token_id}}"): op("Get a project access token.", "tokens"),
    ("DELETE", f"{ACCESS_TOKENS}/{{token_id}}"): op(
        "Revoke a project access token.", "tokens", success=204
    ),
    ("POST", CI_JOBS): op(
        "Start a CI job and mint its job token (Cargobay; administrators or Maintainers).",
        "ci jobs",
        body="user_id or username (default: you), ref, sha, name, pipeline_id.",
        success=201,
    ),
    ("GET", f"{CI_JOBS}/{{job_id}}"): op("Get a CI job (Cargobay).", "ci jobs"),
    ("PUT", f"{CI_JOBS}/{{job_id}}"): op(
        "Finish a CI job: success, failed or canceled; its token stops working (Cargobay).",
        "ci jobs",
        body="status.",
    ),
}
