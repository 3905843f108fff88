"""The whole URL table. Every route Cargobay serves is listed here.

/api/ routes match on the undecoded path (see app.RawPathRouting): in ``:id`` and file
names ``%2F`` is part of a value, a raw ``/`` separates segments.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import admin, generic, health, openapi, packages
from cargobay.api.responses import json

GENERIC_FILE = "{package_name}/{package_version}/{file_path:path}"


async def api_v3_gone(_request: Request) -> Response:
    return json({"error": "API V3 is no longer supported. Use API V4 instead."}, 410)


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/-/health", health.health),
    Route("/-/liveness", health.liveness),
    Route("/-/readiness", health.readiness),
    Route("/api/v4/openapi.json", openapi.serve),
    # spec §1 G1/G2
    Route(
        f"/api/v4/projects/{{id}}/packages/generic/{GENERIC_FILE}", generic.upload, methods=["PUT"]
    ),
    Route(
        f"/api/v4/projects/{{id}}/packages/generic/{GENERIC_FILE}",
        generic.download,
        methods=["GET"],
    ),
    # The GitLab 13.5 docs' example path, without /packages/ (spec §0)
    Route(f"/api/v4/projects/{{id}}/generic/{GENERIC_FILE}", generic.upload, methods=["PUT"]),
    Route(f"/api/v4/projects/{{id}}/generic/{GENERIC_FILE}", generic.download, methods=["GET"]),
    # spec §1 P1-P4, F1-F3, GR1
    Route("/api/v4/projects/{id}/packages", packages.list_project_packages),
    Route("/api/v4/projects/{id}/packages/{package_id}", packages.get_package),
    Route(
        "/api/v4/projects/{id}/packages/{package_id}", packages.delete_package, methods=["DELETE"]
    ),
    Route("/api/v4/projects/{id}/packages/{package_id}/pipelines", packages.package_pipelines),
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
