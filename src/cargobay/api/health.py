"""GitLab's health checks: /-/health, /-/readiness, /-/liveness."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cargobay.api.params import registry_of
from cargobay.api.responses import json


async def health(_request: Request) -> Response:
    return PlainTextResponse("GitLab OK")


async def liveness(_request: Request) -> Response:
    return json({"status": "ok"})


async def readiness(request: Request) -> Response:
    try:
        async with registry_of(request).db.read() as conn:
            await conn.execute(text("SELECT 1"))
        db = {"status": "ok"}
    except Exception as exc:  # the probe reports any failure, whatever its kind
        db = {"status": "failed", "message": type(exc).__name__}
    ok = db["status"] == "ok"
    body = {
        "status": "ok" if ok else "failed",
        "master_check": [{"status": "ok"}],
        "db_check": [db],
    }
    return json(body, 200 if ok else 503)
