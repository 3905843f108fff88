# ruff: noqa: E501  (the commands below are GitLab's documentation text, kept as written)
"""Every curl and wget command of GitLab's generic-packages documentation, run as written.

The commands come from the GitLab docs Cargobay is built against, in several versions:
13.5 (the first release, whose examples leave ``/packages/`` out of the path), 13.x/14.x,
the newest English page, its newer Japanese translation, and the Packages REST API page.
Each is stored here as the docs print it; only the placeholders are filled in
(``gitlab.example.com``, project and package ids, ``<...token...>``, and the CI variables
``CI_API_V4_URL``, ``CI_PROJECT_ID``, ``CI_JOB_TOKEN``, ``CI_COMMIT_TAG``), then run
through ``bash -c`` with the real curl, wget and jq against a real ``cargobay serve``.
``.gitlab-ci.yml`` examples run their ``script:`` lines the way GitLab Runner's bash does
(``set -eo pipefail``, CI variables in the environment).

Commands that the Japanese page repeats with only different spacing are run once, in
their English form; the English page's "download with a CI job token" examples repeat its
publish examples word for word and are run once too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, make_server

# --------------------------------------------------------------------------- the docs

# GitLab 13.5 (generic packages introduced; examples without /packages/ in the path).
DOC_13_5_UPLOAD = r"""curl --header "PRIVATE-TOKEN: <your_access_token>" \
     --upload-file path/to/file.txt \
     https://gitlab.example.com/api/v4/projects/24/generic/my_package/0.0.1/file.txt"""

DOC_13_5_DOWNLOAD = r"""curl --header "PRIVATE-TOKEN: <your_access_token>" \
     https://gitlab.example.com/api/v4/projects/24/generic/my_package/0.0.1/file.txt"""

DOC_13_5_CI = r"""image: curlimages/curl:latest

stages:
  - upload
  - download

upload:
  stage: upload
  script:
    - 'curl --header "JOB-TOKEN: $CI_JOB_TOKEN" --upload-file path/to/file.txt ${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.1/file.txt'

download:
  stage: download
  script:
    - 'wget --header="JOB-TOKEN: $CI_JOB_TOKEN" ${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.1/file.txt'
"""

# GitLab 13.x/14.x (deploy tokens and HTTP Basic authentication added).
DOC_14_UPLOAD = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" \
     --upload-file path/to/file.txt \
     "https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/0.0.1/file.txt"'''

DOC_14_DOWNLOAD = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" \
     "https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/0.0.1/file.txt"'''

DOC_14_DOWNLOAD_BASIC = r"""curl --user "user:<your_access_token>" \
     https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/0.0.1/file.txt"""

DOC_14_CI = r"""image: curlimages/curl:latest

stages:
  - upload
  - download

upload:
  stage: upload
  script:
    - 'curl --header "JOB-TOKEN: $CI_JOB_TOKEN" --upload-file path/to/file.txt "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.1/file.txt"'

download:
  stage: download
  script:
    - 'wget --header="JOB-TOKEN: $CI_JOB_TOKEN" ${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.1/file.txt'
"""

# Newest English page: "Authenticate to the package registry".
DOC_BASIC_TEMPLATE = r"""curl --user "<username>:<token>" <other options> <GitLab API endpoint>"""

# Newest English page: "Publish a single file", one example per credential kind.
PUBLISH_PAT_HEADER = r'''curl --location --header "PRIVATE-TOKEN: <personal_access_token>" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

PUBLISH_PAT_BASIC = r'''curl --location --user "<username>:<personal_access_token>" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

PUBLISH_PROJECT_TOKEN_HEADER = r'''curl --location --header "PRIVATE-TOKEN: <project_access_token>" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

# (sic: the docs drop the angle brackets around the token; fill() treats it as the placeholder)
PUBLISH_PROJECT_TOKEN_BASIC = r'''curl --location --user "<project_access_token_username>:project_access_token" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

