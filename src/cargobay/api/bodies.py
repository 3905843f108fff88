"""Request bodies as the upload path reads them: chunk by chunk, with an idle timeout.

Nothing else times out a body: a client that stops sending (or sends a byte now and
then) would hold its connection, and the upload's resources, for as long as it liked.
The timeout covers only the wait for the next chunk, not the work done with the last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from cargobay.errors import request_timeout


async def body_chunks(request: Request, *, idle_seconds: float) -> AsyncIterator[bytes]:
    """The body's chunks; 408 when none arrives for ``idle_seconds``. Starlette's
    ``ClientDisconnect`` when the client goes away."""
    receive = request.receive
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                message = await receive()
        except TimeoutError:
            raise request_timeout(idle_seconds) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
