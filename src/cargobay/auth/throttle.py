"""Failed-authentication ban per client address, as GitLab's Rack::Attack
``git_basic_auth`` blocklist (Allow2Ban) does: ``maxretry`` failures within ``findtime``
seconds ban the address for ``bantime`` seconds. GitLab's defaults are 10, 60 and 3600;
ours are the same (settings auth_ban_*).

A failure is a 401 answered to a request that carried credentials (a token in any
header or query parameter, or Basic). A request without any is not counted: wget and
curl ask without credentials first and retry with them after the 401. While an address
is banned, its requests that carry credentials are answered 429 with Retry-After, even
with the right token (it could be the guess that hit); anonymous ones still get through,
since they guess nothing.

The counts live in each worker process's memory: with N granian workers an address may
fail up to N x max failures before every worker bans it, and a restart forgets. That
still holds a guesser to a few attempts a minute instead of a thousand a second.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from cargobay.auth.credentials import read_credentials

log = logging.getLogger("cargobay")

BODY = b'{"message":"429 Too Many Requests - Retry later"}'
# Past this many addresses with recent failures, stale ones are dropped at once.
_PRUNE_AT = 10_000


class FailedAuthBan:
    def __init__(self, max_failures: int, window: float, ban: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self.ban = ban
        self.failures: dict[str, deque[float]] = {}
        self.banned: dict[str, float] = {}  # address -> monotonic time the ban ends

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not banned."""
        until = self.banned.get(address)
        if until is None:
            return None
        if until <= now:
            del self.banned[address]
            return None
        return max(1, int(until - now + 0.999))

    def fail(self, address: str, now: float) -> None:
        if not self.enabled:
            return
        if len(self.failures) > _PRUNE_AT:
            self.failures = {a: q for a, q in self.failures.items() if q[-1] > now - self.window}
        recent = self.failures.setdefault(address, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.max_failures:
            del self.failures[address]
            self.banned[address] = now + self.ban
            log.info(
                "banned %s for %d s after %d failed authentications in %d s",
                address,
                self.ban,
                self.max_failures,
                self.window,
            )


def carries_credentials(scope: Scope) -> bool:
    return not read_credentials(Headers(scope=scope), QueryParams(scope["query_string"])).empty


def client_host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class FailedAuthThrottle:
    """ASGI middleware: inside the trusted-proxy wrapper, so ``scope["client"]`` is the
    address the proxy forwards. A request costs a dict truthiness check and a status
    check on the response while no address is banned."""

    def __init__(self, app: ASGIApp, ban: FailedAuthBan) -> None:
        self.app = app
        self.ban = ban

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.ban.enabled:
            await self.app(scope, receive, send)
            return
        if self.ban.banned:
            retry = self.ban.retry_after(client_host(scope), time.monotonic())
            if retry is not None and carries_credentials(scope):
                await _too_many(send, retry)
                return

        async def watch(message: dict[str, object]) -> None:
            if (
                message["type"] == "http.response.start"
                and message["status"] == 401
                and carries_credentials(scope)
            ):
                self.ban.fail(client_host(scope), time.monotonic())
            await send(message)

        await self.app(scope, receive, watch)  # type: ignore[arg-type]


async def _too_many(send: Send, retry: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
                (b"retry-after", str(retry).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})
