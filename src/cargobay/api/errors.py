"""Exceptions to GitLab-shaped responses. A bad request is never a 500 with a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.responses import json
from cargobay.errors import CargobayError

log = logging.getLogger("cargobay")


async def on_cargobay_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CargobayError)
    return json(exc.body, exc.status, exc.headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return json({"error": "404 Not Found"}, 404)
    if exc.status_code == 405:
        return json({"error": "405 Method Not Allowed"}, 405)
    return json({"message": f"{exc.status_code} {exc.detail}"}, exc.status_code)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json({"message": "500 Internal Server Error"}, 500)
