"""The client commands: ``cargobay publish|fetch|ls|rm|login|logout`` (docs/cli.md). The
``cargobay`` script runs them on :func:`client` (cli/entry.py), and cli/main.py's group
lists them too; this module imports no server code, so it starts fast and runs where only
httpx, rich and click are installed."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cargobay.client import config as configuration
from cargobay.client.config import ClientError, ConfigError
from cargobay.client.fetch import Fetcher, resolve_version
from cargobay.client.manage import check_login, list_files, list_packages, remove
from cargobay.client.publish import Publisher, scan
from cargobay.client.remote import Remote
from cargobay.client.report import Reporter, Summary

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(command: F) -> F:
    """--url, --token, --project, --remote, --gitlab-only, and the one-line error handling."""

    @click.option("--url", help="Server base URL (CARGOBAY_URL; in GitLab CI: CI_API_V4_URL).")
    @click.option("--token", help="Token (CARGOBAY_TOKEN, CARGOBAY_JOB_TOKEN; CI_JOB_TOKEN).")
    @click.option("--project", help="Project id or full path (CARGOBAY_PROJECT; CI_PROJECT_ID).")
    @click.option("--remote", help="Profile of the configuration file (CARGOBAY_REMOTE).")
    @click.option(
        "--gitlab-only",
        is_flag=True,
        help="Use no Cargobay extension, as against GitLab (CARGOBAY_GITLAB_ONLY=1).",
    )
    @one_line_errors
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        return command(**kwargs)

    return wrapper  # type: ignore[return-value]


def one_line_errors(command: F) -> F:
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
        remote=kwargs.pop("remote"),
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


@click.command()
@click.argument("server_url", required=False, metavar="[URL]")
@click.option("--url", help="Server base URL (or give it as the argument).")
@click.option("--token-stdin", is_flag=True, help="Read the token from stdin, not a prompt.")
@click.option("--remote", default="default", show_default=True, help="Profile name.")
@click.option("--project", help="Default project of the profile (id or full path).")
@click.option("--gitlab-only", is_flag=True, help="Remember to use no Cargobay extension.")
@one_line_errors
def login(**kwargs: Any) -> None:
    """Check a token against a server and save both as a profile of
    $XDG_CONFIG_HOME/cargobay/config.toml (mode 0600). The token is read from a hidden
    prompt or with --token-stdin, never from the command line."""
    url = kwargs["server_url"] or kwargs["url"]
    if not url:
        raise ConfigError("no server URL: cargobay login URL")
    if kwargs["server_url"] and kwargs["url"] and kwargs["server_url"] != kwargs["url"]:
        raise ConfigError("two different URLs: give it once")
    base = configuration.base_url(url)
    if kwargs["token_stdin"]:
        token = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        token = click.prompt("Token", hide_input=True, err=True).strip()
    else:
        raise ConfigError("no terminal to ask for the token: pipe it with --token-stdin")
    if not token:
        raise ConfigError("an empty token")
    cfg = configuration.Config(
        base,
        configuration.token_header(token),
        token,
        kwargs["project"] or "",
        kwargs["gitlab_only"],
    )
    remote = Remote(cfg, retries=1)
    try:
        who = check_login(remote)
    finally:
        remote.close()
    values: dict[str, Any] = {"url": base, "token": token}
    if kwargs["project"]:
        values["project"] = kwargs["project"]
    if kwargs["gitlab_only"]:
        values["gitlab_only"] = True
    path = configuration.save_profile(os.environ, kwargs["remote"], values)
    click.echo(f"Logged in to {base} {who}; profile {kwargs['remote']!r} saved in {path}")


@click.command()
@click.option("--remote", default="default", show_default=True, help="Profile name.")
@one_line_errors
def logout(**kwargs: Any) -> None:
    """Remove a profile (its URL and token) from the configuration file; the file goes
    when no profile is left. The token stays valid on the server."""
    path = configuration.remove_profile(os.environ, kwargs["remote"])
    if path is None:
        click.echo(f"No profile {kwargs['remote']!r}: nothing to remove")
    else:
        click.echo(f"Removed profile {kwargs['remote']!r} from {path}")


COMMANDS = [publish, fetch, ls, rm, login, logout]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def client() -> None:
    """Cargobay's client: publish, fetch, ls, rm, login, logout (docs/cli.md)."""


for _command in COMMANDS:
    client.add_command(_command)
