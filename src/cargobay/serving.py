"""The process that supervises the granian workers.

``cargobay serve`` migrates the database and bootstraps the first administrator, then
replaces itself (exec) with this module: the supervisor then holds only granian (~30 MB)
instead of everything the preparation imported (~110 MB), and the workers, which import
the app, start from a clean interpreter.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

# glibc's malloc raises its mmap threshold each time a large block is freed, after which
# upload buffers come from arenas that seldom shrink: with a fixed threshold, a finished
# upload's parts go back to the OS, and memory stays flat across uploads. Two arenas
# instead of 8 per core for the handful of threads a worker runs. The operator's own
# values win.
MALLOC_DEFAULTS = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(256 * 1024)}


def exec_server(host: str, port: int, workers: int) -> NoReturn:
    argv = [sys.executable, "-m", "cargobay.serving", host, str(port), str(workers)]
    os.execve(sys.executable, argv, {**MALLOC_DEFAULTS, **os.environ})  # noqa: S606


def main(host: str, port: str, workers: str) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    Granian(
        "cargobay.app:factory",
        factory=True,
        address=host,
        port=int(port),
        interface=Interfaces.ASGI,
        workers=int(workers),
        log_access=False,
        # A connection's buffer (granian's default: 408 KiB). With 1 MiB a 1 GiB download
        # ran at 0.83-0.85 of nginx in two `make bench` runs, against 0.80 at the default
        # and 0.71-0.72 at 128 KiB. What it may take during many uploads at once is
        # bounded by settings.concurrent_uploads.
        http1_settings=HTTP1Settings(max_buffer_size=1024 * 1024),
    ).serve()


if __name__ == "__main__":
    main(*sys.argv[1:])