PUBLISH_DEPLOY_TOKEN_HEADER = r'''curl --location --header "DEPLOY-TOKEN: <deploy_token>" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

PUBLISH_DEPLOY_TOKEN_BASIC = r'''curl --location --user "<deploy_token_username>:<deploy_token>" \
--upload-file path/to/file.txt \
"https://gitlab.example.com/api/v4/projects/24/packages/generic/my_package/1.0.0/file.txt"'''

CI_PUBLISH_HEADER = r"""publish:
  stage: deploy
  script:
    - |
      curl --location --header "JOB-TOKEN: ${CI_JOB_TOKEN}" \
           --upload-file path/to/file.txt \
           "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/file.txt"
"""

CI_PUBLISH_BASIC = r"""publish:
  stage: deploy
  script:
    - |
      curl --location --user "gitlab-ci-token:${CI_JOB_TOKEN}" \
           --upload-file path/to/file.txt \
           "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/file.txt"
"""

# Newest English page: "Publish multiple files".
PUBLISH_DIRECTORY_SCRIPT = r"""#!/bin/bash

TOKEN="<access_token>"
PROJECT_ID="24"
PACKAGE_NAME="my_package"
PACKAGE_VERSION="1.0.0"
DIRECTORY_PATH="./files_to_upload"

for file in "$DIRECTORY_PATH"/*; do
    if [ -f "$file" ]; then
        filename=$(basename "$file")
        curl --location --header "PRIVATE-TOKEN: $TOKEN" \
             --upload-file "$file" \
             "https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/$filename"
        echo "Uploaded: $filename"
    fi
done
"""

CI_UPLOAD_PACKAGE = r"""upload_package:
  stage: publish
  script:
    - |
      for file in ./build/*; do
        if [ -f "$file" ]; then
          filename=$(basename "$file")
          curl --header "JOB-TOKEN: $CI_JOB_TOKEN" \
               --upload-file "$file" \
               "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/$filename"
          echo "Uploaded: $filename"
        fi
      done
"""

# Newest English page: "Maintain directory structure".
PUBLISH_TREE_SCRIPT = r"""#!/bin/bash

TOKEN="<access_token>"
PROJECT_ID="24"
PACKAGE_NAME="my_package"
PACKAGE_VERSION="1.0.0"
DIRECTORY_PATH="./files_to_upload"

find "$DIRECTORY_PATH" -type f | while read -r file; do
    relative_path=${file#"$DIRECTORY_PATH/"}
    curl --location --header "PRIVATE-TOKEN: $TOKEN" \
         --upload-file "$file" \
         "https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/$relative_path"
    echo "Uploaded: $relative_path"
done
"""

# Newest English page: "Download a single file", one example per credential kind.
DOWNLOAD_PAT_HEADER = r"""curl --header "PRIVATE-TOKEN: <access_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

DOWNLOAD_PAT_BASIC = r"""curl --user "<username>:<access_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

DOWNLOAD_PROJECT_TOKEN_HEADER = r"""curl --header "PROJECT-TOKEN: <project_access_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

DOWNLOAD_PROJECT_TOKEN_BASIC = r"""curl --user "<project_access_token_username>:<project_access_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

DOWNLOAD_DEPLOY_TOKEN_HEADER = r"""curl --header "DEPLOY-TOKEN: <deploy_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

DOWNLOAD_DEPLOY_TOKEN_BASIC = r"""curl --user "<deploy_token_username>:<deploy_token>" \
--location \
"https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
--output file.txt"""

# Japanese page: the project access token goes in PRIVATE-TOKEN here.
DOWNLOAD_PROJECT_TOKEN_PRIVATE_HEADER_JA = r"""curl --header "PRIVATE-TOKEN: <project_access_token>" \
     --location \
     "https://gitlab.example.com/api/v4/projects/1/packages/generic/my_package/0.0.1/file.txt" \
     --output file.txt"""

# Japanese page: real CI download examples (the English page repeats the publish ones).
CI_DOWNLOAD_HEADER_JA = r"""download:
  stage: test
  script:
    - |
      curl --header "JOB-TOKEN: ${CI_JOB_TOKEN}" \
           --location \
           --output file.txt \
           "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/file.txt"
"""

CI_DOWNLOAD_BASIC_JA = r"""download:
  stage: test
  script:
    - |
      curl --user "gitlab-ci-token:${CI_JOB_TOKEN}" \
           --location \
           --output file.txt \
           "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/file.txt"
"""

# Newest English page: "Download multiple files".
DOWNLOAD_FILES_SCRIPT = r"""#!/bin/bash

TOKEN="<access_token>"
PROJECT_ID="24"
PACKAGE_NAME="my_package"
PACKAGE_VERSION="1.0.0"
OUTPUT_DIR="./downloaded_files"

# Create output directory if it doesn't exist
mkdir -p "$OUTPUT_DIR"

# Array of files to download
files=("file1.txt" "file2.txt" "subdirectory/file3.txt")

for file in "${files[@]}"; do
    curl --location --header "PRIVATE-TOKEN: $TOKEN" \
         --output "$OUTPUT_DIR/$file" \
         --create-dirs \
         "https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/$file"
    echo "Downloaded: $file"
done
"""

CI_DOWNLOAD_PACKAGE = r"""download_package:
  stage: build
  script:
    - |
      FILES=("file1.txt" "file2.txt" "subdirectory/file3.txt")
      for file in "${FILES[@]}"; do
        curl --location --header "JOB-TOKEN: $CI_JOB_TOKEN" \
             --output "$file" \
             --create-dirs \
             "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/${CI_COMMIT_TAG}/$file"
        echo "Downloaded: $file"
      done
"""

# Newest English page: "Download an entire package" (lists .../:version/files).
DOWNLOAD_PACKAGE_SCRIPT = r"""TOKEN="<access_token>"
PROJECT_ID="24"
PACKAGE_NAME="my_package"
PACKAGE_VERSION="1.0.0"
OUTPUT_DIR="./downloaded_package"

# Create output directory
mkdir -p "$OUTPUT_DIR"

# Get list of files in the package
files=$(curl --location --header "PRIVATE-TOKEN: $TOKEN" \
"https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/files" \
| jq -r '.[].file_name')

# Download each file
for file in $files; do
curl --location --header "PRIVATE-TOKEN: $TOKEN" \
--output "$OUTPUT_DIR/$file" \
--create-dirs \
"https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/$file"
echo "Downloaded: $file"
done
"""

# Japanese page: the same script, listing through the Packages API's package_files.
DOWNLOAD_PACKAGE_BY_ID_SCRIPT_JA = r"""TOKEN="<access_token>"
PROJECT_ID="24"
PACKAGE_ID="1234"
PACKAGE_NAME="my_package"
PACKAGE_VERSION="1.0.0"
OUTPUT_DIR="./downloaded_package"

# Create output directory
mkdir -p "$OUTPUT_DIR"

# Get list of files in the package
files=$(curl --location --header  "PRIVATE-TOKEN: $TOKEN" \
     "https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/$PACKAGE_ID/package_files" \
     | jq -r '.[].file_name')

# Download each file
for file in $files; do
    curl --location --header  "PRIVATE-TOKEN: $TOKEN" \
         --output "$OUTPUT_DIR/$file" \
         --create-dirs \
         "https://gitlab.example.com/api/v4/projects/$PROJECT_ID/packages/generic/$PACKAGE_NAME/$PACKAGE_VERSION/$file"
    echo "Downloaded: $file"
done
"""

# Packages API page.
API_LIST_PROJECT = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages"'''
API_LIST_GROUP = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/groups/:id/packages?exclude_subgroups=false"'''
API_GET_PACKAGE = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages/:package_id"'''
API_LIST_FILES = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages/4/package_files"'''
API_LIST_PIPELINES = r'''curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages/:package_id/pipelines"'''
API_DELETE_PACKAGE = r'''curl --request DELETE --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages/:package_id"'''
API_DELETE_FILE = r'''curl --request DELETE --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/:id/packages/:package_id/package_files/:package_file_id"'''

