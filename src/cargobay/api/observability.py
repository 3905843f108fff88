"""The outermost ASGI layer: request metrics, the request id and the access log line
(beyond-gitlab §6.2, §6.5).

It runs before everything else in app.py, so the fast lane's answers are counted too. The
route label is the template of the route that answered (``scope["route"]``, set by
Starlette's router and by the fast lane), never the path: the scope dict is shared by
every layer below (none copies it), so it is read here after the answer. A handler that
sends a file says how (``Exchange.delivery``) and the download metrics follow from it.

Cost on the hot path (a 1 KiB download, ~0.25 ms of CPU): a closure around ``send``, a
few dict lookups, one tuple for the metrics, summed in the worker and written in batches
(services/metrics.RequestTally), and one log record handed to a queue; the JSON line is
formatted in the listener's thread (api/access_log.py). ``make bench`` measures it
(bench/metrics.py, docs/performance.md: metrics overhead).

Label values come from short fixed lists or the route table, never from the request: a
method outside ``METHODS`` is ``other`` (a client may send any token as a method), and
the route is the template (``UNMATCHED`` when no route answered).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cargobay.api.access_log import AccessLog
from cargobay.domain.networks import Networks, parse_networks
from cargobay.services.metrics import Metrics

# The per-request record inner layers fill in (api/delivery.py, api/fastlane.py).
EXCHANGE = "cargobay.exchange"
HEALTH_PATHS = frozenset(("/-/health", "/-/liveness", "/-/readiness", "/-/metrics"))
UNMATCHED = "unmatched"  # no route answered (an unknown path's 404)
# GitLab's label values: lower-case methods; any other method is one value.
METHODS = {m: m.lower() for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
OTHER_METHOD = "other"
_CONVERTOR = re.compile(r":[A-Za-z_]+\}")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
_BODY_METHODS = frozenset(("PUT", "POST", "PATCH"))
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> 2 characters


class Exchange:
    """What the layers below tell this one about a request."""

    __slots__ = ("delegated", "delivery", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.delivery: str | None = None  # how a file body went out (services/metrics.py)
        self.delegated = 0  # the bytes nginx or the object store sends for us


def ulid() -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits in Crockford's base32, 26
    characters that sort by time (GitLab's correlation ids look the same)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    pairs = _PAIRS
    out = [pairs[value >> 120]]  # 8 bits as 2 characters: 26 x 5 = 130, 2 bits of padding
    for shift in range(110, -10, -10):
        out.append(pairs[(value >> shift) & 0x3FF])
    return "".join(out)


def method_label(method: str) -> str:
    """``GET`` -> ``get``; a method that is not in ``METHODS`` -> ``other``."""
    return METHODS.get(method, OTHER_METHOD)


def route_label(route: Any, cache: dict[str, str]) -> str:
    """``/x/{file_path:path}`` -> ``/x/{file_path}``: the template without convertors."""
    path = getattr(route, "path", None)
    if path is None:
        return UNMATCHED
    label = cache.get(path)
    if label is None:
        label = cache[path] = _CONVERTOR.sub("}", path) or "/"
    return label


class TrustedPeers:
    """Whether the peer (the address that connected) may set X-Request-Id: a proxy of
    settings.trusted_proxies. Answers are remembered per address, a few thousand at most."""

    def __init__(self, networks: Networks) -> None:
        self.networks = networks
        self.known: dict[str, bool] = {}

    def __call__(self, host: str) -> bool:
        trusted = self.known.get(host)
        if trusted is None:
            trusted = self.networks.contains(host)
            if len(self.known) > 4096:
                self.known.clear()
            self.known[host] = trusted
        return trusted


class Observability:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None,
        access_log: AccessLog | None,
        trusted_proxies: str,
        log_health: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log = access_log
        self.trusted = TrustedPeers(parse_networks(trusted_proxies))
        self.log_health = log_health
        self.labels: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        peer = scope.get("client")
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if peer and self.trusted(peer[0]):
                    text = value.decode("latin-1")
                    if _REQUEST_ID.fullmatch(text):
                        request_id = text
                break
        if request_id is None:
            request_id = ulid()
        exchange = Exchange(request_id)
        scope[EXCHANGE] = exchange
        method = scope["method"]
        path = scope["path"]  # before RawPathRouting: decoded
        raw_path = scope.get("raw_path")
        id_header = (b"x-request-id", request_id.encode())
        sent = [0, 0, 0.0]  # status, body bytes, seconds to the status line
        pathsend_size: list[int] = []
        headers_out: list[tuple[bytes, bytes]] = []

        async def observed_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                sent[1] += len(message.get("body", b""))
            elif kind == "http.response.start":
                sent[0] = message["status"]
                sent[2] = time.perf_counter() - started
                headers = message.get("headers", [])
                headers_out[:] = headers
                message["headers"] = [*headers, id_header]
            elif kind == "http.response.pathsend":
                pathsend_size.append(_content_length(headers_out))
            await send(message)

        received = [0]
        observed_receive = receive
        if method in _BODY_METHODS:

            async def counting_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    received[0] += len(message.get("body", b""))
                return message

            observed_receive = counting_receive

        tally = self.metrics.tally if self.metrics is not None else None
        if tally is not None:
            tally.started()
        try:
            await self.app(scope, observed_receive, observed_send)
        except BaseException:
            if not sent[0]:
                sent[0] = 500  # what ServerErrorMiddleware answers
            raise
        finally:
            status = int(sent[0])
            body_bytes = int(sent[1]) + sum(pathsend_size)
            duration = time.perf_counter() - started
            health = path in HEALTH_PATHS
            route = route_label(scope.get("route"), self.labels)
            if tally is not None:
                tally.finished(
                    method_label(method),
                    route,
                    str(status),  # GitLab's label values: string statuses
                    duration,
                    float(sent[2]),
                    health,
                    exchange.delivery,
                    exchange.delegated if exchange.delegated else body_bytes,
                )
            if self.log is not None and (self.log_health or not health):
                client = scope.get("client")
                self.log.request(
                    {
                        "correlation_id": request_id,
                        "method": method,
                        "path": raw_path.decode("latin-1") if raw_path else path,
                        "query": scope.get("query_string", b""),
                        "route": route,
                        "status": status,
                        "duration_s": duration,
                        "ttfb_s": float(sent[2]),
                        "bytes_in": received[0],
                        "bytes_out": body_bytes,
                        "remote_ip": client[0] if client else None,
                        "ua": _header(scope, b"user-agent"),
                        "delivery": exchange.delivery,
                    }
                )


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name == b"content-length":
            return int(value)
    return 0


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None
