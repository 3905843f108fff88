"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:17:32.000550
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("full_path", sa.String(length=1024), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("visibility", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "generic_duplicates_allowed", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column(
            "generic_duplicate_exception_regex",
            sa.String(length=255),
            server_default="",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["namespaces.id"], name=op.f("fk_namespaces_parent_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("full_path", name=op.f("uq_namespaces_full_path")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("bot", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("namespace_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_users_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=True),
        sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_personal_access_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_personal_access_tokens_token_digest")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_access_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("full_path", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("visibility", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "package_registry_access_level",
            sa.String(length=16),
            server_default="enabled",
            nullable=False,
        ),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_projects_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_projects_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("full_path", name=op.f("uq_projects_full_path")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "ci_pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("iid", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), server_default="push", nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_ci_pipelines_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ci_pipelines_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_pipelines")),
        sa.UniqueConstraint("project_id", "iid", name=op.f("uq_ci_pipelines_project_id_iid")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "deploy_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("namespace_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_deploy_tokens_namespace_id_namespaces"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_deploy_tokens_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deploy_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_deploy_tokens_token_digest")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("access_level", sa.SmallInteger(), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_members_namespace_id_namespaces")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_members_project_id_projects")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint(
            "user_id",
            "namespace_id",
            "project_id",
            name=op.f("uq_members_user_id_namespace_id_project_id"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index("ix_members_namespace", ["namespace_id", "user_id"], unique=False)
        batch_op.create_index("ix_members_project", ["project_id", "user_id"], unique=False)

    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("package_type", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("last_downloaded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_packages_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_packages_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_packages_project_status_created",
            ["project_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_packages_live_name_version",
            ["project_id", "package_type", "name", "version"],
            unique=True,
            sqlite_where=sa.text("status != 4"),
            postgresql_where=sa.text("status != 4"),
        )

    op.create_table(
        "ci_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["ci_pipelines.id"], name=op.f("fk_ci_jobs_pipeline_id_ci_pipelines")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_ci_jobs_project_id_projects")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_ci_jobs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_jobs")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_ci_jobs_token_digest")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "package_build_infos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_package_build_infos_package_id_packages")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["ci_pipelines.id"],
            name=op.f("fk_package_build_infos_pipeline_id_ci_pipelines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_build_infos")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("package_build_infos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_package_build_infos_package_id"), ["package_id"], unique=False
        )

    op.create_table(
        "package_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_md5", sa.String(length=32), nullable=True),
        sa.Column("file_sha1", sa.String(length=40), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_sha256"], ["blobs.sha256"], name=op.f("fk_package_files_file_sha256_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_package_files_package_id_packages")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["ci_pipelines.id"],
            name=op.f("fk_package_files_pipeline_id_ci_pipelines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_files")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("package_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_package_files_file_sha256"), ["file_sha256"], unique=False
        )
        batch_op.create_index(
            "ix_package_files_lookup", ["package_id", "file_name", "status"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("package_files", schema=None) as batch_op:
        batch_op.drop_index("ix_package_files_lookup")
        batch_op.drop_index(batch_op.f("ix_package_files_file_sha256"))

    op.drop_table("package_files")
    with op.batch_alter_table("package_build_infos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_package_build_infos_package_id"))

    op.drop_table("package_build_infos")
    op.drop_table("ci_jobs")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_packages_live_name_version",
            sqlite_where=sa.text("status != 4"),
            postgresql_where=sa.text("status != 4"),
        )
        batch_op.drop_index("ix_packages_project_status_created")

    op.drop_table("packages")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_project")
        batch_op.drop_index("ix_members_namespace")

    op.drop_table("members")
    op.drop_table("deploy_tokens")
    op.drop_table("ci_pipelines")
    op.drop_table("projects")
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_access_tokens_user_id"))

    op.drop_table("personal_access_tokens")
    op.drop_table("users")
    op.drop_table("namespaces")
    op.drop_table("blobs")
