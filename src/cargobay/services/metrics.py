"""Every Prometheus metric Cargobay exports, in one place (beyond-gitlab §6.2), and the
scrape of /-/metrics.

One ``Metrics`` object per registry (services/registry.py): the request middleware
(api/observability.py) counts requests, the use cases count what they do (uploads in
services/publish.py, upload slots in services/admission.py, downloads in api/delivery.py
and the fast lane, GC and cleanup in services/gc.py and services/cleanup.py).

Several workers (``cargobay serve --workers N``, N > 1): serving.py points
``PROMETHEUS_MULTIPROC_DIR`` at an emptied directory before granian starts, so every
worker's values go to memory-mapped files there (prometheus-client's multiprocess mode,
§6.3) and a scrape, whichever worker answers it, reads and sums them all. With one
worker the values stay in the process. The metric objects are never registered in
prometheus-client's global registry: each ``Metrics`` has its own.

Labels never carry a package, project or user name: ``route`` is the route template,
``delivery``, ``result``, ``store`` and ``status`` come from short fixed lists.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from cargobay.storage.db.inventory import Inventory, inventory

if TYPE_CHECKING:
    from cargobay.services.registry import Registry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Request durations: a 1 KiB download takes ~0.5 ms, a 5 GiB upload ~20 s.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0)
# Workhorse's object storage upload time buckets (.1 to 100 s).
UPLOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0)
# Database transactions: a lookup by key takes ~0.1 ms on SQLite, a commit ~1 ms.
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
INVENTORY_SECONDS = 60.0  # the inventory gauges are counted from the database this often
# Request metrics are summed in the worker and written to the metric values this often
# (RequestTally); a scrape waits this long twice for the other workers' last write.
FLUSH_SECONDS = 0.05
_HTTP_BOUNDS = (*HTTP_BUCKETS, math.inf)  # prometheus-client's upper bounds, +Inf last
_DB_BOUNDS = (*DB_BUCKETS, math.inf)

# The kinds of answer to a download (api/delivery.py): bytes Cargobay sent itself, and
# bytes nginx (X-Accel-Redirect) or the object store (a presigned redirect) sent for it.
SENT_BY_US = ("memory", "file", "s3_proxy")
DELEGATED = ("accel", "s3_redirect")
UPLOAD_RESULTS = ("created", "refused", "checksum_mismatch", "too_large", "client_aborted", "error")
ARCHIVE_FORMATS = ("tar", "zip", "tar.gz")
# complete: the answer's last byte was sent (a range's too); aborted: cut short after it
# began (the client left, a blob failed); refused: answered with an error (a bad range).
ARCHIVE_RESULTS = ("complete", "aborted", "refused")


class Metrics:
    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        # Single process: the metrics live in this registry. Multiprocess: in the files.
        self.registry = CollectorRegistry(auto_describe=True)
        reg = None if self.multiprocess_dir else self.registry

        # HTTP, by the middleware (api/observability.py)
        self.http_requests = Counter(
            "cargobay_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=reg,
        )
        self.http_duration = Histogram(
            "cargobay_http_request_duration_seconds",
            "Time from the request to the last byte of the answer.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=reg,
        )
        self.http_time_to_header = Histogram(
            "cargobay_http_time_to_write_header_seconds",
            "Time from the request to the status line of the answer (latency without the body).",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=reg,
        )
        self.http_in_flight = Gauge(
            "cargobay_http_in_flight_requests",
            "Requests being answered now.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.http_health = Counter(
            "cargobay_http_health_requests",
            "Requests to /-/health, /-/liveness, /-/readiness and /-/metrics.",
            ["method", "status"],
            registry=reg,
        )
        # Uploads (services/publish.py, services/admission.py)
        self.uploads = Counter(
            "cargobay_uploads",
            "Generic file uploads by result.",
            ["result"],
            registry=reg,
        )
        self.upload_bytes = Counter(
            "cargobay_upload_bytes",
            "Bytes of uploads stored, by blob store.",
            ["store"],
            registry=reg,
        )
        self.upload_duration = Histogram(
            "cargobay_upload_duration_seconds",
            "Time to receive and store an upload's body, by blob store.",
            ["store"],
            buckets=UPLOAD_BUCKETS,
            registry=reg,
        )
        self.uploads_in_flight = Gauge(
            "cargobay_uploads_in_flight",
            "Upload slots in use: bodies being received now (concurrent_uploads per worker).",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.upload_slots_waiting = Gauge(
            "cargobay_upload_slots_waiting",
            "Uploads waiting for an upload slot.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.checksum_deploys = Counter(
            "cargobay_checksum_deploys",
            "Checksum-deploy uploads (X-Checksum-Deploy): hit (content known) or miss.",
            ["result"],
            registry=reg,
        )
        # Downloads (api/delivery.py, api/fastlane.py)
        self.downloads = Counter(
            "cargobay_downloads",
            "Generic file downloads answered, by delivery and status.",
            ["delivery", "status"],
            registry=reg,
        )
        self.download_bytes = Counter(
            "cargobay_download_bytes",
            "Bytes of file bodies Cargobay sent itself, by delivery.",
            ["delivery"],
            registry=reg,
        )
        self.download_delegated_bytes = Counter(
            "cargobay_download_delegated_bytes",
            "Bytes of file bodies nginx (accel) or the object store (s3_redirect) sent for us.",
            ["delivery"],
            registry=reg,
        )
        # The database (storage/db/database.py, through RequestTally.database)
        self.db_duration = Histogram(
            "cargobay_db_query_duration_seconds",
            "Time of a database transaction or one-statement lookup, from asking for a "
            "connection to its end (a write's commit, and on SQLite its wait for the "
            "write lock, included), by op (read, write).",
            ["op"],
            buckets=DB_BUCKETS,
            registry=reg,
        )
        # Whole-package archives (api/generic.py)
        self.archive_downloads = Counter(
            "cargobay_archive_downloads",
            "Whole-package archive downloads by format and result (complete, aborted, refused).",
            ["format", "result"],
            registry=reg,
        )
        self.archive_bytes = Counter(
            "cargobay_archive_bytes",
            "Bytes of archive bodies sent, by format.",
            ["format"],
            registry=reg,
        )
        # Scheduled and maintenance work (services/gc.py, services/cleanup.py)
        self.gc_runs = Counter(
            "cargobay_gc_runs", "Garbage collections by result.", ["result"], registry=reg
        )
        self.gc_blobs_deleted = Counter(
            "cargobay_gc_blobs_deleted", "Stored blobs the garbage collector deleted.", registry=reg
        )
        self.gc_freed_bytes = Counter(
            "cargobay_gc_freed_bytes",
            "Bytes of the stored blobs the garbage collector deleted.",
            registry=reg,
        )
        self.gc_last_success = Gauge(
            "cargobay_gc_last_success_timestamp_seconds",
            "When the last garbage collection succeeded (Unix time).",
            registry=reg,
            multiprocess_mode="mostrecent",
        )
        self.cleanup_runs = Counter(
            "cargobay_cleanup_runs",
            "Cleanup policy runs (one project each) by result.",
            ["result"],
            registry=reg,
        )
        self.cleanup_removed = Counter(
            "cargobay_cleanup_removed",
            "Packages and package files cleanup policies removed.",
            ["kind"],
            registry=reg,
        )
        for delivery in SENT_BY_US:
            self.download_bytes.labels(delivery)
        for delivery in DELEGATED:
            self.download_delegated_bytes.labels(delivery)
        for result in UPLOAD_RESULTS:
            self.uploads.labels(result)
        for kind in ARCHIVE_FORMATS:
            self.archive_bytes.labels(kind)
            for result in ARCHIVE_RESULTS:
                self.archive_downloads.labels(kind, result)
        for result in ("success", "failed"):  # present at 0 before the first run
            self.gc_runs.labels(result)
            self.cleanup_runs.labels(result)
        self._inventory: tuple[float, Inventory] | None = None
        self.tally = RequestTally(self)

    def uploaded(self, store: str, result: str, size: int, seconds: float) -> None:
        self.uploads.labels(result).inc()
        if result == "created":
            self.upload_bytes.labels(store).inc(size)
            self.upload_duration.labels(store).observe(seconds)

    def archive_sent(self, kind: str, result: str, size: int) -> None:
        self.archive_downloads.labels(kind, result).inc()
        self.archive_bytes.labels(kind).inc(size)


# One finished request, as RequestTally.finished takes it.
_Request = tuple[str, str, str, float, float, bool, str | None, int]


class RequestTally:
    """The request metrics of one worker, summed in memory and written to the metric
    values in one go at most every ``FLUSH_SECONDS`` (a timer on the event loop).

    Each value write of prometheus-client's multiprocess mode takes a lock, checks the
    pid and packs into the memory-mapped file, about 2-5 us; written per request, the
    nine of a download (in-flight up and down, the counter, two histograms of two values
    each, the download counter and its bytes) cost ~10 % of a fast-lane answer. Here a
    request costs one tuple appended to a list, and a flush writes each label set's sum
    once. A scrape flushes its own worker first and, with several workers, waits for the
    others' next flush (``scrape``), so it sees every request that finished before it.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.pending: list[_Request] = []
        self.in_flight = 0
        self.written_in_flight = 0
        self.scheduled = False
        self.children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.db: dict[str, tuple[list[int], list[float]]] = {}  # op -> (buckets, [sum])

    def database(self, op: str, seconds: float) -> None:
        """One database block (``Database.timed``): bucketed here, written at the next
        flush: 0.2 us (``python -m timeit``), where a histogram observe() in
        multiprocess mode costs 2-5."""
        seen = self.db.get(op)
        if seen is None:
            seen = self.db[op] = ([0] * len(_DB_BOUNDS), [0.0])
        seen[0][bisect_left(_DB_BOUNDS, seconds)] += 1
        seen[1][0] += seconds

    def started(self) -> None:
        self.in_flight += 1
        if not self.scheduled:
            self._schedule()

    def finished(
        self,
        method: str,
        route: str,
        status: str,
        duration: float,
        to_header: float,
        health: bool,
        delivery: str | None,
        size: int,
    ) -> None:
        """``method``, ``route``, ``status``: label values already (api/observability.py);
        ``delivery`` and ``size``: how a download's body went out and its bytes."""
        self.in_flight -= 1
        self.pending.append((method, route, status, duration, to_header, health, delivery, size))
        if not self.scheduled:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a direct call): write at once
            self.flush()
            return
        self.scheduled = True
        loop.call_later(FLUSH_SECONDS, self._timer)

    def _timer(self) -> None:
        self.scheduled = False
        self.flush()

    def child(self, metric: MetricWrapperBase, labels: tuple[str, ...]) -> Any:
        key = (metric._name, labels)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = metric.labels(*labels)
        return found

    def flush(self) -> None:
        """Write what finished since the last flush, summed by label set."""
        pending, self.pending = self.pending, []
        m = self.metrics
        if self.in_flight != self.written_in_flight:
            m.http_in_flight.set(self.in_flight)
            self.written_in_flight = self.in_flight
        db, self.db = self.db, {}
        for op, timings in db.items():
            _Observed.write(self.child(m.db_duration, (op,)), timings)
        if not pending:
            return
        requests: dict[tuple[str, ...], int] = {}
        health: dict[tuple[str, ...], int] = {}
        histograms: dict[tuple[str, ...], _Observed] = {}
        downloads: dict[tuple[str, ...], int] = {}
        sent: dict[str, int] = {}
        for method, route, status, duration, to_header, is_health, delivery, size in pending:
            if is_health:
                short: tuple[str, ...] = (method, status)
                health[short] = health.get(short, 0) + 1
            else:
                full: tuple[str, ...] = (method, route, status)
                requests[full] = requests.get(full, 0) + 1
                pair: tuple[str, ...] = (method, route)
                observed = histograms.get(pair)
                if observed is None:
                    observed = histograms[pair] = _Observed()
                observed.add(duration, to_header)
            if delivery is not None:
                how: tuple[str, ...] = (delivery, status)
                downloads[how] = downloads.get(how, 0) + 1
                if size:
                    sent[delivery] = sent.get(delivery, 0) + size
        for labels, count in requests.items():
            self.child(m.http_requests, labels).inc(count)
        for labels, count in health.items():
            self.child(m.http_health, labels).inc(count)
        for labels, seen in histograms.items():
            seen.write(self.child(m.http_duration, labels), seen.duration)
            seen.write(self.child(m.http_time_to_header, labels), seen.to_header)
        for labels, count in downloads.items():
            self.child(m.downloads, labels).inc(count)
        for delivery, size in sent.items():
            bytes_metric = m.download_delegated_bytes if delivery in DELEGATED else m.download_bytes
            self.child(bytes_metric, (delivery,)).inc(size)


