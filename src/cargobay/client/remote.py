"""One HTTP client for a GitLab-compatible server: retries, one-line errors, detection of
Cargobay by ``X-Cargobay-Version`` on the first answer, and the calls every command uses."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx

from cargobay.client.config import ClientError, Config

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
# Statuses a proxy may give after the request reached the server: the PUT may have landed.
LOST_ANSWER_STATUSES = frozenset({502, 504})


def segments(path: str) -> str:
    """A relative path as URL path segments, each percent-encoded (``c++.txt``)."""
    return "/".join(quote(part, safe="") for part in path.split("/"))


def describe(response: httpx.Response, what: str = "") -> str:
    """A one-line message for an error answer."""
    status = response.status_code
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or "")
    except ValueError:
        detail = ""
    if status == 401:
        return "401 Unauthorized: check the token"
    if status == 403:
        return f"403 Forbidden: the token may not do this{f' ({detail})' if detail else ''}"
    if status == 404:
        return f"404 Not Found: {what or 'no such project, package or file'}"
    return f"{status} {detail or response.reason_phrase}".strip()


@dataclass
class RemoteFile:
    id: int
    name: str  # the decoded stored name: a relative path with /
    size: int
    sha256: str


class Remote:
    """Thread-safe: the commands call it from their worker threads."""

    def __init__(self, config: Config, *, jobs: int = 4, retries: int = 3) -> None:
        self.config = config
        self.retries = retries
        headers = {"User-Agent": "cargobay-client"}
        if config.token:
            headers[config.header] = config.token
        self.http = httpx.Client(
            base_url=config.api,
            headers=headers,
            timeout=httpx.Timeout(120, connect=15),
            limits=httpx.Limits(max_connections=jobs + 2, max_keepalive_connections=jobs + 2),
        )
        self._lock = threading.Lock()
        self.cargobay: bool | None = False if config.gitlab_only else None
        self.project = f"/projects/{config.project_ref}"

    def close(self) -> None:
        self.http.close()

    def generic(self, name: str, version: str, path: str = "") -> str:
        url = f"{self.project}/packages/generic/{quote(name, safe='')}/{quote(version, safe='')}"
        return f"{url}/{segments(path)}" if path else url

    # -- transport -----------------------------------------------------------------------

    def _backoff(self, attempt: int, response: httpx.Response | None) -> None:
        delay = random.uniform(0, min(10.0, 0.25 * 2**attempt))  # full jitter
        if response is not None and response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = min(30.0, float(retry_after))
        time.sleep(delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        landed: Callable[[], bool] | None = None,
        extra_retry: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries. ``landed`` is asked before retrying a request whose answer
        was lost (a read error, 502, 504): True means the first attempt took effect, and
        the answer returned is then None-free: a synthetic 200 with no body."""
        body: Callable[[], Any] | None = kwargs.pop("body", None)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            if body is not None:
                kwargs["content"] = body()
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.ConnectError as exc:
                if last:
                    raise ClientError(f"cannot connect to {self.config.url}: {exc}") from None
                self._backoff(attempt, None)
                continue
            except httpx.TransportError as exc:
                if last:
                    raise ClientError(
                        f"{method} {url} failed: {type(exc).__name__}: {exc}"
                    ) from None
                self._backoff(attempt, None)
                if landed is not None and landed():
                    return httpx.Response(200, request=exc.request)
                continue
            self._detect(response)
            status = response.status_code
            if (status in RETRY_STATUSES or status in extra_retry) and not last:
                self._backoff(attempt, response)
                if landed is not None and status in LOST_ANSWER_STATUSES and landed():
                    return httpx.Response(200, request=response.request)
                continue
            return response
        raise AssertionError("unreachable")

    def _detect(self, response: httpx.Response) -> None:
        if self.cargobay is None:
            with self._lock:
                if self.cargobay is None:
                    self.cargobay = "x-cargobay-version" in response.headers

    def json(self, method: str, url: str, what: str = "", **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise ClientError(describe(response, what))
        return response.json()

    def pages(self, url: str, what: str = "", **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list (GitLab's page/per_page, X-Next-Page)."""
        page = 1
        while True:
            response = self.request("GET", url, params={**params, "per_page": 100, "page": page})
            if response.status_code >= 400:
                raise ClientError(describe(response, what))
            items = response.json()
            yield from items
            following = response.headers.get("X-Next-Page", "")
            if not following or not items:
                return
            page = int(following)

    # -- the calls the commands share ----------------------------------------------------

    def probe_version(self, name: str, version: str) -> dict[str, Any] | None:
        """On a server not known to be GitLab, GET the version resource (Cargobay's own:
        GitLab answers it 404 without X-Cargobay-Version). The version's entity with its
        ``files``, or None when there is no such version (or the server is GitLab)."""
        if self.cargobay is False:
            return None
        response = self.request("GET", self.generic(name, version))
        if not self.cargobay:
            if response.status_code in (401, 403):
                raise ClientError(describe(response))
            return None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ClientError(describe(response, "no such project"))
        entity: dict[str, Any] = response.json()
        return entity

    def find_packages(self, name: str, version: str | None = None) -> list[dict[str, Any]]:
        """Generic packages named exactly ``name`` (package_name is a fuzzy filter)."""
        params: dict[str, Any] = {"package_type": "generic", "package_name": name}
        if version:
            params["package_version"] = version
        found = [
            p
            for p in self.pages(f"{self.project}/packages", "no such project", **params)
            if p.get("name") == name and (version is None or p.get("version") == version)
        ]
        return sorted(found, key=lambda p: int(p["id"]))

    def package_files(self, package_id: int) -> list[dict[str, Any]]:
        return list(self.pages(f"{self.project}/packages/{package_id}/package_files"))

    def index(self, name: str, version: str) -> tuple[dict[str, Any] | None, dict[str, RemoteFile]]:
        """The package and, per decoded name, its newest file."""
        entity = self.probe_version(name, version)
        if entity is not None:
            return entity, newest(entity.get("files", []))
        if self.cargobay:
            return None, {}
        packages = self.find_packages(name, version)
        if not packages:
            return None, {}
        package = packages[-1]
        return package, newest(self.package_files(int(package["id"])))


def newest(files: list[dict[str, Any]]) -> dict[str, RemoteFile]:
    """The newest (highest id) file of each decoded name."""
    out: dict[str, RemoteFile] = {}
    for f in sorted(files, key=lambda f: int(f["id"])):
        name = unquote(str(f["file_name"]))
        out[name] = RemoteFile(int(f["id"]), name, int(f.get("size") or 0), str(f["file_sha256"]))
    return out
