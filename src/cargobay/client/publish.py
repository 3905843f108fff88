"""``cargobay publish``: scan, remote index, plan, parallel upload
(shared/spec/beyond-gitlab.md §1.3)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cargobay.client.config import ClientError, ConfigError
from cargobay.client.remote import Remote, describe
from cargobay.client.report import Reporter

# GitLab's file-name rule (newest profile) for the last segment, and its traversal check
# for directory segments (cargobay/domain/names.py holds the server's copy).
FILE_NAME = re.compile(r"(?![~@])[A-Za-z0-9._+~@-]+(?<![~@])")
MAX_NAME_LENGTH = 255
MAX_PATH_LENGTH = 1024
CHECKSUM_DEPLOY_MIN = 10 * 1024
CHUNK = 1024 * 1024


@dataclass
class LocalFile:
    path: str  # the remote name: relative, with /
    source: Path
    size: int
    sha256: str = ""


def name_problem(path: str) -> str | None:
    """Why ``path`` cannot be a generic file name, or None."""
    *dirs, name = path.split("/")
    if len(path) > MAX_PATH_LENGTH:
        return "the path is longer than 1024 characters"
    if any(d in ("", ".", "..") or "\\" in d or "\0" in d or "\n" in d for d in dirs):
        return "a directory segment is empty, '.', '..' or has a backslash"
    if len(name) > MAX_NAME_LENGTH or not FILE_NAME.fullmatch(name) or name in (".", ".."):
        return "the file name may have only A-Z a-z 0-9 . _ + ~ @ - (~ and @ not first or last)"
    return None


def scan(sources: list[str]) -> list[LocalFile]:
    """Files to publish; every invalid name reported at once (exit 2)."""
    found: dict[str, LocalFile] = {}
    problems: list[str] = []
    for source in sources:
        root = Path(source)
        if root.is_file():
            entries = [(root.name, root)]
        elif root.is_dir():
            entries = list(_walk(root))
        else:
            raise ConfigError(f"no such file or directory: {source}")
        for rel, path in entries:
            problem = name_problem(rel)
            if problem:
                problems.append(f"  {rel}: {problem}")
            elif rel in found and found[rel].source != path:
                problems.append(f"  {rel}: given twice ({found[rel].source} and {path})")
            else:
                found[rel] = LocalFile(rel, path, path.stat().st_size)
    if problems:
        raise ConfigError("invalid file names, nothing was sent:\n" + "\n".join(problems))
    return sorted(found.values(), key=lambda f: f.path)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    top = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.is_symlink():
                target = path.resolve()
                if not target.is_file() or not target.is_relative_to(top):
                    continue  # dangling, or leaves the tree
            elif not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Publisher:
    def __init__(
        self,
        remote: Remote,
        reporter: Reporter,
        *,
        name: str,
        version: str,
        status: str | None,
        jobs: int,
    ) -> None:
        self.remote = remote
        self.reporter = reporter
        self.name = name
        self.version = version
        self.status = status
        self.jobs = jobs

    def run(self, files: list[LocalFile], *, force: bool, dry_run: bool) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            for f, digest in zip(
                files, pool.map(lambda f: sha256_of(f.source), files), strict=True
            ):
                f.sha256 = digest
        package, remote_files = self.remote.index(self.name, self.version)
        todo: list[LocalFile] = []
        for f in files:
            known = remote_files.get(f.path)
            if known is not None and known.sha256 == f.sha256 and not force:
                self.reporter.finish(f.path, "skipped", f.size)
            else:
                todo.append(f)
        if dry_run:
            for f in todo:
                self.reporter.line(f"would upload {f.path} ({f.size} bytes)")
            return
        self.reporter.set_total(sum(f.size for f in todo))
        if todo and package is None and not self.remote.cargobay:
            # GitLab: parallel first uploads into a new package race (gitlab#350175).
            self._upload(todo.pop(0), first=True)
        with ThreadPoolExecutor(self.jobs) as pool:
            list(pool.map(self._upload, todo))

    def _remote_sha(self, path: str) -> str | None:
        _, remote_files = self.remote.index(self.name, self.version)
        known = remote_files.get(path)
        return known.sha256 if known else None

    def _upload(self, f: LocalFile, first: bool = False) -> None:
        try:
            self._send(f, first)
        except ClientError as exc:
            self.reporter.fail(f.path, None, str(exc))
        except (OSError, httpx.HTTPError) as exc:
            self.reporter.fail(f.path, None, f"{type(exc).__name__}: {exc}")

    def _send(self, f: LocalFile, first: bool) -> None:
        url = self.remote.generic(self.name, self.version, f.path)
        params: dict[str, str] = {"select": "package_file"}
        if self.status:
            params["status"] = self.status
        headers = {"X-Checksum-Sha256": f.sha256}
        self.reporter.start(f.path, f.size)
        if self.remote.cargobay and f.size >= CHECKSUM_DEPLOY_MIN:
            response = self.remote.request(
                "PUT",
                url,
                params=params,
                headers={**headers, "X-Checksum-Deploy": "true", "Content-Length": "0"},
            )
            if response.status_code in (200, 201):
                self.reporter.advance(f.path, f.size)
                self.reporter.finish(f.path, "deployed", f.size)
                return
            if response.status_code != 404:
                self.reporter.fail(f.path, response.status_code, describe(response))
                return
        sent = [0]

        def body() -> Iterator[bytes]:
            if sent[0]:
                self.reporter.rewind(f.path, sent[0])
                sent[0] = 0
            with f.source.open("rb") as stream:
                while chunk := stream.read(CHUNK):
                    sent[0] += len(chunk)
                    self.reporter.advance(f.path, len(chunk))
                    yield chunk

        response = self.remote.request(
            "PUT",
            url,
            params=params,
            headers={**headers, "Content-Length": str(f.size)},
            body=body,
            landed=lambda: self._remote_sha(f.path) == f.sha256,
            extra_retry=frozenset({500}) if first and not self.remote.cargobay else frozenset(),
        )
        if response.status_code >= 400:
            self.reporter.fail(f.path, response.status_code, describe(response))
            return
        stored = _stored_sha(response)
        if stored is not None and stored != f.sha256:
            self.reporter.fail(
                f.path, response.status_code, f"the server stored sha256 {stored}, not {f.sha256}"
            )
            return
        self.reporter.finish(f.path, "uploaded", f.size)


def _stored_sha(response: httpx.Response) -> str | None:
    if not response.content:
        return None  # an answer we re-checked after it was lost
    try:
        body: Any = response.json()
    except ValueError:
        return None
    value = body.get("file_sha256") if isinstance(body, dict) else None
    return str(value) if value else None
