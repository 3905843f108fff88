"""The whole URL table. Every route Cargobay serves is listed here.

/api/ routes match on the undecoded path (see app.RawPathRouting): in ``:id`` and file
names ``%2F`` is part of a value, a raw ``/`` separates segments.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargobay.api import generic, health
from cargobay.api.responses import json

GENERIC_FILE = "{package_name}/{package_version}/{file_path:path}"


async def api_v3_gone(_request: Request) -> Response:
    return json({"error": "API V3 is no longer supported. Use API V4 instead."}, 410)


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/-/health", health.health),
    Route("/-/liveness", health.liveness),
    Route("/-/readiness", health.readiness),
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
    Route("/api/v3/{rest:path}", api_v3_gone, methods=ANY_METHOD),
]
