"""Which upload bodies a worker process receives at once.

Each upload that streams more than one chunk holds up to two ``upload_chunk_size``
buffers in the process (more on S3: the parts in flight), so their number is bounded by
``concurrent_uploads``. A slot is taken when an upload has received its first full chunk,
not when it starts: a body smaller than one chunk (most uploads) never waits for a slot,
and a client that trickles its body holds none while it trickles (20 such clients took
all 16 slots when every upload took one at its start, and every other upload waited).
An upload that cannot get a slot within ``upload_queue_seconds`` is answered 503 with
``Retry-After`` instead of waiting without end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from cargobay.errors import unavailable


class UploadSlots:
    def __init__(self, count: int, *, chunk_size: int, queue_seconds: float) -> None:
        self._free = asyncio.Semaphore(count)
        self.in_use = 0
        self.chunk_size = chunk_size
        self.queue_seconds = queue_seconds

    def admit(self, body: AsyncIterator[bytes]) -> Admitted:
        return Admitted(self, body)


class Admitted:
    """One upload's body; it takes a slot once a full chunk has arrived, and ``release``
    (which the caller runs on every path, once the body is stored or failed) gives the
    slot back."""

    def __init__(self, slots: UploadSlots, body: AsyncIterator[bytes]) -> None:
        self._slots = slots
        self._body = body
        self._held = False

    async def chunks(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._body:
            if not self._held:
                received += len(chunk)
                if received >= self._slots.chunk_size:
                    await self._take()
            yield chunk

    async def _take(self) -> None:
        slots = self._slots
        try:
            async with asyncio.timeout(slots.queue_seconds):
                await slots._free.acquire()
        except TimeoutError:
            raise unavailable(
                "too many uploads in progress", retry_after=max(1, round(slots.queue_seconds))
            ) from None
        self._held = True
        slots.in_use += 1

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.in_use -= 1
            self._slots._free.release()
