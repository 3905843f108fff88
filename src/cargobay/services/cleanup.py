"""Project cleanup policies (spec §9) and retention rules: read and change them, preview
what a run would remove, run one now, and run the due ones on schedule.

A run marks what it removes ``pending_destruction``, exactly as the Packages API delete
does: gone at once from lists, downloads and duplicate checks; the garbage collector
deletes the rows and the bytes later. The preview and the run compute the same plan
(domain/cleanup.py) from the same rows, so a run lists exactly what its preview did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain.cleanup import Policy, Removal, plan
from cargobay.domain.models import Project, utcnow
from cargobay.errors import not_found, validation_error
from cargobay.services import audit
from cargobay.services.policies import managed_project, regex_errors
from cargobay.services.registry import Registry
from cargobay.storage.db import cleanup as sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db.database import Connection

DUE_BATCH = 50  # projects examined per scheduler pass


@dataclass(frozen=True, slots=True)
class PolicyView:
    policy: Policy
    next_run_at: datetime | None
    last_run_at: datetime | None


def _view(row: Any) -> PolicyView:
    if row is None:
        return PolicyView(Policy(), None, None)
    return PolicyView(sql.to_policy(row), row.next_run_at, row.last_run_at)


async def get_policy(registry: Registry, principal: Principal, ref: str) -> PolicyView:
    """Readable by whoever may manage it (Maintainer and above)."""
    async with registry.db.read() as conn:
        access = await managed_project(conn, registry, principal, ref)
        return _view(await sql.find_policy(conn, access.project.id))


async def update_policy(
    registry: Registry, actor: audit.Actor, ref: str, changes: dict[str, Any]
) -> PolicyView:
    """``changes`` holds only the fields given (None clears a retention rule). A policy
    that can remove something runs one interval after it changes, then every interval."""
    assert actor.principal is not None
    async with registry.db.write() as conn:
        access = await managed_project(conn, registry, actor.principal, ref)
        current = _view(await sql.find_policy(conn, access.project.id))
        policy = _changed(current.policy, changes)
        now = utcnow()
        next_run_at = None
        if policy.active:
            unchanged = policy == current.policy and current.next_run_at is not None
            next_run_at = current.next_run_at if unchanged else now + _interval(registry)
        row = await sql.save_policy(
            conn, access.project.id, policy, next_run_at=next_run_at, now=now
        )
        if policy != current.policy:
            await audit.record(
                conn,
                actor,
                audit.project_entity(access.project),
                "packages_cleanup_policy_updated",
                "Changed the packages cleanup policy",
                target_type="Packages::Cleanup::Policy",
                target_id=access.project.id,
                target_details=access.project.full_path,
                details={"from": _fields(current.policy), "to": _fields(policy)},
                now=now,
            )
        return _view(row)


def _changed(policy: Policy, changes: dict[str, Any]) -> Policy:
    """The policy after ``changes``, refused as the API refuses them."""
    if (pattern := changes.get("keep_pattern")) and (
        errors := regex_errors("keep_pattern", pattern)
    ):
        raise validation_error(errors)
    return replace(policy, **changes)


def _fields(policy: Policy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in sql.POLICY_FIELDS}


def _interval(registry: Registry) -> timedelta:
    return timedelta(seconds=registry.settings.cleanup_interval_seconds)


async def _plan(conn: Connection, project_id: int, policy: Policy, now: datetime) -> list[Removal]:
    if not policy.active:
        return []
    packages = await sql.candidate_packages(conn, project_id)
    keep_n = policy.keep_n_duplicated
    files = [] if keep_n is None else await sql.duplicated_files(conn, project_id, keep_n)
    return plan(policy, packages, files, now)


async def preview(registry: Registry, principal: Principal, ref: str) -> list[Removal]:
    """What a run started now would remove (nothing changes)."""
    return (await preview_changes(registry, principal, ref, {}))[1]


async def preview_changes(
    registry: Registry, principal: Principal, ref: str, changes: dict[str, Any]
) -> tuple[Policy, list[Removal]]:
    """What a run started now would remove if the policy had ``changes`` (what a form
    holds before it is saved, refused as ``update_policy`` refuses it); nothing changes.
    Returns the policy it planned with and the plan."""
    async with registry.db.scan() as conn:
        access = await managed_project(conn, registry, principal, ref)
        saved = _view(await sql.find_policy(conn, access.project.id)).policy
        policy = _changed(saved, changes)
        return policy, await _plan(conn, access.project.id, policy, utcnow())


async def run_now(registry: Registry, actor: audit.Actor, ref: str) -> list[Removal]:
    """Run a project's policy at once (its schedule is left as it is)."""
    assert actor.principal is not None
    async with _failures_counted(registry), registry.db.write(bulk=True) as conn:
        access = await managed_project(conn, registry, actor.principal, ref)
        removals = await _run(conn, access.project, actor, utcnow())
    return _counted(registry, removals)


