"""Which upload bodies a worker process receives at once, and how many package archives
it streams at once (``ArchiveSlots``, at the end).

Each upload being received holds up to two ``upload_chunk_size`` buffers in the process
(more on S3: the parts in flight), so their number is bounded by ``concurrent_uploads``:
an upload reads its body only while it holds a slot, and later ones wait with their bytes
still in the socket (without the bound, 100 concurrent 1 MiB uploads took the server to
~290 MB, the bodies piling up below Python as fast as they arrived).

A slot is for an upload that is receiving, not for one that waits for its client: when
an upload has waited ``YIELD_AFTER`` seconds for its next chunk while other uploads queue
for a slot, it gives its slot up, and queues again once that chunk has arrived. Clients that
trickle their bodies (20 of them held all 16 slots, and every other upload waited for
them) then take turns with everyone else. What such an upload holds meanwhile is what
it has gathered (less than one chunk) and the chunk it queues with. An upload that cannot
get a slot within ``upload_queue_seconds`` is answered 503 with ``Retry-After`` instead of
waiting without end; one whose client sends nothing at all is ended by the idle timeout
(api/bodies.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from prometheus_client import Gauge

from cargobay.errors import unavailable

YIELD_AFTER = 0.05  # seconds; a receiving upload's chunks are milliseconds apart


class UploadSlots:
    def __init__(
        self,
        count: int,
        *,
        queue_seconds: float,
        in_use: Gauge | None = None,
        waiting: Gauge | None = None,
    ) -> None:
        self._free = asyncio.Semaphore(count)
        self.in_use = 0
        self.waiting = 0
        self.queue_seconds = queue_seconds
        # The same two numbers for /-/metrics (services/metrics.py), summed over workers.
        self.in_use_gauge = in_use
        self.waiting_gauge = waiting

    def _change(self, in_use: int, waiting: int) -> None:
        self.in_use += in_use
        self.waiting += waiting
        if in_use and self.in_use_gauge is not None:
            self.in_use_gauge.inc(in_use)
        if waiting and self.waiting_gauge is not None:
            self.waiting_gauge.inc(waiting)

    def admit(self, body: AsyncIterator[bytes]) -> Admitted:
        return Admitted(self, body)


class Admitted:
    """One upload's body, read only while it holds a slot. ``release`` (which the caller
    runs on every path, once the body is stored or has failed) gives the slot back."""

    def __init__(self, slots: UploadSlots, body: AsyncIterator[bytes]) -> None:
        self._slots = slots
        self._body = body
        self._held = False
        self._timer: asyncio.TimerHandle | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        body = aiter(self._body)
        await self._take()  # before the first byte: a new upload waits in the socket
        while True:
            if self._held:
                self._timer = loop.call_later(YIELD_AFTER, self._yield_if_wanted)
            try:
                chunk = await anext(body)
            except StopAsyncIteration:
                return
            finally:
                if self._timer is not None:
                    self._timer.cancel()
            if not self._held:
                await self._take()  # it gave its slot up: queue with the chunk it got
            yield chunk

    def _yield_if_wanted(self) -> None:
        """Still waiting for the client: give the slot to an upload that queues for one,
        or look again later."""
        if self._slots.waiting:
            self.release()
        else:
            self._timer = asyncio.get_running_loop().call_later(YIELD_AFTER, self._yield_if_wanted)

    async def _take(self) -> None:
        slots = self._slots
        slots._change(0, 1)
        try:
            async with asyncio.timeout(slots.queue_seconds):
                await slots._free.acquire()
        except TimeoutError:
            raise unavailable(
                "too many uploads in progress", retry_after=max(1, round(slots.queue_seconds))
            ) from None
        finally:
            slots._change(0, -1)
        self._held = True
        slots._change(1, 0)

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._change(-1, 0)
            self._slots._free.release()


class ArchiveSlots:
    """Archives streaming at once in this process (settings.archive_concurrency): one
    more answers 503 with Retry-After, as Artifactory's parallel folder downloads."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.busy = 0

    def take(self) -> Callable[[], None]:
        """A slot, or the 503; call what it returns once, when the archive is sent."""
        if self.busy >= self.count:
            raise unavailable("Too many archives are being downloaded", retry_after=5)
        self.busy += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.busy -= 1

        return release
