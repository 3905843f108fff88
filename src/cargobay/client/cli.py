"""The client commands: ``cargobay publish|fetch|ls|rm`` (docs/cli.md). Each is a click
command that cli/main.py adds to the ``cargobay`` group; this module imports no server
code, so it runs where only httpx, rich and click are installed."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cargobay.client import config as configuration
from cargobay.client.config import ClientError, ConfigError
from cargobay.client.fetch import Fetcher, resolve_version
from cargobay.client.manage import list_files, list_packages, remove
from cargobay.client.publish import Publisher, scan
from cargobay.client.remote import Remote
from cargobay.client.report import Reporter, Summary

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(command: F) -> F:
    """--url, --token, --project, --gitlab-only, and the one-line error handling."""

    @click.option("--url", help="Server base URL (CARGOBAY_URL; in GitLab CI: CI_API_V4_URL).")
    @click.option("--token", help="Token (CARGOBAY_TOKEN, CARGOBAY_JOB_TOKEN; CI_JOB_TOKEN).")
    @click.option("--project", help="Project id or full path (CARGOBAY_PROJECT; CI_PROJECT_ID).")
    @click.option(
        "--gitlab-only",
        is_flag=True,
        help="Use no Cargobay extension, as against GitLab (CARGOBAY_GITLAB_ONLY=1).",
    )
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        try:
            return command(**kwargs)
        except ClientError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _remote(kwargs: dict[str, Any], *, jobs: int = 4, need_project: bool = True) -> Remote:
    cfg = configuration.resolve(
        url=kwargs.pop("url"),
        token=kwargs.pop("token"),
        project=kwargs.pop("project"),
        gitlab_only=kwargs.pop("gitlab_only"),
        need_project=need_project,
    )
    return Remote(cfg, jobs=jobs)


@click.command()
@click.argument("sources", nargs=-1, required=True, metavar="DIR|FILE...")
@click.option("--name", required=True, help="Package name.")
@click.option("--version", "version", required=True, help="Package version.")
@click.option("--jobs", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--status", type=click.Choice(["default", "hidden"]), help="Package status.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary.")
@click.option("--dry-run", is_flag=True, help="Say what would be uploaded; send nothing.")
@click.option("--force", is_flag=True, help="Upload files the server already has.")
@connection_options
def publish(**kwargs: Any) -> None:
    """Publish files and directory trees as one package version. Files whose sha256 the
    version already has are skipped."""
    files = scan(list(kwargs["sources"]))
    remote = _remote(kwargs, jobs=kwargs["jobs"])
    summary = Summary("uploaded")
    try:
        with Reporter(summary, as_json=kwargs["as_json"]) as reporter:
            Publisher(
                remote,
                reporter,
                name=kwargs["name"],
                version=kwargs["version"],
                status=kwargs["status"],
                jobs=kwargs["jobs"],
            ).run(files, force=kwargs["force"], dry_run=kwargs["dry_run"])
        reporter.close()
    finally:
        remote.close()
    if summary.failed:
        sys.exit(1)


@click.command()
@click.option("--name", required=True, help="Package name.")
@click.option("--version", "version", required=True, help="A version, ~latest or ~newest.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--jobs", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--force", is_flag=True, help="Download files that match locally too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary.")
@connection_options
def fetch(**kwargs: Any) -> None:
    """Download every file of a package version into a directory, verified by sha256;
    files that already match are skipped."""
    remote = _remote(kwargs, jobs=kwargs["jobs"])
    summary = Summary("downloaded")
    try:
        version, files = resolve_version(remote, kwargs["name"], kwargs["version"])
        with Reporter(summary, as_json=kwargs["as_json"]) as reporter:
            if version != kwargs["version"]:
                reporter.line(f"{kwargs['version']} is {version}")
            Fetcher(
                remote, reporter, name=kwargs["name"], version=version, jobs=kwargs["jobs"]
            ).run(files, kwargs["output"], force=kwargs["force"])
        reporter.close()
    finally:
        remote.close()
    if summary.failed:
        sys.exit(1)


@click.command("ls")
@click.option("--name", help="Only this package (exact name).")
@click.option("--version", "version", help="List this version's files.")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def ls(**kwargs: Any) -> None:
    """List the project's generic packages, a package's versions, or a version's files."""
    if kwargs["version"] and not kwargs["name"]:
        raise ConfigError("--version needs --name")
    remote = _remote(kwargs)
    try:
        if kwargs["version"]:
            rows = list_files(remote, kwargs["name"], kwargs["version"])
            lines = [f"{r['size']:>12}  {r['sha256'][:12]}  {r['path']}" for r in rows]
        else:
            rows = list_packages(remote, kwargs["name"])
            lines = [f"{r['name']}  {r['version']}  {r['status']}  {r['created_at']}" for r in rows]
    finally:
        remote.close()
    if kwargs["as_json"]:
        click.echo(json.dumps(rows))
    else:
        for line in lines:
            click.echo(line)


@click.command("rm")
@click.argument("paths", nargs=-1, metavar="[FILE...]")
@click.option("--name", required=True, help="Package name.")
@click.option("--version", "version", required=True, help="Package version.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@connection_options
def rm(**kwargs: Any) -> None:
    """Delete a package version, or the named files of it (every copy of each name)."""
    what = ", ".join(kwargs["paths"]) or "the whole version"
    target = f"{kwargs['name']} {kwargs['version']}"
    if not kwargs["yes"]:
        if not sys.stdin.isatty():
            raise ConfigError("refusing to delete without --yes when not on a terminal")
        if not click.confirm(f"Delete {what} of {target}?"):
            raise ClientError("nothing deleted")
    remote = _remote(kwargs)
    try:
        deleted = remove(remote, kwargs["name"], kwargs["version"], list(kwargs["paths"]))
    finally:
        remote.close()
    for item in deleted:
        click.echo(f"deleted {item}")


COMMANDS = [publish, fetch, ls, rm]
