"""The shell commands a package page offers to copy: download a file, or publish a new
one, with curl, wget and the python-gitlab CLI (``gitlab``). Each must work when pasted
into a POSIX shell with ``CARGOBAY_TOKEN`` set to a personal access token (or unset, for a
public download).

Package names, versions and stored file names only hold URL-safe characters (spec §4;
stored names are percent-encoded already), so they go into URLs as they are.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from cargobay.domain.names import base_name

TOKEN_VARIABLE = "CARGOBAY_TOKEN"
TOKEN_HEADER = f'"PRIVATE-TOKEN: ${TOKEN_VARIABLE}"'
# Stand-ins the page's script replaces with the file a user means to publish.
PATH_SLOT = "@@PATH@@"
NAME_SLOT = "@@NAME@@"


@dataclass(frozen=True, slots=True)
class Command:
    tool: str  # "curl", "wget" or "python-gitlab"; what it is for, for archives
    text: str


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str  # where users reach this server, no trailing slash
    project_id: int
    package_name: str
    package_version: str

    @property
    def package_url(self) -> str:
        return (
            f"{self.base_url}/api/v4/projects/{self.project_id}/packages/generic/"
            f"{self.package_name}/{self.package_version}"
        )

    def gitlab_cli(self) -> str:
        return (
            f'gitlab --server-url {shlex.quote(self.base_url)} --private-token "${TOKEN_VARIABLE}"'
        )


def download_commands(target: Target, stored_name: str) -> list[Command]:
    url = shlex.quote(f"{target.package_url}/{stored_name}")
    out = shlex.quote(base_name(stored_name))
    return [
        Command(
            "curl",
            f"curl --fail --location --header {TOKEN_HEADER} --output {out} {url}",
        ),
        Command(
            "wget",
            f"wget --header={TOKEN_HEADER} --output-document={out} {url}",
        ),
        Command(
            "python-gitlab",
            f"{target.gitlab_cli()} generic-package download "
            f"--project-id {target.project_id} "
            f"--package-name {shlex.quote(target.package_name)} "
            f"--package-version {shlex.quote(target.package_version)} "
            f"--file-name {shlex.quote(stored_name)} > {out}",
        ),
    ]


def archive_commands(target: Target) -> list[Command]:
    """The whole package as one download (Cargobay's own ``~archive``), and the same
    for whatever version ``~latest`` names when the command runs."""
    latest = Target(target.base_url, target.project_id, target.package_name, "~latest")
    return [
        Command(
            label,
            f"curl --fail --header {TOKEN_HEADER} --output {shlex.quote(out)} "
            f"{shlex.quote(of.package_url + '/~archive.tar.gz')}",
        )
        for label, of, out in (
            ("this version", target, f"{target.package_name}-{target.package_version}.tar.gz"),
            ("~latest", latest, f"{target.package_name}-latest.tar.gz"),
        )
    ]


def publish_commands(target: Target, path: str = PATH_SLOT, name: str = NAME_SLOT) -> list[Command]:
    """Upload the local file ``path`` into this package as ``name``. With the default
    slots the text is a template the page fills in as the user types a file name."""
    file = path if path == PATH_SLOT else shlex.quote(path)
    url = shlex.quote(f"{target.package_url}/{name}")
    return [
        Command(
            "curl",
            f"curl --fail-with-body --header {TOKEN_HEADER} --upload-file {file} {url}",
        ),
        Command(
            "wget",
            f"wget --method=PUT --body-file={file} --header={TOKEN_HEADER} "
            f"--output-document=- {url}",
        ),
        Command(
            "python-gitlab",
            f"{target.gitlab_cli()} generic-package upload "
            f"--project-id {target.project_id} "
            f"--package-name {shlex.quote(target.package_name)} "
            f"--package-version {shlex.quote(target.package_version)} "
            f"--file-name {name} --path {file}",
        ),
    ]
