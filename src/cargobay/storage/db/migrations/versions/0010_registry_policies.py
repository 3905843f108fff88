"""Registry policies: cleanup policies, package protection rules, feature flag gates,
plan limits, scheduled tasks, the audit log, and indexes the garbage collector uses

Revision ID: 0010
Revises: 0003_blob_storage_key
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003_blob_storage_key"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "packages_cleanup_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "keep_n_duplicated_package_files",
            sa.String(length=8),
            server_default="all",
            nullable=False,
        ),
        sa.Column("keep_n_latest_versions", sa.Integer(), nullable=True),
        sa.Column("remove_older_than_days", sa.Integer(), nullable=True),
        sa.Column("remove_not_downloaded_days", sa.Integer(), nullable=True),
        sa.Column("keep_pattern", sa.String(length=255), server_default="", nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_packages_cleanup_policies_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_packages_cleanup_policies")),
    )
    op.create_index(
        "ix_packages_cleanup_policies_next_run_at", "packages_cleanup_policies", ["next_run_at"]
    )
    op.create_table(
        "package_protection_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("package_name_pattern", sa.String(length=255), nullable=False),
        sa.Column("package_type", sa.SmallInteger(), nullable=False),
        sa.Column("minimum_access_level_for_push", sa.SmallInteger(), nullable=True),
        sa.Column("minimum_access_level_for_delete", sa.SmallInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_package_protection_rules_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_protection_rules")),
        sa.UniqueConstraint(
            "project_id",
            "package_type",
            "package_name_pattern",
            name="uq_package_protection_rules",
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "feature_gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_gates")),
        sa.UniqueConstraint(
            "feature", "scope", "scope_id", name=op.f("uq_feature_gates_feature_scope_scope_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "plan_limits",
        sa.Column("plan_name", sa.String(length=32), nullable=False),
        sa.Column("generic_packages_max_file_size", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("plan_name", name=op.f("pk_plan_limits")),
    )
    op.create_table(
        "scheduled_tasks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=False),
        sa.Column("last_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_tasks")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=255), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("entity_path", sa.String(length=1024), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=255), nullable=True),
        sa.Column("target_details", sa.String(length=1024), nullable=True),
        sa.Column("token_kind", sa.String(length=32), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id", "id"])
    op.create_index("ix_audit_events_entity_path", "audit_events", ["entity_path"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])
    op.create_index(
        "ix_package_files_pending_destruction",
        "package_files",
        ["status"],
        sqlite_where=sa.text("status = 1"),
        postgresql_where=sa.text("status = 1"),
    )
    op.create_index(
        "ix_packages_pending_destruction",
        "packages",
        ["status"],
        sqlite_where=sa.text("status = 4"),
        postgresql_where=sa.text("status = 4"),
    )


def downgrade() -> None:
    op.drop_index("ix_packages_pending_destruction", "packages")
    op.drop_index("ix_package_files_pending_destruction", "package_files")
    op.drop_index("ix_audit_events_created_at", "audit_events")
    op.drop_index("ix_audit_events_entity_path", "audit_events")
    op.drop_index("ix_audit_events_entity", "audit_events")
    op.drop_table("audit_events")
    op.drop_table("scheduled_tasks")
    op.drop_table("plan_limits")
    op.drop_table("feature_gates")
    op.drop_table("package_protection_rules")
    op.drop_index("ix_packages_cleanup_policies_next_run_at", "packages_cleanup_policies")
    op.drop_table("packages_cleanup_policies")