class _Observed:
    """Observations of the two HTTP histograms for one label set, bucketed as
    prometheus-client buckets them (the first upper bound >= the value)."""

    __slots__ = ("duration", "to_header")

    def __init__(self) -> None:
        self.duration: tuple[list[int], list[float]] = ([0] * len(_HTTP_BOUNDS), [0.0])
        self.to_header: tuple[list[int], list[float]] = ([0] * len(_HTTP_BOUNDS), [0.0])

    def add(self, duration: float, to_header: float) -> None:
        self.duration[0][bisect_left(_HTTP_BOUNDS, duration)] += 1
        self.duration[1][0] += duration
        self.to_header[0][bisect_left(_HTTP_BOUNDS, to_header)] += 1
        self.to_header[1][0] += to_header

    @staticmethod
    def write(child: Any, observed: tuple[list[int], list[float]]) -> None:
        # A Histogram child's values (what its observe() increments): there is no
        # public call that adds many observations at once. tests/unit/test_metrics.py
        # checks that the result is what observe() gives.
        buckets, total = observed
        for i, count in enumerate(buckets):
            if count:
                child._buckets[i].inc(count)
        child._sum.inc(total[0])


async def scrape(registry: Registry, accept: str | None) -> tuple[bytes, str]:
    """The exposition body and its content type (Prometheus text, or OpenMetrics when
    ``accept`` asks for it), with the inventory gauges counted at most once a minute."""
    metrics = registry.metrics
    metrics.tally.flush()
    if metrics.multiprocess_dir is not None:
        await anyio.sleep(2 * FLUSH_SECONDS)  # every other worker flushes meanwhile
    now = time.monotonic()
    if metrics._inventory is None or now - metrics._inventory[0] > INVENTORY_SECONDS:
        async with registry.db.read() as conn:
            metrics._inventory = (now, await inventory(conn))
    extra = _Inventory(metrics._inventory[1], _build_labels(registry))
    encode, content_type = choose_encoder(accept or "")
    collectors: list[Collector] = [extra]
    if metrics.multiprocess_dir is None:
        collectors.append(metrics.registry)
    else:
        collectors.append(_Files(metrics.multiprocess_dir))
    # Reading and merging the workers' files is file I/O and some CPU: off the loop.
    body = await anyio.to_thread.run_sync(encode, _Together(collectors))
    return body, content_type


