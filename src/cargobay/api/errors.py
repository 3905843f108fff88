"""Exceptions to GitLab-shaped responses. A bad request is never a 500 with a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cargobay.api.responses import json
from cargobay.errors import CargobayError, message

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


def route_of(request: Request) -> str:
    """The route template (``/api/v4/projects/{id}/packages/generic/...``), not the
    client's path: what the request was, without echoing what the client typed."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else request.url.path[:200]


async def on_client_abort(request: Request, exc: Exception) -> Response:
    """The client went away or broke the body's framing before it was whole: a half-close
    after part of a Content-Length body, a bad or overflowing chunk size, no last chunk.
    Nothing was stored (the blob store drops what it had received, and no row is written
    before the blob is complete). An info line, not a traceback; 400 if the client still
    reads an answer."""
    assert isinstance(exc, ClientDisconnect)
    log.info("client aborted %s %s before its body was complete", request.method, route_of(request))
    return json(message(400, "Client closed the request before its body was complete"), 400)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json({"message": "500 Internal Server Error"}, 500)
