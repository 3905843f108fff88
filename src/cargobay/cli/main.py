"""The ``cargobay`` command: serve, db, admin, settings."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click

from cargobay.cli import maintenance, migrate
from cargobay.cli.running import run
from cargobay.client import cli as client_cli
from cargobay.domain.models import AccessLevel, RegistryAccess, Visibility
from cargobay.services import admin
from cargobay.services.registry import Registry, open_registry
from cargobay.serving import PortInUse, claim_port, exec_server, worker_count
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


def _run(work: Callable[[Registry], Awaitable[T]]) -> T:
    return run(work, _settings())


def _iso_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cargobay")
def main() -> None:
    """Cargobay: a generic package registry that speaks GitLab's API."""


@main.command()
@click.option("--host", help="Address to bind (CARGOBAY_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (CARGOBAY_PORT, default 8080).")
@click.option(
    "--workers", type=int, help="Worker processes (CARGOBAY_WORKERS; default 0: one per CPU)."
)
@click.option("--data-dir", help="Data directory (CARGOBAY_DATA_DIR, default ./data).")
def serve(host: str | None, port: int | None, workers: int | None, data_dir: str | None) -> None:
    """Run the server. The first start on an empty data directory creates the database,
    an administrator and its token, and prints a curl command to try."""
    settings = _settings(host=host, port=port, workers=workers, data_dir=data_dir)
    try:
        claim_port(settings.host, settings.port).close()  # before any work: fail fast
    except (PortInUse, OSError) as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {exc}"
        ) from None
    upgrade(settings.resolved_database_url())
    token = asyncio.run(_bootstrap(settings))
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"Cargobay listening on {base} (data in {settings.data_dir.resolve()})")
    if token:
        click.echo(
            f"\nCreated administrator 'root'. Its API token (shown once):\n\n    {token}\n\n"
            "Try it:\n\n"
            f'    curl --header "PRIVATE-TOKEN: {token}" {base}/api/v4/version\n'
            "\nPublish a file (after `cargobay admin create-project root demo`):\n\n"
            f'    curl --header "PRIVATE-TOKEN: {token}" --upload-file README.md '
            f'"{base}/api/v4/projects/root%2Fdemo/packages/generic/demo/1.0.0/README.md"\n'
            f"\nBrowse it at {base}/ : sign in with the token, or give root a password with"
            "\n`cargobay admin set-password root`.\n"
        )
    sys.stdout.flush()
    exec_server(settings.host, settings.port, worker_count(settings.workers))  # serving.py


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
    """Apply migrations up to REVISION (default: head)."""
    upgrade(_settings().resolved_database_url(), revision)
    click.echo("database is up to date")


@main.group("admin")
def admin_group() -> None:
    """Users, groups, projects, members and tokens (local access, no token needed)."""


@admin_group.command("bootstrap")
@click.option("--username", default="root", show_default=True)
def bootstrap(username: str) -> None:
    """Create the first administrator if none exists; print only its new token."""
    token = _run(lambda r: admin.bootstrap(r, username))
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
            expires_at=_iso_date(expires),
        )
    )


@admin_group.command("create-token")
@click.argument("user")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True, default=["api"], show_default=True)
@click.option("--expires", help="YYYY-MM-DD")
def create_token(user: str, name: str, scopes: tuple[str, ...], expires: str | None) -> None:
    """Create a personal access token; prints the token (shown once)."""
    new = _run(
        lambda r: admin.create_personal_access_token(
            r, user, name=name, scopes=list(scopes), expires_at=_iso_date(expires)
        )
    )
    click.echo(new.token)


@admin_group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke a personal or project access token by id."""
    _run(lambda r: admin.revoke_personal_access_token(r, token_id))


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
    new = _run(
        lambda r: admin.create_project_access_token(
            r,
            project,
            name=name,
            scopes=list(scopes),
            access_level=ROLES[role],
            expires_at=_iso_date(expires),
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
            expires_at=datetime.fromisoformat(expires) if expires else None,
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
    _run(lambda r: admin.finish_job(r, job_id, status))


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


# Registry maintenance (cleanup policies, garbage collection, audit log): cli/maintenance.py
for _command in maintenance.COMMANDS:
    main.add_command(_command)

# Moving an embedded install to PostgreSQL and S3: cli/migrate.py
main.add_command(migrate.migrate_group)

# The client (publish, fetch, ls, rm against any GitLab-compatible server): client/cli.py
main.add_command(client_cli.publish)
main.add_command(client_cli.fetch)
main.add_command(client_cli.ls)
main.add_command(client_cli.rm)
