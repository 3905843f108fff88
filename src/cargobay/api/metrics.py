"""GET /-/metrics: the Prometheus exposition (beyond-gitlab §6.4).

As GitLab's: only clients in the monitoring allowlist (default loopback) may read it, and
everyone else gets GitLab's 404. With ``metrics_token`` set, ``Authorization: Bearer
<token>`` is accepted from any address too. The client address is the one the trusted
proxies forwarded (the proxy-headers wrapper runs before the routes)."""

from __future__ import annotations

import hmac
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.params import registry_of
from cargobay.api.responses import json
from cargobay.domain.networks import Networks, parse_networks
from cargobay.services.metrics import scrape


@lru_cache(maxsize=8)
def _allowlist(text: str) -> Networks:
    return parse_networks(text)


def allowed(request: Request) -> bool:
    settings = registry_of(request).settings
    if not settings.metrics_enabled:
        return False
    token = settings.metrics_token.get_secret_value()
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return True
    client = request.client
    return client is not None and _allowlist(settings.monitoring_allowlist).contains(client.host)


async def metrics(request: Request) -> Response:
    if not allowed(request):
        return json({"error": "404 Not Found"}, 404)
    body, content_type = await scrape(registry_of(request), request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})
