"""The whole URL table. Every route Cargobay serves is listed here, the management API's
included: those come from api/admin.py (``*admin.routes``), which lists them by module.

/api/ routes match on the undecoded path (see app.RawPathRouting): in ``:id`` and file
names ``%2F`` is part of a value, a raw ``/`` separates segments. A plain GET of a small
generic file may be answered before these routes, by api/fastlane.py, exactly as the
generic.download route would answer it (docs/architecture.md: where a request goes).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import (
    admin,
    audit,
    features,
    generic,
    health,
    metrics,
    openapi,
    packages,
    policies,
)
from cargobay.api.responses import json

GENERIC_FILE = "{package_name}/{package_version}/{file_path:path}"
GENERIC_VERSION = "{package_name}/{package_version}"
GENERIC_ROOTS = ("/api/v4/projects/{id}/packages/generic", "/api/v4/projects/{id}/generic")
POLICIES = "/api/v4/projects/{id}/packages"
RULE = f"{POLICIES}/protection/rules/{{package_protection_rule_id}}"


async def api_v3_gone(_request: Request) -> Response:
    return json({"error": "API V3 is no longer supported. Use API V4 instead."}, 410)


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/-/health", health.health),
    Route("/-/liveness", health.liveness),
    Route("/-/readiness", health.readiness),
    Route("/-/metrics", metrics.metrics),  # Prometheus, monitoring allowlist only
    Route("/api/v4/openapi.json", openapi.serve),
    # spec §1 G1/G2, and under the GitLab 13.5 docs' example path, without /packages/
    # (spec §0); with Cargobay's own DELETE of a file and its version resource
    # (docs/extensions.md), which GitLab does not route.
    *(
        Route(f"{generic_root}/{path}", endpoint, methods=[method])
        for generic_root in GENERIC_ROOTS
        for path, endpoint, method in (
            (GENERIC_FILE, generic.upload, "PUT"),
            (GENERIC_FILE, generic.download, "GET"),
            (GENERIC_FILE, generic.delete_file, "DELETE"),
            (GENERIC_VERSION, generic.get_version, "GET"),
            (GENERIC_VERSION, generic.delete_version, "DELETE"),
        )
    ),
    # Registry policies (issue 4, docs/policies.md). Before the Packages API routes:
    # `/packages/cleanup_policy` would otherwise match `/packages/{package_id}`.
    Route(f"{POLICIES}/cleanup_policy", policies.get_cleanup_policy, methods=["GET"]),
    Route(f"{POLICIES}/cleanup_policy", policies.put_cleanup_policy, methods=["PUT"]),
    Route(f"{POLICIES}/cleanup_policy/preview", policies.preview_cleanup, methods=["GET"]),
    Route(f"{POLICIES}/cleanup_policy/run", policies.run_cleanup, methods=["POST"]),
    Route(f"{POLICIES}/protection/rules", policies.list_rules, methods=["GET"]),
    Route(f"{POLICIES}/protection/rules", policies.create_rule, methods=["POST"]),
    Route(RULE, policies.update_rule, methods=["PATCH"]),
    Route(RULE, policies.delete_rule, methods=["DELETE"]),
    Route("/api/v4/groups/{id}/packages/settings", policies.get_group_settings, methods=["GET"]),
    Route("/api/v4/groups/{id}/packages/settings", policies.put_group_settings, methods=["PUT"]),
    Route("/api/v4/namespaces/{id}/packages/settings", policies.get_namespace_settings),
    Route(
        "/api/v4/namespaces/{id}/packages/settings",
        policies.put_namespace_settings,
        methods=["PUT"],
    ),
    Route("/api/v4/features", features.list_features, methods=["GET"]),
    Route("/api/v4/features/{name}", features.set_feature, methods=["POST"]),
    Route("/api/v4/features/{name}", features.delete_feature, methods=["DELETE"]),
    Route("/api/v4/application/plan_limits", features.get_plan_limits, methods=["GET"]),
    Route("/api/v4/application/plan_limits", features.put_plan_limits, methods=["PUT"]),
    Route("/api/v4/audit_events", audit.instance_events, methods=["GET"]),
    Route("/api/v4/audit_events/{audit_event_id}", audit.instance_event, methods=["GET"]),
    Route("/api/v4/groups/{id}/audit_events", audit.group_events, methods=["GET"]),
    Route("/api/v4/groups/{id}/audit_events/{audit_event_id}", audit.group_event),
    Route("/api/v4/projects/{id}/audit_events", audit.project_events, methods=["GET"]),
    Route("/api/v4/projects/{id}/audit_events/{audit_event_id}", audit.project_event),
    # spec §1 P1-P4, F1-F3, GR1
    Route("/api/v4/projects/{id}/packages", packages.list_project_packages),
    Route("/api/v4/projects/{id}/packages/{package_id}", packages.get_package),
    Route(
        "/api/v4/projects/{id}/packages/{package_id}", packages.delete_package, methods=["DELETE"]
    ),
    Route("/api/v4/projects/{id}/packages/{package_id}/pipelines", packages.package_pipelines),
    Route("/api/v4/projects/{id}/packages/{package_id}/download_stats", packages.download_stats),
    Route("/api/v4/projects/{id}/packages/{package_id}/package_files", packages.list_files),
    Route(
        "/api/v4/projects/{id}/packages/{package_id}/package_files/{package_file_id}",
        packages.delete_file,
        methods=["DELETE"],
    ),
    Route(
        "/api/v4/projects/{id}/packages/{package_id}/package_files/{package_file_id}/download",
        packages.download_file,
    ),
    Route("/api/v4/groups/{id}/packages", packages.list_group_packages),
    *admin.routes,
    Route("/api/v3/{rest:path}", api_v3_gone, methods=ANY_METHOD),
]