def _build_labels(registry: Registry) -> dict[str, str]:
    url = registry.settings.resolved_database_url()
    return {
        "version": package_version("cargobay"),
        "python": platform.python_version(),
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "blob_store": registry.settings.blob_store,
    }


def reap_dead_workers(path: str) -> None:
    """Remove the live gauges of worker processes that are gone (a crash, a restart):
    granian has no per-worker exit hook. Their counters stay in the sum, as they should."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        if not (name.startswith("gauge_live") and name.endswith(".db")):
            continue
        pid_text = name.removesuffix(".db").rpartition("_")[2]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            mark_process_dead(int(pid_text), path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_multiprocess_dir(path: str) -> None:
    """Create the directory and empty it of metric files, before the workers start: files
    of an earlier run would add its counts to this one's (§6.3). Only ``*.db`` files are
    removed, so a directory named by mistake loses nothing else."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


@dataclass(frozen=True, slots=True)
class _Files(Collector):
    path: str

    def collect(self) -> Iterable[Metric]:
        reap_dead_workers(self.path)
        scratch = CollectorRegistry(auto_describe=False)
        files = MultiProcessCollector(scratch, path=self.path)  # type: ignore[no-untyped-call]
        found: Iterable[Metric] = files.collect()  # type: ignore[no-untyped-call]
        return found


