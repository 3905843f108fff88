"""The stylesheet and script, read once at start and served with long-lived caching:
pages link them as ``/-/static/<name>?v=<content hash>``, so a new release busts caches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from cargobay.errors import not_found

DIRECTORY = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str


def load() -> dict[str, Asset]:
    assets = {}
    for path in sorted(DIRECTORY.iterdir()):
        if path.suffix in MEDIA_TYPES:
            body = path.read_bytes()
            version = hashlib.sha256(body).hexdigest()[:12]
            assets[path.name] = Asset(body, MEDIA_TYPES[path.suffix], version)
    return assets


async def serve(request: Request) -> Response:
    assets: dict[str, Asset] = request.app.state.static
    asset = assets.get(request.path_params["name"])
    if asset is None:
        raise not_found("No such file")
    current = request.query_params.get("v") == asset.version
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if current else "no-cache",
        "ETag": f'"{asset.version}"',
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
