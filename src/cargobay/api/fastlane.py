"""The fast lane: GET of a small generic package file, answered before Starlette routes.

The download a registry answers most (anonymous or with one access token, a file of at
most 64 KiB in the local store, no Range or conditional headers) costs one prepared
statement and one read (api/quick.py, api/delivery.small_body); the
routing, request and response objects around it would cost as much again. The lane
answers only what the general route would answer the same way, with the same headers
(tests/api/test_fastlane.py). Everything else, every refusal and error included, goes
on to the routes in api/routes.py, marked (api/quick.py): with the file the lane found but
does not send (too large, not local), or as looked up with no quick answer (a refusal, a
missing file), so the route does not run the lookup a second time.
"""

from __future__ import annotations

from cachetools import LRUCache
from starlette.datastructures import QueryParams
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cargobay.api import generic, quick
from cargobay.api.delivery import OCTET_STREAM, content_disposition, file_headers, small_body
from cargobay.api.observability import EXCHANGE
from cargobay.api.routes import routes
from cargobay.auth.throttle import FailedAuthBan, carries_credentials
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import BlobLocation, BlobMissing

# Headers that ask for something other than the whole file now.
_PARTIAL = ("range", "if-none-match", "if-modified-since")
# Small bodies by sha256, up to this many bytes in all: a blob never changes, so the copy
# in memory is right for as long as a file row points to it (and the row is read first).
BODY_CACHE_BYTES = 16 * 1024 * 1024


class FastLane:
    def __init__(self, app: ASGIApp, registry: Registry, ban: FailedAuthBan) -> None:
        self.app = app
        self.registry = registry
        self.ban = ban
        self.routes = [
            route
            for route in routes
            if isinstance(route, Route) and route.endpoint is generic.download
        ]
        self.bodies: LRUCache[str, bytes] = LRUCache(maxsize=BODY_CACHE_BYTES, getsizeof=len)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not await self._serve(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, send: Send) -> bool:
        for route in self.routes:
            match, child = route.matches(scope)  # scope["path"] is undecoded (RawPathRouting)
            if match is Match.FULL:
                break
        else:
            return False
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:  # as Starlette's Headers: the first one counts
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        if any(name in headers for name in _PARTIAL):
            return False
        if self.ban.banned and carries_credentials(scope):
            # Some address is banned for guessing tokens (auth/throttle.py). The lane runs
            # before the trusted-proxy wrapper, so it cannot tell whose token this is: the
            # route answers it, once the throttle has seen the real address. Anonymous
            # downloads stay here.
            return False
        query = QueryParams(scope["query_string"])
        file = await quick.quick_file(self.registry, "GET", child["path_params"], headers, query)
        if file is None:
            scope[quick.NO_QUICK_ANSWER] = True  # the route goes the general way at once
            return False
        body = self.bodies.get(file.file_sha256)
        if body is None:
            try:
                delivery = await self.registry.blobs.delivery(
                    BlobLocation(file.file_sha256, file.blob_key),
                    size=file.size,
                    file_name=file.file_name,
                    disposition=content_disposition(file.file_name),
                )
                body = small_body(file, delivery)
            except BlobMissing:
                body = None  # the route logs it and answers 500
            if body is None:
                scope[quick.FOUND_FILE] = file  # the route sends it, without a 2nd lookup
                return False
            self.bodies[file.file_sha256] = body
        response = file_headers(file)
        response["Accept-Ranges"] = "bytes"
        response["Content-Length"] = str(len(body))
        response["Content-Type"] = OCTET_STREAM
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in response.items()
                ],
            }
        )
        exchange = scope.get(EXCHANGE)
        if exchange is not None:  # counted as the route would count it (observability)
            scope["route"] = route
            exchange.delivery = "memory"
        await send({"type": "http.response.body", "body": body})
        self.registry.download_counts.count(file.package_id, file.id)
        return True
