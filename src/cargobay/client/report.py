"""Progress while files move: rich bars on a terminal, one plain line per file otherwise,
and the ``--json`` summary."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


@dataclass
class Summary:
    done_key: str  # "uploaded" or "downloaded"
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_json(self) -> dict[str, Any]:
        return {
            self.done_key: sorted(self.done),
            "skipped": sorted(self.skipped),
            "failed": sorted(self.failed, key=lambda f: str(f["path"])),
            "bytes": self.bytes,
            "duration_s": round(time.monotonic() - self.started, 3),
        }


class Reporter:
    """Thread-safe. ``quiet`` (``--json``): plain lines go to stderr, the summary to stdout."""

    def __init__(self, summary: Summary, *, as_json: bool, out: TextIO | None = None) -> None:
        self.summary = summary
        self.as_json = as_json
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.total: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        if not as_json and self.out.isatty():
            self.progress = Progress(
                TextColumn("{task.description}", justify="left"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.out),
                transient=False,
            )

    def __enter__(self) -> Reporter:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def set_total(self, total: int) -> None:
        if self.progress is not None:
            self.total = self.progress.add_task("total", total=total)

    def line(self, text: str) -> None:
        with self.lock:
            if self.progress is not None:
                self.progress.console.print(text, markup=False, highlight=False)
            else:
                print(text, file=sys.stderr if self.as_json else self.out, flush=True)

    def start(self, path: str, size: int) -> None:
        if self.progress is not None:
            with self.lock:
                self.tasks[path] = self.progress.add_task(path, total=size)

    def advance(self, path: str, amount: int) -> None:
        if self.progress is not None:
            with self.lock:
                if path in self.tasks:
                    self.progress.advance(self.tasks[path], amount)
                if self.total is not None:
                    self.progress.advance(self.total, amount)

    def rewind(self, path: str, amount: int) -> None:
        """A retry sends the bytes again."""
        self.advance(path, -amount)

    def finish(self, path: str, verb: str, size: int) -> None:
        with self.lock:
            if verb == "skipped":
                self.summary.skipped.append(path)
            else:
                self.summary.done.append(path)
                self.summary.bytes += size
            if self.progress is not None and path in self.tasks:
                self.progress.remove_task(self.tasks.pop(path))
        if verb != "skipped" or self.progress is None:
            self.line(f"{verb} {path} ({size} bytes)")

    def fail(self, path: str, status: int | None, message: str) -> None:
        with self.lock:
            self.summary.failed.append({"path": path, "status": status, "message": message})
            if self.progress is not None and path in self.tasks:
                self.progress.remove_task(self.tasks.pop(path))
        self.line(f"failed {path}: {message}")

    def close(self) -> None:
        if self.as_json:
            print(json.dumps(self.summary.as_json()), file=self.out, flush=True)
        else:
            s = self.summary
            self.line(
                f"{len(s.done)} {s.done_key}, {len(s.skipped)} skipped, {len(s.failed)} failed,"
                f" {s.bytes} bytes in {time.monotonic() - s.started:.1f} s"
            )
