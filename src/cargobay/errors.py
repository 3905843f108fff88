"""Domain exceptions. The API layer turns each into GitLab's status code and body.

Each carries the exact body GitLab sends, so services can state the GitLab text where
the rule lives and handlers never build error bodies themselves.
"""

from __future__ import annotations

from typing import Any


class CargobayError(Exception):
    status = 500

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.body = body
        self.headers = headers or {}


def message(status: int, text: str = "") -> dict[str, Any]:
    """GitLab's helper body: ``{"message": "403 Forbidden - <text>"}``."""
    reason = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        408: "Request Timeout",
        409: "Conflict",
        412: "Precondition Failed",
        503: "Service Unavailable",
    }[status]
    return {"message": f"{status} {reason}" + (f" - {text}" if text else "")}


class Invalid(CargobayError):
    """400: bad parameters (Grape's ``{"error": ...}``) or a GitLab ``bad_request!``."""

    status = 400


class Unauthorized(CargobayError):
    status = 401


class Forbidden(CargobayError):
    status = 403


class NotFound(CargobayError):
    status = 404


class Conflict(CargobayError):
    status = 409


class PreconditionFailed(CargobayError):
    status = 412


class RequestTimeout(CargobayError):
    """408: the client stopped sending its body."""

    status = 408


class Unavailable(CargobayError):
    """503: the server cannot take this request now; ``Retry-After`` says when to."""

    status = 503


def bad_params(*reasons: str) -> Invalid:
    return Invalid({"error": ", ".join(reasons)})


def not_found(text: str = "Not Found") -> NotFound:
    return NotFound({"message": f"404 {text}"})


def forbidden(text: str = "") -> Forbidden:
    return Forbidden(message(403, text))


def bad_request(text: str) -> Invalid:
    return Invalid(message(400, text))


def request_timeout(idle_seconds: float) -> RequestTimeout:
    text = f"no request body received for {idle_seconds:g} seconds"
    return RequestTimeout(message(408, text), {"Connection": "close"})


def unavailable(text: str, *, retry_after: int) -> Unavailable:
    return Unavailable(message(503, text), {"Retry-After": str(retry_after)})


def validation_error(errors: dict[str, list[str]]) -> Invalid:
    """GitLab's ``render_validation_error!``: 400 ``{"message": {"field": ["..."]}}``."""
    return Invalid({"message": errors})