@asynccontextmanager
async def _failures_counted(registry: Registry) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        registry.metrics.cleanup_runs.labels("failed").inc()
        raise


def _counted(registry: Registry, removals: list[Removal]) -> list[Removal]:
    """A policy run that committed, in the metrics (services/metrics.py)."""
    metrics = registry.metrics
    metrics.cleanup_runs.labels("success").inc()
    files = sum(1 for r in removals if r.file_id is not None)
    metrics.cleanup_removed.labels("package").inc(len(removals) - files)
    metrics.cleanup_removed.labels("file").inc(files)
    return removals


async def _run(
    conn: Connection, project: Project, actor: audit.Actor, now: datetime
) -> list[Removal]:
    policy = _view(await sql.find_policy(conn, project.id)).policy
    removals = await _plan(conn, project.id, policy, now)
    packages = [r.package_id for r in removals if r.file_id is None]
    files = [r.file_id for r in removals if r.file_id is not None]
    await sql.mark_packages(conn, packages, now)
    await sql.mark_files(conn, files, now)
    if removals:
        await audit.record(
            conn,
            actor,
            audit.project_entity(project),
            "packages_cleanup_policy_run",
            f"Cleanup policy removed {len(packages)} packages and {len(files)} package files",
            target_type="Packages::Cleanup::Policy",
            target_id=project.id,
            target_details=project.full_path,
            details={"package_ids": packages, "package_file_ids": files},
            now=now,
        )
    return removals


@dataclass(frozen=True, slots=True)
class ProjectRun:
    project: Project
    removals: list[Removal]


async def run_due(
    registry: Registry,
    now: datetime | None = None,
    *,
    stopping: Callable[[], bool] | None = None,
) -> list[ProjectRun]:
    """The scheduler's pass: run every due policy once, whichever process gets it. Each
    project is claimed and cleaned in one write transaction, so a process that dies
    mid-run leaves the policy due for the next pass."""
    now = now or utcnow()
    async with registry.db.read() as conn:
        due = await sql.due_projects(conn, now, DUE_BATCH)
    runs = []
    for project_id in due:
        if stopping is not None and stopping():
            break  # the server is shutting down; the rest stays due
        async with _failures_counted(registry), registry.db.write(bulk=True) as conn:
            if not await sql.claim(conn, project_id, now, now + _interval(registry)):
                continue  # another process took it
            project = await namespace_sql.find_project(conn, str(project_id))
            if project is None:
                continue
            removals = await _run(conn, project, audit.SCHEDULER, now)
        runs.append(ProjectRun(project, _counted(registry, removals)))
    return runs


async def run_local(
    registry: Registry, project_ref: str | None, *, dry_run: bool
) -> list[ProjectRun]:
    """``cargobay cleanup``: one project, or every project with an active policy."""
    now = utcnow()
    async with registry.db.read() as conn:
        if project_ref is not None:
            found = await namespace_sql.find_project(conn, project_ref)
            if found is None:
                raise not_found("Project Not Found")
            ids = [found.id]
        else:
            ids = await sql.projects_with_active_policy(conn)
    runs = []
    for project_id in ids:
        session = registry.db.read() if dry_run else registry.db.write(bulk=True)
        async with _failures_counted(registry), session as conn:
            project = await namespace_sql.find_project(conn, str(project_id))
            assert project is not None
            if dry_run:
                policy = _view(await sql.find_policy(conn, project_id)).policy
                removals = await _plan(conn, project_id, policy, now)
            else:
                removals = await _run(conn, project, audit.CLI, now)
        runs.append(ProjectRun(project, removals if dry_run else _counted(registry, removals)))
    return runs