CREATED = b'{"message":"201 Created"}'
UNAUTHORIZED = b'{"message":"401 Unauthorized"}'

# --------------------------------------------------------------------------- the site


@dataclass
class Site:
    """One server for the whole module: group ``acme`` with its projects, the developer
    ``alice`` and one credential of every kind the docs use."""

    server: Server
    root_token: str
    group_id: str
    project_id: str  # acme/tools: every single-file and loop example
    whole_id: str  # acme/whole: "download an entire package" (.../files)
    api_id: str  # acme/api: the Packages API page, and the same script by package id
    username: str
    pat: str
    project_token: str
    project_token_user: str
    deploy_token: str
    deploy_token_user: str
    job_token: str

    def url(self, project: str, rest: str) -> str:
        return f"{self.server.api}/projects/{project}/packages/generic/{rest}"

    def put(self, project: str, rest: str, body: bytes, **params: str) -> httpx.Response:
        response = httpx.put(
            self.url(project, rest),
            content=body,
            params=params,
            headers={"PRIVATE-TOKEN": self.root_token},
        )
        assert response.status_code in (200, 201), response.text
        return response

    def get(self, project: str, rest: str) -> httpx.Response:
        return httpx.get(self.url(project, rest), headers={"PRIVATE-TOKEN": self.root_token})

    def fill(self, command: str, project: str | None = None, **values: str) -> str:
        """The docs' command with its placeholders replaced by this site's values."""
        pid = project or self.project_id
        text = command.replace("https://gitlab.example.com", self.server.base_url)
        text = re.sub(r"/projects/(?:24|1|:id)/", f"/projects/{pid}/", text)
        text = re.sub(r"/groups/:id(?=[/?])", f"/groups/{self.group_id}", text)
        text = text.replace('PROJECT_ID="24"', f'PROJECT_ID="{pid}"')
        # (sic) "<project_access_token_username>:project_access_token" in the docs
        text = text.replace(':project_access_token"', ':<project_access_token>"')
        placeholders = {
            "<your_access_token>": self.pat,
            "<personal_access_token>": self.pat,
            "<access_token>": self.pat,
            "<token>": self.pat,
            "<username>": self.username,
            "<project_access_token>": self.project_token,
            "<project_access_token_username>": self.project_token_user,
            "<deploy_token>": self.deploy_token,
            "<deploy_token_username>": self.deploy_token_user,
            **values,
        }
        for placeholder, value in placeholders.items():
            text = text.replace(placeholder, value)
        leftover = re.search(r"<[A-Za-z_ ]+>|gitlab\.example\.com|:package_id|:id\b", text)
        assert leftover is None, f"unfilled placeholder {leftover.group()!r} in {text}"
        return text

    def ci_env(self, tag: str, job_token: str | None = None) -> dict[str, str]:
        return {
            "CI_API_V4_URL": self.server.api,
            "CI_PROJECT_ID": self.project_id,
            "CI_JOB_TOKEN": job_token or self.job_token,
            "CI_COMMIT_TAG": tag,
        }


