"""``cargobay fetch``: resolve the version, list, skip what matches, download verified and
resumable (shared/spec/beyond-gitlab.md §1.4)."""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from cargobay.client.config import ClientError
from cargobay.client.publish import CHUNK, sha256_of
from cargobay.client.remote import Remote, RemoteFile, describe, newest
from cargobay.client.report import Reporter
from cargobay.domain import versions

DRIVE = re.compile(r"\A[A-Za-z]:")


def unsafe(name: str) -> bool:
    """A stored name that would land outside the output directory."""
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or bool(DRIVE.match(name))
        or any(part in ("", ".", "..") for part in name.split("/"))
    )


def resolve_version(remote: Remote, name: str, version: str) -> tuple[str, dict[str, RemoteFile]]:
    """The concrete version and its files (newest per name). ``~latest``/``~newest`` are
    resolved by Cargobay, or here with the server's own ordering (domain/versions.py)."""
    if version not in versions.KEYWORDS:
        package, files = remote.index(name, version)
        if package is None:
            raise ClientError(f"404 Not Found: no version {version} of package {name}")
        return version, files
    entity = remote.probe_version(name, version)  # never sent in GitLab mode
    if entity is not None:
        return str(entity["version"]), newest(entity.get("files", []))
    if not remote.cargobay:
        candidates = [
            (int(p["id"]), str(p["version"]))
            for p in remote.find_packages(name)
            if p.get("status", "default") == "default"
        ]
        chosen = versions.resolve(version, candidates)
        if chosen is not None:
            concrete = next(v for i, v in candidates if i == chosen)
            return concrete, newest(remote.package_files(chosen))
    raise ClientError(f"404 Not Found: no version of {name} that {version} names")


class Fetcher:
    def __init__(
        self, remote: Remote, reporter: Reporter, *, name: str, version: str, jobs: int
    ) -> None:
        self.remote = remote
        self.reporter = reporter
        self.name = name
        self.version = version
        self.jobs = jobs

    def run(self, files: dict[str, RemoteFile], out: Path, *, force: bool) -> None:
        bad = sorted(n for n in files if unsafe(n))
        for n in bad:
            self.reporter.fail(n, None, "refused: the name would leave the output directory")
        todo = [f for n, f in sorted(files.items()) if n not in bad]
        out.mkdir(parents=True, exist_ok=True)

        def local_matches(f: RemoteFile) -> bool:
            target = out / f.name
            return not force and target.is_file() and sha256_of(target) == f.sha256

        with ThreadPoolExecutor(self.jobs) as pool:
            same = list(pool.map(local_matches, todo))
        needed = []
        for f, skip in zip(todo, same, strict=True):
            if skip:
                self.reporter.finish(f.name, "skipped", f.size)
            else:
                needed.append(f)
        self.reporter.set_total(sum(f.size for f in needed))
        with ThreadPoolExecutor(self.jobs) as pool:
            list(pool.map(lambda f: self._get(f, out), needed))

    def _get(self, f: RemoteFile, out: Path) -> None:
        try:
            self._download(f, out)
        except ClientError as exc:
            self.reporter.fail(f.name, None, str(exc))
        except (OSError, httpx.HTTPError) as exc:
            self.reporter.fail(f.name, None, f"{type(exc).__name__}: {exc}")

    def _download(self, f: RemoteFile, out: Path) -> None:
        target = out / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.parent / f".{target.name}.cargobay-part"
        url = self.remote.generic(self.name, self.version, f.name)
        self.reporter.start(f.name, f.size)
        digest = self._fetch(f, url, part)
        if digest != f.sha256:
            # A ``.part`` left by an earlier run may hold other bytes (the file was
            # re-published since): the resumed copy is wrong, so start again from zero.
            self.reporter.rewind(f.name, part.stat().st_size)
            part.unlink()
            digest = self._fetch(f, url, part)
        if digest != f.sha256:
            part.unlink(missing_ok=True)
            raise ClientError(f"sha256 mismatch: got {digest}, the listing says {f.sha256}")
        os.replace(part, target)
        self.reporter.finish(f.name, "downloaded", f.size)

    def _fetch(self, f: RemoteFile, url: str, part: Path) -> str:
        """The sha256 of ``part`` once it holds the whole file, resuming what it holds
        with Range (and after a cut connection, up to the client's retries)."""
        for attempt in range(self.remote.retries + 1):
            have = part.stat().st_size if part.exists() else 0
            headers = {}
            if 0 < have < f.size:
                headers = {"Range": f"bytes={have}-", "If-Range": f'"{f.sha256}"'}
            try:
                return self._stream(f, url, part, headers, have)
            except httpx.TransportError as exc:
                if attempt == self.remote.retries:
                    raise ClientError(f"download failed: {type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    def _stream(
        self, f: RemoteFile, url: str, part: Path, headers: dict[str, str], have: int
    ) -> str:
        digest = hashlib.sha256()
        with self.remote.http.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise ClientError(describe(response, f"{f.name} is gone"))
            resumed = response.status_code == 206 and bool(headers)
            if resumed:
                with part.open("rb") as kept:
                    while chunk := kept.read(CHUNK):
                        digest.update(chunk)
                self.reporter.advance(f.name, have)
            with part.open("ab" if resumed else "wb") as sink:
                for chunk in response.iter_bytes(CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    self.reporter.advance(f.name, len(chunk))
        return digest.hexdigest()
