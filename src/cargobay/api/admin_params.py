"""Parameters of the management API, read the way Grape reads them.

GitLab clients send parameters three ways: python-gitlab and gitbeaker a JSON body, curl
``--data``/``--form`` a form body (arrays as ``scopes[]=api&scopes[]=read_api``), and many
scripts plain query strings even on POST. Grape merges all of them, so do we: body values
win over query values. Errors collect in declaration order and answer 400
``{"error": "name is missing, scopes does not have a valid value"}`` (spec §6).
"""

from __future__ import annotations

import email.policy
from datetime import UTC, date, datetime
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.pagination import COUNT_LIMIT, Page, paginated
from cargobay.api.params import converted_id
from cargobay.domain.integers import ID_MAX, ascii_digits, ascii_integer
from cargobay.errors import bad_params, bad_request

MAX_BODY = 1024 * 1024  # management bodies are a few hundred bytes
TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class Params:
    """Merged query and body parameters with Grape's coercions. Every accessor records a
    Grape error instead of raising; call :meth:`check` once all are read."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.errors: list[str] = []

    @classmethod
    async def read(cls, request: Request) -> Params:
        values: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            _put(values, key, value)
        body = await _read_body(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type.endswith("json"):
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise bad_request("Invalid JSON in the request body") from None
            if not isinstance(parsed, dict):
                raise bad_request("The JSON body must be an object")
            values.update(parsed)
        elif body and content_type == "multipart/form-data":
            for key, value in _form_fields(request.headers["content-type"], body):
                _put(values, key, value)
        elif body:
            # application/x-www-form-urlencoded, and curl --data without a content type
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                _put(values, key, value)
        return cls(values)

    def present(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def require(self, *names: str) -> None:
        for name in names:
            if not self.present(name):
                self.errors.append(f"{name} is missing")

    def at_least_one_of(self, *names: str) -> None:
        if not any(self.present(n) for n in names):
            self.errors.append(
                f"{', '.join(names)} are missing, at least one parameter must be provided"
            )

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.errors.append(f"{name} is invalid")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def integer(self, name: str, *, limit: int = ID_MAX) -> int | None:
        """An integer in [-limit, limit] (the column it goes to: ids by default)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.errors.append(f"{name} is invalid")
            return None
        number = value if isinstance(value, int) else ascii_integer(str(value).strip())
        if number is None or not -limit <= number <= limit:
            self.errors.append(f"{name} is invalid")
            return None
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        self.errors.append(f"{name} is invalid")
        return None

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.string(name)
        if value is None:
            return None
        if value not in allowed:
            self.errors.append(f"{name} does not have a valid value")
            return None
        return value

    def int_choice(self, name: str, allowed: tuple[int, ...]) -> int | None:
        value = self.integer(name)
        if value is not None and value not in allowed:
            self.errors.append(f"{name} does not have a valid value")
            return None
        return value

    def strings(self, name: str, allowed: frozenset[str] | None = None) -> list[str] | None:
        """An ``Array[String]``: a JSON list, repeated ``name[]`` form fields, or one
        comma-separated string (GitLab's CommaSeparatedToArray coercion)."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [item for v in value for item in v.split(",") if item]
        else:
            self.errors.append(f"{name} is invalid")
            return None
        if allowed is not None and any(item not in allowed for item in items):
            self.errors.append(f"{name} does not have a valid value")
            return None
        return items

    def integers(self, name: str) -> list[int] | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        items = raw if isinstance(raw, list) else str(raw).split(",")
        numbers = [
            item
            if isinstance(item, int) and not isinstance(item, bool)
            else ascii_integer(str(item).strip())
            for item in items
            if str(item).strip()
        ]
        if any(n is None or not -ID_MAX <= n <= ID_MAX for n in numbers):
            self.errors.append(f"{name} is invalid")
            return None
        return [n for n in numbers if n is not None]

    def day(self, name: str) -> date | None:
        """A ``Date``: ``YYYY-MM-DD`` (a timestamp is cut to its date, as Ruby does)."""
        value = self.string(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            self.errors.append(f"{name} is invalid")
            return None

    def moment(self, name: str) -> datetime | None:
        """A ``DateTime``, returned as naive UTC; a bare date means its midnight UTC."""
        value = self.string(name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.errors.append(f"{name} is invalid")
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed

    def check(self) -> None:
        if self.errors:
            raise bad_params(*self.errors)


def _put(values: dict[str, Any], key: str, value: str) -> None:
    """``name[]`` fields collect into a list under ``name``."""
    if key.endswith("[]"):
        existing = values.setdefault(key[:-2], [])
        if isinstance(existing, list):
            existing.append(value)
        return
    values[key] = value


async def _read_body(request: Request) -> bytes:
    if request.method in ("GET", "HEAD"):
        return b""
    length = request.headers.get("content-length")
    if length and ascii_digits(length) and (len(length) > 12 or int(length) > MAX_BODY):
        raise bad_request("Request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise bad_request("Request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def respond_page(request: Request, items: list[Any], page: Page, total: int) -> Response:
    """A paged list with GitLab's X-* and Link headers (spec §12)."""
    return paginated(
        request,
        items,
        page,
        total=total if total <= COUNT_LIMIT else None,
        has_next=page.offset + len(items) < total,
    )


def path_int(request: Request, name: str) -> int:
    """A ``{name:row_id}`` route parameter, held to the id column's range (params.py)."""
    return converted_id(request, name)


def _form_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a ``multipart/form-data`` body (``curl --form``); file parts
    are ignored. The body is small (MAX_BODY), so the standard library's MIME parser
    does."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise bad_request("Invalid multipart body")
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields.append((name, payload.decode("utf-8", "replace")))
    return fields