def admin(server: Server, *commands: tuple[str, ...]) -> list[str]:
    """Run independent ``cargobay admin`` commands at once (each pays seconds of start-up)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: server.cli("admin", *args), commands))


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, module_backend_env: dict[str, str]
) -> Iterator[Site]:
    server = make_server(tmp_path_factory.mktemp("seed-docs"), **module_backend_env)
    root_token = server.cli("admin", "bootstrap")
    server.start()
    try:
        group_id, _ = admin(server, ("create-group", "acme"), ("create-user", "alice"))
        tools, whole, api, _, pat = admin(
            server,
            ("create-project", "acme", "tools"),
            ("create-project", "acme", "whole"),
            ("create-project", "acme", "api"),
            ("add-member", "alice", "--group", "acme", "--role", "developer"),
            ("create-token", "alice"),
        )
        project_token, deploy_token, job = admin(
            server,
            # The docs: a project access token needs at least the Developer role.
            ("create-project-token", tools, "--role", "developer"),
            (
                "create-deploy-token",
                "--project",
                tools,
                "--username",
                "deployer",
                "--scope",
                "read_package_registry",
                "--scope",
                "write_package_registry",
            ),
            ("start-job", tools, "--user", "alice"),
        )
        yield Site(
            server=server,
            root_token=root_token,
            group_id=group_id,
            project_id=tools,
            whole_id=whole,
            api_id=api,
            username="alice",
            pat=pat,
            project_token=project_token,
            project_token_user=f"project_{tools}_bot_1",
            deploy_token=deploy_token,
            deploy_token_user="deployer",
            job_token=json.loads(job)["token"],
        )
    finally:
        server.stop()


# --------------------------------------------------------------------------- running


def sh(
    script: str, cwd: Path, env: dict[str, str] | None = None, *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` with ``bash -c`` in ``cwd``: a clean environment (no proxies, no
    ~/.curlrc, ~/.netrc or ~/.wgetrc) plus ``env``."""
    cwd.mkdir(parents=True, exist_ok=True)
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **(env or {})},
        capture_output=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, (script, result.stdout, result.stderr)
    return result


