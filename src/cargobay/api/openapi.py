"""The OpenAPI document of every route Cargobay serves, at /api/v4/openapi.json.

Each operation is described here by hand; tests/api/test_openapi.py fails when a route in
api/routes.py has no entry below or an entry names a route that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import admin
from cargobay.api.responses import json


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    query: dict[str, str] = field(default_factory=dict)  # name -> description
    body: str | None = None  # description of the request body
    success: int = 200


PAGING = {"page": "Page number (default 1).", "per_page": "Items per page (default 20, max 100)."}
LIST_FILTERS = {
    **PAGING,
    "order_by": "created_at (default), name, version or type.",
    "sort": "asc (default) or desc.",
    "package_type": "Only packages of this type.",
    "package_name": "Fuzzy, case-insensitive name filter; every space-separated term must match.",
    "package_version": "Exact version.",
    "include_versionless": "Include packages without a version.",
    "status": "default, hidden, processing, error, pending_destruction or deprecated.",
}
GENERIC = "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}/{file_path}"
GENERIC_ALIAS = "/api/v4/projects/{id}/generic/{package_name}/{package_version}/{file_path}"
VERSION = "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}"
VERSION_ALIAS = "/api/v4/projects/{id}/generic/{package_name}/{package_version}"
CHECKSUMS = (
    " Cargobay also checks X-Checksum-Sha256/-Sha1/-Md5, X-Checksum, Content-MD5, "
    "Content-Digest, Repr-Digest and Digest, and honours X-Checksum-Deploy, If-Match and "
    "If-None-Match (docs/extensions.md)."
)
PACKAGE = "/api/v4/projects/{id}/packages/{package_id}"
FILES = PACKAGE + "/package_files"
CLEANUP = "/api/v4/projects/{id}/packages/cleanup_policy"
RULES = "/api/v4/projects/{id}/packages/protection/rules"
DUPLICATES = {
    "generic_duplicates_allowed": "true or false.",
    "generic_duplicate_exception_regex": "RE2, at most 255 characters; '' for none.",
}
AUDIT = {
    **PAGING,
    "created_after": "ISO 8601 time.",
    "created_before": "ISO 8601 time.",
    "entity_type": "Instance list only: User, Group, Project or Gitlab::Audit::InstanceScope.",
    "entity_id": "Instance list only.",
}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/-/health"): Op("Liveness text probe (`GitLab OK`).", "health"),
    ("GET", "/-/liveness"): Op("Liveness probe.", "health"),
    ("GET", "/-/readiness"): Op("Readiness probe, checks the database.", "health"),
    ("GET", "/-/metrics"): Op(
        "Prometheus metrics (text format, or OpenMetrics on request); monitoring "
        "allowlist or bearer token only, others get 404.",
        "health",
    ),
    ("GET", "/api/v4/openapi.json"): Op("This document.", "meta"),
    ("PUT", GENERIC): Op(
        "Publish a file; creates the package when needed. `file_path` may hold directories."
        + CHECKSUMS,
        "generic packages",
        {"status": "default or hidden.", "select": "package_file: answer 200 with the file."},
        body="The file's bytes.",
        success=201,
    ),
    ("GET", GENERIC): Op(
        "Download the newest file with this name (also HEAD, Range, conditional requests). "
        "`.../files` lists the package's files unless one is named `files`. Cargobay: "
        "`~latest`/`~newest` as the version, `~archive.zip`, `~archive.tar`, "
        "`~archive.tar.gz` or `~sha256sums` as the file (docs/extensions.md).",
        "generic packages",
    ),
    ("PUT", GENERIC_ALIAS): Op(
        "Alias of the publish route (GitLab 13.5 docs).",
        "generic packages",
        body="The file's bytes.",
        success=201,
    ),
    ("GET", GENERIC_ALIAS): Op(
        "Alias of the download route (GitLab 13.5 docs).", "generic packages"
    ),
    ("DELETE", GENERIC): Op(
        "Cargobay: delete every live file with this name (Maintainer; the last file takes "
        "the version with it). If-Match on the newest file's ETag.",
        "generic packages",
        success=204,
    ),
    ("DELETE", GENERIC_ALIAS): Op(
        "Alias of the file delete route.", "generic packages", success=204
    ),
    ("GET", VERSION): Op(
        "Cargobay: the package version with the newest file of each name.", "generic packages"
    ),
    ("DELETE", VERSION): Op(
        "Cargobay: delete the package version (Maintainer).", "generic packages", success=204
    ),
    ("GET", VERSION_ALIAS): Op("Alias of the version route.", "generic packages"),
    ("DELETE", VERSION_ALIAS): Op(
        "Alias of the version delete route.", "generic packages", success=204
    ),
    ("GET", "/api/v4/projects/{id}/packages"): Op(
        "List a project's packages.", "packages", LIST_FILTERS
    ),
    ("GET", PACKAGE): Op("Get one package, with its other versions.", "packages"),
    ("DELETE", PACKAGE): Op("Delete a package (Maintainer).", "packages", success=204),
    ("GET", PACKAGE + "/pipelines"): Op(
        "Pipelines that built the package, newest first (keyset paging).",
        "packages",
        {"cursor": "From the previous page's Link header.", "per_page": "1 to 20."},
    ),
    ("GET", PACKAGE + "/download_stats"): Op(
        "Cargobay: the package's downloads per UTC day, every day from `from` to `to`.",
        "packages",
        {
            "from": "First day, YYYY-MM-DD (default: 29 days before `to`).",
            "to": "Last day, YYYY-MM-DD (default: today); at most 366 days in all.",
        },
    ),
    ("GET", FILES): Op(
        "List a package's files.",
        "packages",
        {**PAGING, "order_by": "id, created_at or file_name.", "sort": "asc or desc."},
    ),
    ("DELETE", FILES + "/{package_file_id}"): Op(
        "Delete a package file (Maintainer).", "packages", success=204
    ),
    ("GET", FILES + "/{package_file_id}/download"): Op(
        "Download a package file by id.", "packages"
    ),
    ("GET", "/api/v4/groups/{id}/packages"): Op(
        "List the packages of a group's projects.",
        "packages",
        {
            **LIST_FILTERS,
            "exclude_subgroups": "Leave out projects of subgroups.",
            "order_by": "created_at, name, version, type or project_path.",
        },
    ),
    # Registry policies (docs/policies.md)
    ("GET", CLEANUP): Op(
        "A project's cleanup policy and retention rules (Maintainer).", "policies"
    ),
    ("PUT", CLEANUP): Op(
        "Change the cleanup policy (Maintainer); null clears a retention rule.",
        "policies",
        {
            "keep_n_duplicated_package_files": "all, 1, 10, 20, 30, 40 or 50.",
            "keep_n_latest_versions": "Keep the N newest versions of each package name.",
            "remove_older_than_days": "Remove versions created more than N days ago.",
            "remove_not_downloaded_days": "Remove versions not downloaded for N days.",
            "keep_pattern": "RE2; packages whose name or version matches are never removed.",
        },
    ),
    ("GET", CLEANUP + "/preview"): Op(
        "What a cleanup run started now would remove (dry run).", "policies"
    ),
    ("POST", CLEANUP + "/run"): Op(
        "Run the cleanup policy now; lists what it removed.", "policies"
    ),
    ("GET", RULES): Op("List package protection rules (Maintainer).", "policies"),
    ("POST", RULES): Op(
        "Create a package protection rule (Maintainer).",
        "policies",
        {
            "package_name_pattern": "Package names, `*` matching anything.",
            "package_type": "generic, conan, helm, maven, npm, nuget or pypi.",
            "minimum_access_level_for_push": "maintainer, owner or admin.",
            "minimum_access_level_for_delete": "owner or admin.",
        },
        success=201,
    ),
    ("PATCH", RULES + "/{package_protection_rule_id}"): Op(
        "Change a package protection rule (Maintainer).", "policies"
    ),
    ("DELETE", RULES + "/{package_protection_rule_id}"): Op(
        "Delete a package protection rule (Maintainer).", "policies", success=204
    ),
    ("GET", "/api/v4/groups/{id}/packages/settings"): Op(
        "A group's generic duplicate settings (Owner).", "policies"
    ),
    ("PUT", "/api/v4/groups/{id}/packages/settings"): Op(
        "Change a group's generic duplicate settings (Owner).", "policies", DUPLICATES
    ),
    ("GET", "/api/v4/namespaces/{id}/packages/settings"): Op(
        "A group's or user namespace's generic duplicate settings (Owner).", "policies"
    ),
    ("PUT", "/api/v4/namespaces/{id}/packages/settings"): Op(
        "Change a namespace's generic duplicate settings (Owner).", "policies", DUPLICATES
    ),
    ("GET", "/api/v4/features"): Op("Feature flags and their gates (admin).", "admin"),
    ("POST", "/api/v4/features/{name}"): Op(
        "Turn a feature flag on or off, for the instance or one project or group (admin).",
        "admin",
        {
            "value": "true or false.",
            "project": "Project path or id.",
            "group": "Group path or id.",
            "namespace": "Namespace path or id.",
        },
        success=201,
    ),
    ("DELETE", "/api/v4/features/{name}"): Op(
        "Reset a feature flag to its default (admin).", "admin", success=204
    ),
    ("GET", "/api/v4/application/plan_limits"): Op("Plan limits (admin).", "admin"),
    ("PUT", "/api/v4/application/plan_limits"): Op(
        "Change plan limits (admin).",
        "admin",
        {"generic_packages_max_file_size": "Bytes; a file this size or larger is refused."},
    ),
    ("GET", "/api/v4/audit_events"): Op("The instance audit log (admin).", "audit", AUDIT),
    ("GET", "/api/v4/audit_events/{audit_event_id}"): Op("One audit event (admin).", "audit"),
    ("GET", "/api/v4/groups/{id}/audit_events"): Op(
        "Audit events of a group, its subgroups and projects (Owner).", "audit", AUDIT
    ),
    ("GET", "/api/v4/groups/{id}/audit_events/{audit_event_id}"): Op(
        "One audit event of a group (Owner).", "audit"
    ),
    ("GET", "/api/v4/projects/{id}/audit_events"): Op(
        "Audit events of a project (Maintainer).", "audit", AUDIT
    ),
    ("GET", "/api/v4/projects/{id}/audit_events/{audit_event_id}"): Op(
        "One audit event of a project (Maintainer).", "audit"
    ),
    ("GET", "/api/v3/{rest}"): Op("API v3 is gone: 410.", "meta", success=410),
    ("POST", "/api/v3/{rest}"): Op("API v3 is gone: 410.", "meta", success=410),
    ("PUT", "/api/v3/{rest}"): Op("API v3 is gone: 410.", "meta", success=410),
    ("PATCH", "/api/v3/{rest}"): Op("API v3 is gone: 410.", "meta", success=410),
    ("DELETE", "/api/v3/{rest}"): Op("API v3 is gone: 410.", "meta", success=410),
    **{key: Op(**fields) for key, fields in admin.OPENAPI.items()},
}

_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def openapi_path(route_path: str) -> str:
    """Starlette's ``{file_path:path}`` is OpenAPI's ``{file_path}``."""
    return _CONVERTER.sub(r"{\1}", route_path)


def served_operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route; HEAD comes with GET and is not listed apart."""
    found = set()
    for route in routes:
        if isinstance(route, Route):
            for method in route.methods or {"GET"}:
                if method != "HEAD":
                    found.add((method, openapi_path(route.path)))
    return found


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in sorted(OPERATIONS.items(), key=lambda item: item[0][1]):
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", path)
        ] + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in op.query.items()
        ]
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": {
                str(op.success): {"description": "Success"},
                "4XX": {"description": "GitLab-shaped error body"},
            },
        }
        if op.body:
            operation["requestBody"] = {
                "description": op.body,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cargobay",
            "version": "4",
            "description": "GitLab-compatible generic package registry.",
        },
        "components": {
            "securitySchemes": {
                "private_token": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
                "job_token": {"type": "apiKey", "in": "header", "name": "JOB-TOKEN"},
                "deploy_token": {"type": "apiKey", "in": "header", "name": "DEPLOY-TOKEN"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            }
        },
        "paths": paths,
    }


async def serve(_request: Request) -> Response:
    return json(document())
