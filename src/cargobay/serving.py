"""The process that supervises the granian workers.

``cargobay serve`` migrates the database and bootstraps the first administrator, then
replaces itself (exec) with this module: the supervisor then holds only granian (~30 MB)
instead of everything the preparation imported (~110 MB), and the workers, which import
the app, start from a clean interpreter.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import time
from typing import NoReturn

# glibc's malloc raises its mmap threshold each time a large block is freed, after which
# upload buffers come from arenas that seldom shrink: with a fixed threshold, a finished
# upload's parts go back to the OS, and memory stays flat across uploads. Two arenas
# instead of 8 per core for the handful of threads a worker runs. The operator's own
# values win.
MALLOC_DEFAULTS = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(256 * 1024)}


class PortInUse(Exception):
    pass


def claim_port(host: str, port: int) -> socket.socket:
    """Fail at once if something listens on ``host:port``, and keep another server from
    starting there meanwhile. granian's workers bind with SO_REUSEPORT, with which a
    second server binds the same port without an error and the kernel splits the
    connections between the two. This socket binds without it first (refused where any
    listener is), then is bound again with it: held open, it refuses the next server's
    check while letting our own workers bind beside it. It never listens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse("the address is already in use by another process") from None
            raise
    guard = socket.socket(family, socket.SOCK_STREAM)
    guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    guard.bind((host, port))
    return guard


def worker_count(workers: int) -> int:
    """0: one worker per CPU this process may run on."""
    return workers or len(os.sched_getaffinity(0))


def _default_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def metrics_environment(workers: int, environ: dict[str, str]) -> dict[str, str]:
    """The environment of the workers, for their metrics (services/metrics.py): with
    several, prometheus-client's multiprocess mode in an emptied directory, which each
    worker reads at import (beyond-gitlab §6.3); with one, the values stay in it."""
    from cargobay.services.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
    from cargobay.settings import Settings

    environ = dict(environ)
    environ.pop(MULTIPROC_ENV, None)
    settings = Settings()
    if workers > 1 and settings.metrics_enabled:
        path = (settings.metrics_dir or settings.data_dir / "tmp" / "metrics").resolve()
        prepare_multiprocess_dir(str(path))
        environ[MULTIPROC_ENV] = str(path)
    return environ


def accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` (a wildcard address: this machine's
    loopback) is accepted now."""
    wildcard = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
    target = wildcard.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def announce_when_listening(host: str, port: int, text: str, timeout: float = 120.0) -> None:
    """Print ``text`` on stdout once ``host:port`` accepts connections, so that what it
    tells to run works when it appears. This process is about to become the server
    (exec_server), so a detached grandchild waits for the port: it prints, or gives up
    silently if the server dies or ``timeout`` passes, and nobody has to reap it."""
    server = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:  # the child: fork the watcher and leave at once
        if os.fork() == 0:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(server):
                if accepts(host, port):
                    sys.stdout.write(text)
                    sys.stdout.flush()
                    break
                time.sleep(0.05)
    finally:
        os._exit(0)


def exec_server(host: str, port: int, workers: int) -> NoReturn:
    argv = [sys.executable, "-m", "cargobay.serving", host, str(port), str(workers)]
    environ = metrics_environment(workers, {**MALLOC_DEFAULTS, **os.environ})
    os.execve(sys.executable, argv, environ)  # noqa: S606


def main(host: str, port: str, workers: str) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    try:
        guard = claim_port(host, int(port))  # noqa: F841 (held for the server's lifetime)
    except (PortInUse, OSError) as exc:
        sys.exit(f"cargobay: cannot listen on {host}:{port}: {exc}")
    # A forked worker inherits the supervisor's signal handlers, which only set a flag
    # in the supervisor's memory: a SIGTERM that reached a worker before it installed
    # its own was swallowed, and it kept serving after the supervisor shut down (2 of 8
    # tries). Until then a worker now dies of SIGTERM and SIGINT as any process does.
    os.register_at_fork(after_in_child=_default_signals)
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