def ci_jobs(yaml_text: str) -> dict[str, list[str]]:
    """The ``script:`` items of each job of a ``.gitlab-ci.yml``: enough YAML for the
    docs' examples (single-quoted items and ``- |`` blocks)."""
    jobs: dict[str, list[str]] = {}
    lines = yaml_text.splitlines()

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    job = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line and not line[0].isspace() and line.endswith(":"):
            job = line[:-1]
        if line.strip() == "script:":
            items = jobs.setdefault(job, [])
            script_indent = indent(line)
            i += 1
            while i < len(lines) and (not lines[i].strip() or indent(lines[i]) > script_indent):
                item = lines[i].strip()
                if item == "- |":
                    item_indent = indent(lines[i])
                    block = []
                    i += 1
                    while i < len(lines) and (
                        not lines[i].strip() or indent(lines[i]) > item_indent
                    ):
                        block.append(lines[i])
                        i += 1
                    items.append(textwrap.dedent("\n".join(block)).strip() + "\n")
                    continue
                if item.startswith("- '") and item.endswith("'"):
                    items.append(item[3:-1].replace("''", "'"))
                elif item:
                    raise ValueError(f"unsupported script line: {item}")
                i += 1
            continue
        i += 1
    return jobs


def run_ci_job(
    site: Site, yaml_text: str, job: str, cwd: Path, env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run one job's script as GitLab Runner's bash shell does."""
    script = "set -eo pipefail\n" + "\n".join(site.fill(item) for item in ci_jobs(yaml_text)[job])
    return sh(script, cwd, env, check=check)


def payload(label: str) -> bytes:
    """Distinct, binary-unsafe-looking file contents."""
    return f"{label}\n".encode() + os.urandom(2048) + b"\x00\r\n\xff end\n"


def target_url(command: str) -> str:
    """The last API URL a filled-in command names."""
    urls: list[str] = re.findall(r"http://127\.0\.0\.1:\d+/api/v4/[^\s\"']+", command)
    return urls[-1]


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".home" not in p.parts
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- publishing


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(DOC_13_5_UPLOAD, id="13.5-private-token-without-packages-segment"),
        pytest.param(DOC_14_UPLOAD, id="14-private-token"),
        pytest.param(PUBLISH_PAT_HEADER, id="pat-header"),
        pytest.param(PUBLISH_PAT_BASIC, id="pat-basic"),
        pytest.param(PUBLISH_PROJECT_TOKEN_HEADER, id="project-token-header"),
        pytest.param(PUBLISH_PROJECT_TOKEN_BASIC, id="project-token-basic"),
        pytest.param(PUBLISH_DEPLOY_TOKEN_HEADER, id="deploy-token-header"),
        pytest.param(PUBLISH_DEPLOY_TOKEN_BASIC, id="deploy-token-basic"),
    ],
)
def test_publish_a_single_file(site: Site, tmp_path: Path, command: str) -> None:
    body = payload(command)
    (tmp_path / "path/to").mkdir(parents=True)
    (tmp_path / "path/to/file.txt").write_bytes(body)
    filled = site.fill(command)

    result = sh(filled, tmp_path)

    assert result.stdout == CREATED
    url = target_url(filled)
    if "/packages/generic/" not in url:  # the 13.5 path is an alias of the current one
        url = url.replace("/generic/", "/packages/generic/")
    got = httpx.get(url, headers={"PRIVATE-TOKEN": site.root_token})
    assert got.status_code == 200
    assert got.content == body


# --------------------------------------------------------------------------- downloading


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(DOC_13_5_DOWNLOAD, id="13.5-private-token-without-packages-segment"),
        pytest.param(DOC_14_DOWNLOAD, id="14-private-token"),
        pytest.param(DOC_14_DOWNLOAD_BASIC, id="14-basic-user"),
        pytest.param(DOWNLOAD_PAT_HEADER, id="pat-header"),
        pytest.param(DOWNLOAD_PAT_BASIC, id="pat-basic"),
        pytest.param(DOWNLOAD_PROJECT_TOKEN_HEADER, id="project-token-header"),
        pytest.param(DOWNLOAD_PROJECT_TOKEN_PRIVATE_HEADER_JA, id="project-token-private-header"),
        pytest.param(DOWNLOAD_PROJECT_TOKEN_BASIC, id="project-token-basic"),
        pytest.param(DOWNLOAD_DEPLOY_TOKEN_HEADER, id="deploy-token-header"),
        pytest.param(DOWNLOAD_DEPLOY_TOKEN_BASIC, id="deploy-token-basic"),
    ],
)
def test_download_a_single_file(site: Site, tmp_path: Path, command: str) -> None:
    body = payload(command)
    site.put(site.project_id, "my_package/0.0.1/file.txt", body)

    result = sh(site.fill(command), tmp_path)

    if "--output file.txt" in command:
        assert (tmp_path / "file.txt").read_bytes() == body
    else:
        assert result.stdout == body


def test_basic_authentication_template(site: Site, tmp_path: Path) -> None:
    """``curl --user "<username>:<token>" <other options> <GitLab API endpoint>``"""
    body = payload("basic template")
    site.put(site.project_id, "my_package/0.0.1/file.txt", body)
    command = site.fill(
        DOC_BASIC_TEMPLATE,
        **{
            "<other options>": "--output file.txt",
            "<GitLab API endpoint>": site.url(site.project_id, "my_package/0.0.1/file.txt"),
        },
    )

    sh(command, tmp_path)

    assert (tmp_path / "file.txt").read_bytes() == body


# --------------------------------------------------------------------------- CI/CD


@pytest.mark.parametrize(
    "pipeline", [pytest.param(DOC_13_5_CI, id="13.5"), pytest.param(DOC_14_CI, id="14")]
)
def test_ci_upload_then_wget_download(site: Site, tmp_path: Path, pipeline: str) -> None:
    body = payload(pipeline)
    upload_dir, download_dir = tmp_path / "upload", tmp_path / "download"
    (upload_dir / "path/to").mkdir(parents=True)
    (upload_dir / "path/to/file.txt").write_bytes(body)
    env = site.ci_env(tag="unused")

    uploaded = run_ci_job(site, pipeline, "upload", upload_dir, env)
    run_ci_job(site, pipeline, "download", download_dir, env)

    assert uploaded.stdout == CREATED
    assert (download_dir / "file.txt").read_bytes() == body


@pytest.mark.parametrize(
    "pipeline",
    [
        pytest.param(CI_PUBLISH_HEADER, id="job-token-header"),
        pytest.param(CI_PUBLISH_BASIC, id="gitlab-ci-token-basic"),
    ],
)
def test_ci_publish(site: Site, tmp_path: Path, pipeline: str) -> None:
    tag = "v1.0.0-header" if "JOB-TOKEN" in pipeline else "v1.0.0-basic"
    body = payload(pipeline)
    (tmp_path / "path/to").mkdir(parents=True)
    (tmp_path / "path/to/file.txt").write_bytes(body)

    result = run_ci_job(site, pipeline, "publish", tmp_path, site.ci_env(tag))

    assert result.stdout == CREATED
    assert site.get(site.project_id, f"my_package/{tag}/file.txt").content == body


@pytest.mark.parametrize(
    "pipeline",
    [
        pytest.param(CI_DOWNLOAD_HEADER_JA, id="job-token-header"),
        pytest.param(CI_DOWNLOAD_BASIC_JA, id="gitlab-ci-token-basic"),
    ],
)
def test_ci_download(site: Site, tmp_path: Path, pipeline: str) -> None:
    tag = "2.0.0-header" if "JOB-TOKEN" in pipeline else "2.0.0-basic"
    body = payload(pipeline)
    site.put(site.project_id, f"my_package/{tag}/file.txt", body)

    run_ci_job(site, pipeline, "download", tmp_path, site.ci_env(tag))

    assert (tmp_path / "file.txt").read_bytes() == body


def test_ci_upload_package_loop(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("app-linux-amd64", "app.sha256", "README.md")}
    (tmp_path / "build/not-a-file").mkdir(parents=True)
    for name, body in files.items():
        (tmp_path / "build" / name).write_bytes(body)

    result = run_ci_job(site, CI_UPLOAD_PACKAGE, "upload_package", tmp_path, site.ci_env("v3.1.4"))

    assert result.stdout.count(CREATED) == len(files)
    for name, body in files.items():
        assert f"Uploaded: {name}".encode() in result.stdout
        assert site.get(site.project_id, f"my_package/v3.1.4/{name}").content == body
    assert b"not-a-file" not in result.stdout


def test_ci_download_package_loop(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("file1.txt", "file2.txt", "subdirectory/file3.txt")}
    for name, body in files.items():
        site.put(site.project_id, f"my_package/v4.0.0/{name}", body)

    run_ci_job(site, CI_DOWNLOAD_PACKAGE, "download_package", tmp_path, site.ci_env("v4.0.0"))

    assert tree(tmp_path) == files


def test_job_token_is_refused_once_the_job_finishes(site: Site, tmp_path: Path) -> None:
    job = json.loads(site.server.cli("admin", "start-job", site.project_id, "--user", "alice"))
    env = site.ci_env("5.0.0", job_token=job["token"])
    body = payload("job token")
    site.put(site.project_id, "my_package/0.0.1/file.txt", body)  # for the wget job
    (tmp_path / "path/to").mkdir(parents=True)
    (tmp_path / "path/to/file.txt").write_bytes(body)

    def attempt(attempt_dir: Path) -> tuple[bytes, bytes, subprocess.CompletedProcess[bytes]]:
        publish = run_ci_job(site, CI_PUBLISH_BASIC, "publish", tmp_path, env)
        run_ci_job(site, CI_DOWNLOAD_HEADER_JA, "download", attempt_dir / "curl", env)
        wget = run_ci_job(site, DOC_14_CI, "download", attempt_dir / "wget", env, check=False)
        return publish.stdout, (attempt_dir / "curl/file.txt").read_bytes(), wget

    published, downloaded, wget = attempt(tmp_path / "running")
    assert published == CREATED
    assert downloaded == body
    assert wget.returncode == 0

    site.server.cli("admin", "finish-job", str(job["job_id"]))

    published, downloaded, wget = attempt(tmp_path / "finished")
    assert published == UNAUTHORIZED
    assert downloaded == UNAUTHORIZED
    assert wget.returncode == 6  # wget: "Username/Password Authentication Failed."
    assert not (tmp_path / "finished/wget/file.txt").exists()


# --------------------------------------------------------------------------- many files


def test_publish_a_directory_with_the_bash_loop(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("tool-linux.tar.gz", "tool-macos.zip", "NOTES.txt")}
    (tmp_path / "files_to_upload/skipped-subdirectory").mkdir(parents=True)
    (tmp_path / "files_to_upload/skipped-subdirectory/inner.txt").write_bytes(b"not uploaded")
    for name, body in files.items():
        (tmp_path / "files_to_upload" / name).write_bytes(body)

    result = sh(site.fill(PUBLISH_DIRECTORY_SCRIPT), tmp_path)

    assert result.stdout.count(CREATED) == len(files)
    assert b"skipped-subdirectory" not in result.stdout
    for name, body in files.items():
        assert f"Uploaded: {name}\n".encode() in result.stdout
        assert site.get(site.project_id, f"my_package/1.0.0/{name}").content == body
    assert site.get(site.project_id, "my_package/1.0.0/inner.txt").status_code == 404


def test_publish_a_directory_keeping_its_structure(site: Site, tmp_path: Path) -> None:
    files = {
        name: payload(name)
        for name in (
            "top-level.txt",
            "docs/guide.md",
            "bin/linux/amd64/tool",
            "bin/linux/arm64/tool",
        )
    }
    for name, body in files.items():
        (tmp_path / "files_to_upload" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "files_to_upload" / name).write_bytes(body)

    result = sh(site.fill(PUBLISH_TREE_SCRIPT), tmp_path)

    assert result.stdout.count(CREATED) == len(files)
    for name, body in files.items():
        assert f"Uploaded: {name}\n".encode() in result.stdout
        assert site.get(site.project_id, f"my_package/1.0.0/{name}").content == body
    # Same file name, different directories: two files, not one overwriting the other.
    amd64 = site.get(site.project_id, "my_package/1.0.0/bin/linux/amd64/tool")
    arm64 = site.get(site.project_id, "my_package/1.0.0/bin/linux/arm64/tool")
    assert amd64.content != arm64.content
    assert site.get(site.project_id, "my_package/1.0.0/tool").status_code == 404


def test_download_multiple_files(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("file1.txt", "file2.txt", "subdirectory/file3.txt")}
    for name, body in files.items():
        site.put(site.project_id, f"my_package/1.0.0/{name}", body)

    result = sh(site.fill(DOWNLOAD_FILES_SCRIPT), tmp_path)

    assert tree(tmp_path / "downloaded_files") == files
    assert result.stdout.decode().splitlines() == [f"Downloaded: {name}" for name in files]


def test_download_an_entire_package(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("file1.txt", "file2.txt", "subdirectory/file3.txt")}
    for name, body in files.items():
        site.put(site.whole_id, f"my_package/1.0.0/{name}", body)

    result = sh(site.fill(DOWNLOAD_PACKAGE_SCRIPT, site.whole_id), tmp_path)

    # The listing names a file in a directory by its stored name, subdirectory%2Ffile3.txt,
    # and the script saves it under that name.
    listed = ["file1.txt", "file2.txt", "subdirectory%2Ffile3.txt"]
    assert result.stdout.decode().splitlines() == [f"Downloaded: {name}" for name in listed]
    assert tree(tmp_path / "downloaded_package") == {
        "file1.txt": files["file1.txt"],
        "file2.txt": files["file2.txt"],
        "subdirectory%2Ffile3.txt": files["subdirectory/file3.txt"],
    }


def test_download_an_entire_package_by_package_id(site: Site, tmp_path: Path) -> None:
    files = {name: payload(name) for name in ("file1.txt", "file2.txt", "file3.bin")}
    package_ids = {
        site.put(site.api_id, f"my_package/1.0.0/{name}", body, select="package_file").json()[
            "package_id"
        ]
        for name, body in files.items()
    }
    assert len(package_ids) == 1
    command = site.fill(
        DOWNLOAD_PACKAGE_BY_ID_SCRIPT_JA,
        site.api_id,
        **{'PACKAGE_ID="1234"': f'PACKAGE_ID="{package_ids.pop()}"'},
    )

    result = sh(command, tmp_path)

    assert tree(tmp_path / "downloaded_package") == files
    assert result.stdout.decode().splitlines() == [f"Downloaded: {name}" for name in files]


# --------------------------------------------------------------------------- Packages API


@dataclass
class Seeded:
    package_id: str
    file_id: str
    body: bytes


def seed(site: Site, name: str, headers: dict[str, str] | None = None) -> Seeded:
    body = payload(name)
    response = httpx.put(
        site.url(site.api_id, f"{name}/1.0.0/{name}.bin"),
        content=body,
        params={"select": "package_file"},
        headers=headers or {"PRIVATE-TOKEN": site.root_token},
    )
    assert response.status_code == 200, response.text
    record = response.json()
    return Seeded(str(record["package_id"]), str(record["id"]), body)


def api(site: Site, tmp_path: Path, command: str, seeded: Seeded) -> bytes:
    filled = site.fill(
        command,
        site.api_id,
        **{
            "<your_access_token>": site.root_token,  # deleting needs a Maintainer
            ":package_file_id": seeded.file_id,
            ":package_id": seeded.package_id,
            "/packages/4/": f"/packages/{seeded.package_id}/",
        },
    )
    return sh(filled, tmp_path).stdout


def test_api_list_project_packages(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "listed")
    packages = json.loads(api(site, tmp_path, API_LIST_PROJECT, seeded))
    assert {"id": int(seeded.package_id), "name": "listed", "version": "1.0.0"}.items() <= next(
        p for p in packages if p["name"] == "listed"
    ).items()


def test_api_list_group_packages(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "grouped")
    packages = json.loads(api(site, tmp_path, API_LIST_GROUP, seeded))
    found = next(p for p in packages if p["name"] == "grouped")
    assert found["id"] == int(seeded.package_id)
    assert found["project_path"] == "acme/api"


def test_api_get_package(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "single")
    package = json.loads(api(site, tmp_path, API_GET_PACKAGE, seeded))
    assert (package["id"], package["name"], package["package_type"]) == (
        int(seeded.package_id),
        "single",
        "generic",
    )


def test_api_list_package_files(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "files")
    files = json.loads(api(site, tmp_path, API_LIST_FILES, seeded))
    assert [(f["file_name"], f["size"], f["file_sha256"]) for f in files] == [
        ("files.bin", len(seeded.body), sha256(seeded.body))
    ]


def test_api_list_package_pipelines(site: Site, tmp_path: Path) -> None:
    job = json.loads(site.server.cli("admin", "start-job", site.api_id, "--user", "alice"))
    seeded = seed(site, "built", {"JOB-TOKEN": job["token"]})
    pipelines = json.loads(api(site, tmp_path, API_LIST_PIPELINES, seeded))
    assert [p["id"] for p in pipelines] == [job["pipeline_id"]]


def test_api_delete_package(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "doomed")
    assert api(site, tmp_path, API_DELETE_PACKAGE, seeded) == b""
    assert site.get(site.api_id, "doomed/1.0.0/doomed.bin").status_code == 404


def test_api_delete_package_file(site: Site, tmp_path: Path) -> None:
    seeded = seed(site, "trimmed")
    assert api(site, tmp_path, API_DELETE_FILE, seeded) == b""
    assert site.get(site.api_id, "trimmed/1.0.0/trimmed.bin").status_code == 404
