"""``cargobay cleanup``, ``cargobay gc`` and ``cargobay audit``: registry maintenance with
local access (no token), for cron jobs and for operators at the console. They run the
same services as the scheduler and the API, on the database and blobs the settings name.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
import orjson

from cargobay.api.responses import gitlab_time
from cargobay.cli import running
from cargobay.domain.cleanup import Removal
from cargobay.services import audit_events, cleanup, gc
from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db.audit import EventFilter

T = TypeVar("T")


def _run(work: Callable[[Registry], Awaitable[T]]) -> T:
    return running.run(work, Settings())


@click.command("cleanup")
@click.option("--project", help="Only this project (id or full path).")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def cleanup_command(project: str | None, dry_run: bool, as_json: bool) -> None:
    """Run cleanup policies now: one project's, or every project's that has one. What
    goes is marked pending destruction; `cargobay gc` deletes it."""
    runs = _run(lambda r: cleanup.run_local(r, project, dry_run=dry_run))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "project": run.project.full_path,
                        "removals": [_removal(r) for r in run.removals],
                    }
                    for run in runs
                ]
            )
        )
        return
    verb = "would remove" if dry_run else "removed"
    for run in runs:
        click.echo(f"{run.project.full_path}: {verb} {len(run.removals)}")
        for r in run.removals:
            what = f"file {r.file_id} {r.file_name}" if r.file_id else f"package {r.package_id}"
            click.echo(f"  {what} of {r.name} {r.version} ({r.reason})")


def _removal(removal: Removal) -> dict[str, Any]:
    return {
        "package_id": removal.package_id,
        "name": removal.name,
        "version": removal.version,
        "package_file_id": removal.file_id,
        "file_name": removal.file_name,
        "reason": removal.reason,
    }


@click.command("gc")
@click.option(
    "--grace-period",
    type=float,
    help="Seconds an unreferenced blob must have aged (default CARGOBAY_GC_GRACE_PERIOD_SECONDS).",
)
def gc_command(grace_period: float | None) -> None:
    """Collect garbage now: purge packages and files pending destruction, delete blobs
    nothing references once older than the grace period, remove abandoned uploads.
    Safe beside running servers and other collectors; safe to interrupt."""
    grace = None if grace_period is None else timedelta(seconds=grace_period)

    def say(text: str) -> None:
        click.echo(text)

    _run(lambda r: gc.collect_garbage(r, grace=grace, progress=say))


@click.command("audit")
@click.option("--entity-type", type=click.Choice(["User", "Group", "Project", "Instance"]))
@click.option("--entity-id", type=int)
@click.option("--path", help="Events of this group or project path and everything below it.")
@click.option("--since", help="Only events at or after this ISO 8601 time (UTC).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON entities.")
def audit_command(
    entity_type: str | None,
    entity_id: int | None,
    path: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log, newest first: who published, deleted or changed settings,
    when, with which token kind, from which address."""
    from cargobay.api.audit import event_entity

    if entity_type == "Instance":
        entity_type = "Gitlab::Audit::InstanceScope"
    where = EventFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        under_path=path,
        created_after=running.parse_moment(since, "--since"),
    )
    rows = _run(lambda r: audit_events.local_events(r, where, limit))
    for row in rows:
        if as_json:
            click.echo(orjson.dumps(event_entity(row)).decode())
            continue
        m = row._mapping
        message = orjson.loads(m["details"]).get("custom_message", "")
        where_from = f" from {m['ip_address']}" if m["ip_address"] else ""
        click.echo(
            f"{gitlab_time(m['created_at'])} {m['author_name']} ({m['token_kind']}{where_from}) "
            f"{m['event_name']} {m['entity_path'] or '-'}: {message}"
        )


COMMANDS = (cleanup_command, gc_command, audit_command)
