"""The ``cargobay`` command: serve, db, admin, settings."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from cargobay.cli import maintenance, migrate, running
from cargobay.cli.running import parse_day, parse_moment, run
from cargobay.client import cli as client_cli
from cargobay.domain.models import AccessLevel, RegistryAccess, Visibility
from cargobay.services import admin, tokens
from cargobay.services.registry import Registry, open_registry
from cargobay.serving import (
    PortInUse,
    announce_when_listening,
    claim_port,
    exec_server,
    worker_count,
)
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade

T = TypeVar("T")

ROLES = {level.name.lower(): level for level in AccessLevel if level}
VISIBILITIES = [v.name for v in Visibility]


def _settings(**overrides: Any) -> Settings:
    """Settings from CARGOBAY_* plus command-line overrides, exported back to the
    environment so server worker processes read the same values."""
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"CARGOBAY_{key.upper()}"] = str(value)
    return Settings()


def _run(work: Callable[[Registry], Awaitable[T]], *, create: bool = False) -> T:
    return run(work, _settings(), create=create)


def _future_day(expires: str | None) -> date | None:
    """A new access token's --expires: a date after today, by the API's own rule."""
    day = parse_day(expires)
    tokens.refuse_past_expiry(day)
    return day


@click.group(cls=running.Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cargobay")
def main() -> None:
    """Cargobay: a generic package registry that speaks GitLab's API."""


@main.command()
@click.option("--host", help="Address to bind (CARGOBAY_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (CARGOBAY_PORT, default 8080).")
@click.option(
    "--workers", type=int, help="Worker processes (CARGOBAY_WORKERS; default 0: one per CPU)."
)
@click.option("--data-dir", help=running.DATA_DIR_HELP)
def serve(host: str | None, port: int | None, workers: int | None, data_dir: str | None) -> None:
    """Run the server. The first start on an empty data directory creates the database,
    an administrator and its token, and prints a curl command to try."""
    settings = _settings(host=host, port=port, workers=workers, data_dir=data_dir)
    running.check_networks(settings)
    try:
        claim_port(settings.host, settings.port).close()  # before any work: fail fast
    except (PortInUse, OSError) as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {exc}"
        ) from None
    upgrade(settings.resolved_database_url())
    token = asyncio.run(_bootstrap(settings))
    banner = _banner(settings, token, sys.argv[0])
    announce_when_listening(settings.host, settings.port, banner)  # serving.py
    exec_server(settings.host, settings.port, worker_count(settings.workers))  # serving.py


def _banner(settings: Settings, token: str | None, argv0: str) -> str:
    """What serve prints once the port accepts connections; its commands are spelled as
    this program was invoked (``.venv/bin/cargobay`` after ``make``), with the data
    directory when it is not the default, so that they work when pasted."""
    base = f"http://{settings.host}:{settings.port}"
    data = settings.data_dir.resolve()
    program = running.program_name(argv0)
    where = "" if data == Path("data").resolve() else f" --data-dir {shlex.quote(str(data))}"
    text = f"Cargobay listening on {base} (data in {data})\n"
    if token:
        text += (
            f"\nCreated administrator 'root'. Its API token (shown once):\n\n    {token}\n\n"
            "Try it:\n\n"
            f'    curl --header "PRIVATE-TOKEN: {token}" {base}/api/v4/version\n'
            f"\nCreate a project, then publish a file to it:\n\n"
            f"    {program} admin create-project{where} root demo\n"
            f'    curl --header "PRIVATE-TOKEN: {token}" --upload-file README.md '
            f'"{base}/api/v4/projects/root%2Fdemo/packages/generic/demo/1.0.0/README.md"\n'
            f"\nBrowse it at {base}/ : sign in with the token, or give root a password with"
            f"\n\n    {program} admin set-password{where} root\n"
        )
    return text


async def _bootstrap(settings: Settings) -> str | None:
    registry = open_registry(settings)
    try:
        return await admin.bootstrap(registry)
    finally:
        await registry.close()


