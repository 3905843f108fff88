"""The curl commands of docs/management-api.md, run against a real server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.server import Server


def curl(server: Server, *args: str, token: str | None = None) -> Any:
    headers = ["--header", f"PRIVATE-TOKEN: {token or server.token}"]
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail-with-body", *headers, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout) if done.stdout else None


def test_curl_sets_up_a_project_and_a_deploy_token(server: Server, tmp_path: Path) -> None:
    api = server.api
    group = curl(server, "--data", "name=Acme", "--data", "path=acme", f"{api}/groups")
    project = curl(
        server, "--form", "name=cli", "--form", f"namespace_id={group['id']}", f"{api}/projects"
    )
    assert project["path_with_namespace"] == "acme/cli"
    user = curl(
        server,
        "--data",
        "username=alice&name=Alice&email=alice@example.com",
        f"{api}/users",
    )
    pat = curl(
        server,
        "--data",
        "name=laptop&scopes[]=api",
        f"{api}/users/{user['id']}/personal_access_tokens",
    )
    assert curl(server, f"{api}/user", token=pat["token"])["username"] == "alice"
    deploy = curl(
        server,
        "--data",
        "name=ci&scopes[]=write_package_registry&scopes[]=read_package_registry",
        f"{api}/projects/acme%2Fcli/deploy_tokens",
    )
    artifact = tmp_path / "cli.tar.gz"
    artifact.write_bytes(b"\x1f\x8b packed")
    url = f"{api}/projects/acme%2Fcli/packages/generic/cli/1.0.0/cli.tar.gz"
    subprocess.run(
        [
            "curl",
            "--silent",
            "--fail",
            "--user",
            f"{deploy['username']}:{deploy['token']}",
            "--upload-file",
            str(artifact),
            url,
        ],
        check=True,
        timeout=30,
    )
    fetched = subprocess.run(
        ["curl", "--silent", "--fail", "--header", f"DEPLOY-TOKEN: {deploy['token']}", url],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert fetched.stdout == b"\x1f\x8b packed"
