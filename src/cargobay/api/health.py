"""GitLab's health checks: /-/health, /-/readiness, /-/liveness."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cargobay.api.params import registry_of
from cargobay.api.responses import json
from cargobay.storage.db.expressions import ping


async def health(_request: Request) -> Response:
    return PlainTextResponse("GitLab OK")


async def liveness(_request: Request) -> Response:
    return json({"status": "ok"})


async def readiness(request: Request) -> Response:
    """GitLab's probe body; ``blob_store_check`` is Cargobay's: where file bodies go."""
    registry = registry_of(request)

    async def database() -> None:
        async with registry.db.read() as conn:
            await ping(conn)

    db = await _probe(database())
    blobs = await _probe(registry.blobs.check())
    ok = db["status"] == blobs["status"] == "ok"
    body = {
        "status": "ok" if ok else "failed",
        "master_check": [{"status": "ok"}],
        "db_check": [db],
        "blob_store_check": [blobs],
    }
    return json(body, 200 if ok else 503)


async def _probe(check: Awaitable[None]) -> dict[str, str]:
    try:
        await check
    except Exception as exc:  # the probe reports any failure, whatever its kind
        return {"status": "failed", "message": type(exc).__name__}
    return {"status": "ok"}