@main.command("settings")
def show_settings() -> None:
    """List every setting, its environment variable, value and meaning."""
    current = Settings()
    for name, field in Settings.model_fields.items():
        click.echo(f"CARGOBAY_{name.upper()}={getattr(current, name)}")
        click.echo(f"    {field.description}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head); creates the database if the data
    directory has none."""
    upgrade(_settings().resolved_database_url(), revision)
    click.echo("database is up to date")


@main.group("admin")
def admin_group() -> None:
    """Users, groups, projects, members and tokens (local access, no token needed)."""


@admin_group.command("bootstrap")
@click.option("--username", default="root", show_default=True)
def bootstrap(username: str) -> None:
    """Create the first administrator if none exists; print only its new token."""
    token = _run(lambda r: admin.bootstrap(r, username), create=True)
    if token is None:
        raise click.ClickException("an administrator already exists")
    click.echo(token)


@admin_group.command("create-user")
@click.argument("username")
@click.option("--name")
@click.option("--email")
@click.option("--admin", "is_admin", is_flag=True, help="Make the user an administrator.")
def create_user(username: str, name: str | None, email: str | None, is_admin: bool) -> None:
    """Create a user (with its personal namespace); prints the user id."""
    user = _run(lambda r: admin.create_user(r, username, name=name, email=email, is_admin=is_admin))
    click.echo(user.id)


@admin_group.command("set-user-state")
@click.argument("user")
@click.argument("state", type=click.Choice(["active", "blocked", "deactivated"]))
def set_user_state(user: str, state: str) -> None:
    """Block, deactivate or reactivate a user."""
    _run(lambda r: admin.set_user_state(r, user, state))


@admin_group.command("create-group")
@click.argument("path")
@click.option("--name")
@click.option("--parent", help="Parent group (id or full path) for a subgroup.")
@click.option("--visibility", type=click.Choice(VISIBILITIES), default="private", show_default=True)
@click.option("--owner", help="User made Owner of the group.")
def create_group(
    path: str, name: str | None, parent: str | None, visibility: str, owner: str | None
) -> None:
    """Create a group or subgroup; prints its id."""
    group_id = _run(
        lambda r: admin.create_group(
            r, path, name=name, parent=parent, visibility=Visibility[visibility], owner=owner
        )
    )
    click.echo(group_id)


@admin_group.command("create-project")
@click.argument("namespace")
@click.argument("path")
@click.option("--name")
@click.option("--visibility", type=click.Choice(VISIBILITIES), default="private", show_default=True)
@click.option(
    "--registry-access",
    type=click.Choice([a.value for a in RegistryAccess]),
    default="enabled",
    show_default=True,
    help="Package registry access level.",
)
def create_project(
    namespace: str, path: str, name: str | None, visibility: str, registry_access: str
) -> None:
    """Create a project in a group or user namespace; prints its id."""
    project = _run(
        lambda r: admin.create_project(
            r,
            namespace,
            path,
            name=name,
            visibility=Visibility[visibility],
            registry_access=RegistryAccess(registry_access),
        )
    )
    click.echo(project.id)


@admin_group.command("add-member")
@click.argument("user")
@click.option("--group")
@click.option("--project")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--expires", help="YYYY-MM-DD")
def add_member(
    user: str, group: str | None, project: str | None, role: str, expires: str | None
) -> None:
    """Give USER a role in a group (inherited by its subgroups and projects) or project."""
    _run(
        lambda r: admin.add_member(
            r,
            user,
            access_level=ROLES[role],
            group=group,
            project=project,
            expires_at=parse_day(expires),
        )
    )


@admin_group.command("create-token")
@click.argument("user")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True, default=["api"], show_default=True)
@click.option("--expires", help="YYYY-MM-DD")
def create_token(user: str, name: str, scopes: tuple[str, ...], expires: str | None) -> None:
    """Create a personal access token; prints the token (shown once)."""
    expires_at = _future_day(expires)
    new = _run(
        lambda r: admin.create_personal_access_token(
            r, user, name=name, scopes=list(scopes), expires_at=expires_at
        )
    )
    click.echo(new.token)


@admin_group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke a personal or project access token by id."""
    _run(lambda r: admin.revoke_personal_access_token(r, token_id))
    click.echo(f"token {token_id} revoked")


@admin_group.command("create-project-token")
@click.argument("project")
@click.option("--name", default="project-token", show_default=True)
@click.option("--scope", "scopes", multiple=True, default=["api"], show_default=True)
@click.option("--role", type=click.Choice(list(ROLES)), default="maintainer", show_default=True)
@click.option("--expires", help="YYYY-MM-DD")
def create_project_token(
    project: str, name: str, scopes: tuple[str, ...], role: str, expires: str | None
) -> None:
    """Create a project access token (a bot member); prints the token."""
    expires_at = _future_day(expires)
    new = _run(
        lambda r: admin.create_project_access_token(
            r,
            project,
            name=name,
            scopes=list(scopes),
            access_level=ROLES[role],
            expires_at=expires_at,
        )
    )
    click.echo(new.token)


@admin_group.command("create-deploy-token")
@click.option("--project")
@click.option("--group")
@click.option("--name", default="deploy-token", show_default=True)
@click.option("--username", help="Default: gitlab+deploy-token-<id>.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="read_package_registry and/or write_package_registry",
)
@click.option("--expires", help="YYYY-MM-DD or an ISO timestamp")
def create_deploy_token(
    project: str | None,
    group: str | None,
    name: str,
    username: str | None,
    scopes: tuple[str, ...],
    expires: str | None,
) -> None:
    """Create a project or group deploy token; prints the token."""
    new = _run(
        lambda r: admin.create_deploy_token(
            r,
            name=name,
            scopes=list(scopes),
            username=username,
            project=project,
            group=group,
            expires_at=parse_moment(expires, "--expires"),
        )
    )
    click.echo(new.token)


@admin_group.command("start-job")
@click.argument("project")
@click.option("--user", help="The user who runs the job (its permissions apply).")
@click.option("--ref", default="main", show_default=True)
@click.option("--sha", default="0" * 40)
@click.option("--job-name", default="job", show_default=True)
@click.option("--pipeline-id", type=int, help="Add the job to this pipeline instead of a new one.")
def start_job(
    project: str, user: str | None, ref: str, sha: str, job_name: str, pipeline_id: int | None
) -> None:
    """Start a CI job and mint its job token; prints JSON with job_id, pipeline_id, token."""
    job = _run(
        lambda r: admin.start_job(
            r, project, user=user, ref=ref, sha=sha, job_name=job_name, pipeline_id=pipeline_id
        )
    )
    click.echo(
        json.dumps(
            {
                "job_id": job.job_id,
                "pipeline_id": job.pipeline_id,
                "pipeline_iid": job.pipeline_iid,
                "token": job.token,
            }
        )
    )


@admin_group.command("finish-job")
@click.argument("job_id", type=int)
@click.option(
    "--status", type=click.Choice(sorted(admin.JOB_STATUSES)), default="success", show_default=True
)
def finish_job(job_id: int, status: str) -> None:
    """Finish a CI job; its token stops working."""
    if _run(lambda r: admin.finish_job(r, job_id, status)):
        click.echo(f"job {job_id} finished: {status}; its token no longer works")
    else:
        click.echo(f"job {job_id} had already finished: {status}")


@admin_group.command("set-password")
@click.argument("user")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
def set_password(user: str, password_stdin: bool) -> None:
    """Set USER's password for signing in to the web interface (stored as an Argon2id
    hash). Sessions signed in with the old password end."""
    from cargobay.services import sign_in

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _run(lambda r: sign_in.set_password(r, user, password))
    click.echo(f"password set for {user}")


# ---------------------------------------------------------------- listings

JSON_HELP = "Print a JSON array instead of a table."


def _listing(
    entries: list[dict[str, Any]], as_json: bool, headers: list[str], rows: list[list[Any]]
) -> None:
    """``entries`` as JSON, or ``rows`` in columns aligned to their widest cell (``-`` for
    an empty one)."""
    if as_json:
        click.echo(json.dumps(entries))
        return
    cells = [headers, *[["-" if v is None or v == "" else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _day(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@admin_group.command("list-users")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def list_users(as_json: bool) -> None:
    """List users (project bots included) with their ids."""
    users = _run(admin.list_users)
    entries = [
        {
            "id": u.id,
            "username": u.username,
            "name": u.name,
            "email": u.email,
            "state": u.state,
            "is_admin": u.is_admin,
            "bot": u.bot,
        }
        for u in users
    ]
    _listing(
        entries,
        as_json,
        ["ID", "USERNAME", "NAME", "STATE", "ROLE"],
        [[e["id"], e["username"], e["name"], e["state"], _user_role(e)] for e in entries],
    )


def _user_role(entry: dict[str, Any]) -> str:
    return "admin" if entry["is_admin"] else "bot" if entry["bot"] else "user"


@admin_group.command("list-groups")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def list_groups(as_json: bool) -> None:
    """List groups and subgroups with their ids."""
    groups = _run(admin.list_groups)
    entries = [
        {
            "id": g.id,
            "full_path": g.full_path,
            "name": g.name,
            "parent_id": g.parent_id,
            "visibility": g.visibility.name,
        }
        for g in groups
    ]
    _listing(
        entries,
        as_json,
        ["ID", "PATH", "NAME", "VISIBILITY"],
        [[e["id"], e["full_path"], e["name"], e["visibility"]] for e in entries],
    )


@admin_group.command("list-projects")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def list_projects(as_json: bool) -> None:
    """List projects with their ids."""
    projects = _run(admin.list_projects)
    entries = [
        {
            "id": p.id,
            "full_path": p.full_path,
            "name": p.name,
            "namespace_id": p.namespace_id,
            "visibility": p.visibility.name,
            "registry_access": p.registry_access.value,
        }
        for p in projects
    ]
    _listing(
        entries,
        as_json,
        ["ID", "PATH", "NAME", "VISIBILITY", "REGISTRY"],
        [
            [e["id"], e["full_path"], e["name"], e["visibility"], e["registry_access"]]
            for e in entries
        ],
    )


@admin_group.command("list-tokens")
@click.option("--user", help="Only this user's tokens (id or username).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def list_tokens(user: str | None, as_json: bool) -> None:
    """List personal and project access tokens (a project token belongs to its bot user)
    with the ids `revoke-token` takes. Never shows a token itself."""
    listed = _run(lambda r: admin.list_tokens(r, user))
    entries = [
        {
            "id": t.token.id,
            "user_id": t.token.user_id,
            "username": t.username,
            "name": t.token.name,
            "scopes": t.token.scopes.split(),
            "state": t.state,
            "expires_at": _day(t.token.expires_at),
            "last_used_at": _day(t.token.last_used_at),
            "created_at": _day(t.token.created_at),
        }
        for t in listed
    ]
    _listing(
        entries,
        as_json,
        ["ID", "USER", "NAME", "SCOPES", "STATE", "EXPIRES"],
        [
            [
                t.token.id,
                t.username,
                t.token.name,
                t.token.scopes.replace(" ", ","),
                t.state,
                _day(t.token.expires_at),
            ]
            for t in listed
        ],
    )


# Registry maintenance (cleanup policies, garbage collection, audit log): cli/maintenance.py
for _command in maintenance.COMMANDS:
    main.add_command(_command)

# Moving an embedded install to PostgreSQL and S3: cli/migrate.py
main.add_command(migrate.migrate_group)

# Every command above but serve (which has its own) takes --data-dir.
running.add_data_dir_option(main)

# The client (publish, fetch, ls, rm against any GitLab-compatible server): client/cli.py.
# After the line above: it reads no data directory.
for _command in client_cli.COMMANDS:
    main.add_command(_command)
