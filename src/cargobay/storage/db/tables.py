"""The schema, in SQLAlchemy Core. Alembic migrations under migrations/ build it.

Ids use AUTOINCREMENT on SQLite so an id is never reused after a delete: GitLab clients
treat a package id as a stable identity (a re-upload after DELETE gets a new id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _timestamps() -> tuple[Column[datetime], Column[datetime]]:
    return (
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )


# Groups and user namespaces are both namespaces, as in GitLab: a project's duplicate
# settings live on its direct namespace (spec §8).
namespaces = Table(
    "namespaces",
    metadata,
    _id(),
    Column("kind", String(8), nullable=False),  # "group" | "user"
    Column("name", String(255), nullable=False),
    Column("path", String(255), nullable=False),
    Column("full_path", String(1024), nullable=False, unique=True),
    Column("parent_id", Integer, ForeignKey("namespaces.id"), nullable=True),
    Column("visibility", SmallInteger, nullable=False, server_default="0"),
    Column("description", Text, nullable=False, server_default=""),
    Column("generic_duplicates_allowed", Boolean, nullable=False, server_default=true()),
    Column("generic_duplicate_exception_regex", String(255), nullable=False, server_default=""),
    *_timestamps(),
    **AUTOINCREMENT,
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255), nullable=True),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("state", String(16), nullable=False, server_default="active"),
    Column("bot", Boolean, nullable=False, server_default=false()),
    Column("password_hash", String(255), nullable=True),
    Column("namespace_id", Integer, ForeignKey("namespaces.id"), nullable=True),
    *_timestamps(),
    **AUTOINCREMENT,
)

projects = Table(
    "projects",
    metadata,
    _id(),
    Column("namespace_id", Integer, ForeignKey("namespaces.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("path", String(255), nullable=False),
    Column("full_path", String(1024), nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("visibility", SmallInteger, nullable=False, server_default="0"),
    Column("package_registry_access_level", String(16), nullable=False, server_default="enabled"),
    Column("creator_id", Integer, ForeignKey("users.id"), nullable=True),
    *_timestamps(),
    **AUTOINCREMENT,
)

# One table for group and project members: source is either a namespace or a project.
members = Table(
    "members",
    metadata,
    _id(),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("namespace_id", Integer, ForeignKey("namespaces.id"), nullable=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=True),
    Column("access_level", SmallInteger, nullable=False),
    Column("expires_at", Date, nullable=True),
    *_timestamps(),
    UniqueConstraint("user_id", "namespace_id", "project_id"),
    Index("ix_members_project", "project_id", "user_id"),
    Index("ix_members_namespace", "namespace_id", "user_id"),
    **AUTOINCREMENT,
)

# Personal access tokens; a project access token is a PAT of a bot user who is a member
# of the project, exactly as in GitLab.
personal_access_tokens = Table(
    "personal_access_tokens",
    metadata,
    _id(),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("scopes", String(255), nullable=False),  # space separated
    Column("expires_at", Date, nullable=True),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Column("last_used_at", DateTime, nullable=True),
    *_timestamps(),
    **AUTOINCREMENT,
)

deploy_tokens = Table(
    "deploy_tokens",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("username", String(255), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("scopes", String(255), nullable=False),
    Column("expires_at", DateTime, nullable=True),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=True),
    Column("namespace_id", Integer, ForeignKey("namespaces.id"), nullable=True),
    *_timestamps(),
    **AUTOINCREMENT,
)

ci_pipelines = Table(
    "ci_pipelines",
    metadata,
    _id(),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("iid", Integer, nullable=False),
    Column("ref", String(255), nullable=True),
    Column("sha", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("source", String(32), nullable=False, server_default="push"),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    *_timestamps(),
    UniqueConstraint("project_id", "iid"),
    **AUTOINCREMENT,
)

# A CI job token is valid only while its job runs (status "running").
ci_jobs = Table(
    "ci_jobs",
    metadata,
    _id(),
    Column("pipeline_id", Integer, ForeignKey("ci_pipelines.id"), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("finished_at", DateTime, nullable=True),
    *_timestamps(),
    **AUTOINCREMENT,
)

packages = Table(
    "packages",
    metadata,
    _id(),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("version", String(255), nullable=True),
    Column("package_type", SmallInteger, nullable=False),
    Column("status", SmallInteger, nullable=False, server_default="0"),
    Column("creator_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("last_downloaded_at", DateTime, nullable=True),
    # Downloads of its files and archives (beyond-gitlab §7.1, services/download_counts.py)
    Column("download_count", BigInteger, nullable=False, server_default="0"),
    *_timestamps(),
    # Parallel first uploads race on this index: the loser re-reads the winner's row.
    Index(
        "uq_packages_live_name_version",
        "project_id",
        "package_type",
        "name",
        "version",
        unique=True,
        sqlite_where=text("status != 4"),
        postgresql_where=text("status != 4"),
    ),
    Index("ix_packages_project_status_created", "project_id", "status", "created_at"),
    # One per Packages API order_by, so a page walks an index instead of sorting (§11).
    Index("ix_packages_project_created", "project_id", "created_at"),
    Index("ix_packages_project_name", "project_id", "name"),
    Index("ix_packages_project_version", "project_id", "version"),
    Index("ix_packages_project_type", "project_id", "package_type"),
    **AUTOINCREMENT,
)

package_build_infos = Table(
    "package_build_infos",
    metadata,
    _id(),
    Column("package_id", Integer, ForeignKey("packages.id"), nullable=False, index=True),
    Column("pipeline_id", Integer, ForeignKey("ci_pipelines.id"), nullable=False),
    **AUTOINCREMENT,
)

# Content-addressed file bodies: one row per distinct sha256 ever stored.
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("md5", String(32), nullable=False),
    Column("sha1", String(40), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # Where the store put the bytes, when it cannot name them by sha256 (S3 objects get a
    # unique key at upload start); NULL: the location derives from the sha256.
    Column("storage_key", String(1024), nullable=True),
)

package_files = Table(
    "package_files",
    metadata,
    _id(),
    Column("package_id", Integer, ForeignKey("packages.id"), nullable=False),
    Column("file_name", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("file_md5", String(32), nullable=True),
    Column("file_sha1", String(40), nullable=True),
    Column("file_sha256", String(64), ForeignKey("blobs.sha256"), nullable=False, index=True),
    Column("status", SmallInteger, nullable=False, server_default="0"),
    Column("pipeline_id", Integer, ForeignKey("ci_pipelines.id"), nullable=True),
    Column("download_count", BigInteger, nullable=False, server_default="0"),
    *_timestamps(),
    Index("ix_package_files_lookup", "package_id", "file_name", "status"),
    **AUTOINCREMENT,
)

# A package's downloads per UTC day (beyond-gitlab §7.1: .../download_stats).
package_download_days = Table(
    "package_download_days",
    metadata,
    Column("package_id", Integer, ForeignKey("packages.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- registry policies
# (issue 4: cleanup, protection, feature flags, plan limits, scheduling, audit; 0010)

# GitLab's packages_cleanup_policies (spec §9) plus Cargobay's retention rules. A row with
# an active rule has a next_run_at; the scheduler claims it with a conditional UPDATE.
packages_cleanup_policies = Table(
    "packages_cleanup_policies",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("keep_n_duplicated_package_files", String(8), nullable=False, server_default="all"),
    Column("keep_n_latest_versions", Integer, nullable=True),
    Column("remove_older_than_days", Integer, nullable=True),
    Column("remove_not_downloaded_days", Integer, nullable=True),
    Column("keep_pattern", String(255), nullable=False, server_default=""),
    Column("next_run_at", DateTime, nullable=True),
    Column("last_run_at", DateTime, nullable=True),
    *_timestamps(),
    Index("ix_packages_cleanup_policies_next_run_at", "next_run_at"),
)

package_protection_rules = Table(
    "package_protection_rules",
    metadata,
    _id(),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("package_name_pattern", String(255), nullable=False),
    Column("package_type", SmallInteger, nullable=False),
    Column("minimum_access_level_for_push", SmallInteger, nullable=True),
    Column("minimum_access_level_for_delete", SmallInteger, nullable=True),
    *_timestamps(),
    UniqueConstraint(
        "project_id", "package_type", "package_name_pattern", name="uq_package_protection_rules"
    ),
    **AUTOINCREMENT,
)

# Feature flag gates: scope "instance" (scope_id 0), "project" or "namespace". The most
# specific gate wins: project, then the nearest namespace, then the instance.
feature_gates = Table(
    "feature_gates",
    metadata,
    _id(),
    Column("feature", String(64), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("scope_id", Integer, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False),
    *_timestamps(),
    UniqueConstraint("feature", "scope", "scope_id"),
    **AUTOINCREMENT,
)

# GitLab's plan_limits; NULL means "the setting's default" (CARGOBAY_MAX_FILE_SIZE).
plan_limits = Table(
    "plan_limits",
    metadata,
    Column("plan_name", String(32), primary_key=True),
    Column("generic_packages_max_file_size", BigInteger, nullable=True),
    Column("updated_at", DateTime, nullable=False),
)

# Instance-wide scheduled work (the garbage collector): claimed by a conditional UPDATE
# of next_run_at, so one server process runs each due task however many are up.
scheduled_tasks = Table(
    "scheduled_tasks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_run_at", DateTime, nullable=False),
    Column("last_started_at", DateTime, nullable=True),
    Column("last_finished_at", DateTime, nullable=True),
    Column("last_result", Text, nullable=False, server_default=""),
)

# Who did what, when, with which token kind, from where. No foreign keys: events outlive
# the users, projects and tokens they name.
audit_events = Table(
    "audit_events",
    metadata,
    _id(),
    Column("created_at", DateTime, nullable=False),
    Column("author_id", Integer, nullable=True),
    Column("author_name", String(255), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", Integer, nullable=False),
    Column("entity_path", String(1024), nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(255), nullable=True),
    Column("target_details", String(1024), nullable=True),
    Column("token_kind", String(32), nullable=False),
    Column("ip_address", String(64), nullable=True),
    Column("details", Text, nullable=False, server_default="{}"),
    Index("ix_audit_events_entity", "entity_type", "entity_id", "id"),
    Index("ix_audit_events_entity_path", "entity_path"),
    Index("ix_audit_events_created_at", "created_at"),
    **AUTOINCREMENT,
)

# The garbage collector purges rows pending destruction: these find them without a scan.
Index(
    "ix_package_files_pending_destruction",
    package_files.c.status,
    sqlite_where=text("status = 1"),
    postgresql_where=text("status = 1"),
)
Index(
    "ix_packages_pending_destruction",
    packages.c.status,
    sqlite_where=text("status = 4"),
    postgresql_where=text("status = 4"),
)

# ``:id`` paths and usernames are looked up case-insensitively, as GitLab routes them.
Index("ix_projects_full_path_lower", func.lower(projects.c.full_path))
Index("ix_namespaces_full_path_lower", func.lower(namespaces.c.full_path))
Index("ix_users_username_lower", func.lower(users.c.username))
