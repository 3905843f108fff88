"""Signed session cookies for the web interface, and the key that signs them.

Like Starlette's SessionMiddleware (a JSON dict, base64, signed with itsdangerous), with
two differences: the cookie is ``Secure`` whenever the request came over HTTPS, directly
or through a proxy that says so in ``X-Forwarded-Proto``; and it is only re-sent when the
session changed or is an hour old, so most responses carry no ``Set-Cookie``.
The cookie is HttpOnly and SameSite=Lax; it holds ids, never a token or a password.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path
from typing import Any

import orjson
from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cargobay.settings import Settings

COOKIE = "cargobay_session"
MAX_AGE = 14 * 24 * 3600  # idle lifetime: each refresh extends it
REFRESH_AFTER = 3600
SECRET_FILE = "session_secret"
STATIC_PREFIX = "/-/static/"


def session_secret(settings: Settings) -> str:
    """The configured secret, or the one kept in the data directory (created on first
    use; several worker processes starting at once agree on the first one written)."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
    try:
        os.link(candidate, path)  # atomic: fails if another process got there first
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return Path(path).read_text().strip()


def is_https(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return bool(value.split(b",")[0].strip().lower() == b"https")
    return False


class SessionMiddleware:
    def __init__(self, app: ASGIApp, secret: str, *, always_secure: bool = False) -> None:
        self.app = app
        self.signer = TimestampSigner(secret, salt="cargobay.session")
        self.always_secure = always_secure

    def _load(self, cookie: str | None) -> tuple[dict[str, Any], float | None]:
        if not cookie:
            return {}, None
        try:
            payload, signed_at = self.signer.unsign(cookie, max_age=MAX_AGE, return_timestamp=True)
            data = orjson.loads(base64.urlsafe_b64decode(payload))
        except (BadSignature, ValueError, orjson.JSONDecodeError):
            return {}, None
        if not isinstance(data, dict):
            return {}, None
        return data, signed_at.timestamp()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)  # stylesheets need no session
            return
        cookie = HTTPConnection(scope).cookies.get(COOKIE)
        data, signed_at = self._load(cookie)
        before = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        scope["session"] = data

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                after = orjson.dumps(session, option=orjson.OPT_SORT_KEYS)
                headers = MutableHeaders(scope=message)
                flags = "; Path=/; HttpOnly; SameSite=Lax"
                if self.always_secure or is_https(scope):
                    flags += "; Secure"
                if session:
                    stale = signed_at is None or time.time() - signed_at > REFRESH_AFTER
                    if after != before or stale:
                        value = self.signer.sign(base64.urlsafe_b64encode(after)).decode()
                        headers.append("Set-Cookie", f"{COOKIE}={value}; Max-Age={MAX_AGE}{flags}")
                elif cookie:
                    headers.append("Set-Cookie", f"{COOKIE}=; Max-Age=0{flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)