@dataclass(frozen=True, slots=True)
class _Together(Collector):
    parts: list[Collector]

    def collect(self) -> Iterable[Metric]:
        for part in self.parts:
            yield from part.collect()


@dataclass(frozen=True, slots=True)
class _Inventory(Collector):
    """Gauges counted from the database by the worker that answers the scrape (so they
    are right whatever the number of workers), and the build information."""

    counts: Inventory
    build: dict[str, str]

    def collect(self) -> Iterable[Metric]:
        packages = GaugeMetricFamily("cargobay_packages", "Packages by status.", labels=["status"])
        for status, count in self.counts.packages.items():
            packages.add_metric([status], count)
        yield packages
        yield GaugeMetricFamily(
            "cargobay_package_files",
            "Package files that can be downloaded.",
            value=self.counts.package_files,
        )
        yield GaugeMetricFamily(
            "cargobay_stored_bytes",
            "Bytes the blob store holds (each distinct content once).",
            value=self.counts.stored_bytes,
        )
        yield GaugeMetricFamily(
            "cargobay_logical_bytes",
            "Bytes of the package files that can be downloaded (the same content counted "
            "per file: the ratio to cargobay_stored_bytes is the deduplication gain).",
            value=self.counts.logical_bytes,
        )
        info = GaugeMetricFamily(
            "cargobay_build_info",
            "Always 1; the labels say which Cargobay runs, and on what.",
            labels=list(self.build),
        )
        info.add_metric(list(self.build.values()), 1)
        yield info
