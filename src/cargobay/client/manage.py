"""``cargobay ls`` and ``cargobay rm`` (shared/spec/beyond-gitlab.md §1.5)."""

from __future__ import annotations

from typing import Any

from cargobay.client.config import ClientError, ConfigError
from cargobay.client.remote import Remote, describe


def list_packages(remote: Remote, name: str | None) -> list[dict[str, Any]]:
    if name:
        packages = remote.find_packages(name)
    else:
        packages = list(
            remote.pages(f"{remote.project}/packages", "no such project", package_type="generic")
        )
    return [
        {
            "id": p["id"],
            "name": p["name"],
            "version": p["version"],
            "status": p.get("status"),
            "created_at": p.get("created_at"),
        }
        for p in sorted(packages, key=lambda p: int(p["id"]))
    ]


def list_files(remote: Remote, name: str, version: str) -> list[dict[str, Any]]:
    package, files = remote.index(name, version)
    if package is None:
        raise ClientError(f"404 Not Found: no version {version} of package {name}")
    return [
        {"path": f.name, "size": f.size, "sha256": f.sha256, "id": f.id}
        for f in sorted(files.values(), key=lambda f: f.name)
    ]


def remove(remote: Remote, name: str, version: str, paths: list[str]) -> list[str]:
    """Delete the version, or those of its files (every file of each name). Returns what
    was deleted."""
    package = remote.probe_version(name, version)
    if remote.cargobay:
        if package is None:
            raise ClientError(f"404 Not Found: no version {version} of package {name}")
        for path in paths or [""]:
            response = remote.request("DELETE", remote.generic(name, version, path))
            if response.status_code >= 400:
                raise ClientError(describe(response, f"no file {path}" if path else ""))
        return paths or [f"{name}/{version}"]
    packages = remote.find_packages(name, version)
    if not packages:
        raise ClientError(f"404 Not Found: no version {version} of package {name}")
    package_id = int(packages[-1]["id"])
    base = f"{remote.project}/packages/{package_id}"
    if not paths:
        response = remote.request("DELETE", base)
        if response.status_code >= 400:
            raise ClientError(describe(response))
        return [f"{name}/{version}"]
    from urllib.parse import unquote

    by_name: dict[str, list[int]] = {}
    for f in remote.package_files(package_id):
        by_name.setdefault(unquote(str(f["file_name"])), []).append(int(f["id"]))
    missing = [p for p in paths if p not in by_name]
    if missing:
        raise ClientError(f"404 Not Found: no file {', '.join(missing)} in {name} {version}")
    for path in paths:
        for file_id in by_name[path]:
            response = remote.request("DELETE", f"{base}/package_files/{file_id}")
            if response.status_code >= 400:
                raise ClientError(describe(response))
    return paths


def check_login(remote: Remote) -> str:
    """Whether the server takes the token, before ``login`` saves it: ``GET /user`` for
    a personal token (a 403 there, GitLab's answer to a token without ``read_user``,
    still proves the token valid), the project's package list for a deploy or job token
    (the only API that answers them), and for any token the project when one is given.
    Returns how to name who logged in."""
    config = remote.config
    who = ""
    if config.header == "PRIVATE-TOKEN":
        response = remote.request("GET", "/user")
        if response.status_code == 200:
            who = f"as {response.json().get('username', '?')}"
        elif response.status_code != 403:
            raise ClientError(describe(response, "no API at this URL"))
    elif not config.project:
        raise ConfigError("a deploy or job token can only be checked on a project: pass --project")
    if config.project:
        response = remote.request(
            "GET", f"{remote.project}/packages", params={"per_page": 1, "package_type": "generic"}
        )
        if response.status_code >= 400:
            raise ClientError(describe(response, f"no project {config.project}"))
        who = f"{who} on project {config.project}".strip()
    return who or "(the token was accepted)"
