"""Rows become the frozen records of domain.models here, and nowhere else: a column
renamed in tables.py fails in one mapper (and mypy), not in a serializer far away."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Row

from cargobay.domain.models import (
    Account,
    DeployToken,
    DeployTokenEntry,
    FileStatus,
    JobDetails,
    Member,
    Namespace,
    Package,
    PackageFile,
    PackageStatus,
    PackageType,
    PersonalAccessToken,
    Project,
    ProjectAccessToken,
    ProtectionRule,
    RegistryAccess,
    User,
    Visibility,
)

RowLike = Row[Any] | Mapping[str, Any]


def mapping(row: RowLike) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping if isinstance(row, Row) else row)


# The columns the records below are made of (a query that selects only these is enough).
USER_COLUMNS = ("id", "username", "name", "is_admin", "state", "bot")
PROJECT_COLUMNS = (
    "id",
    "namespace_id",
    "name",
    "path",
    "full_path",
    "visibility",
    "package_registry_access_level",
    "created_at",
)


def labelled(table: Any, prefix: str) -> list[Any]:
    """Every column of ``table``, labelled ``<prefix><name>``."""
    return [column.label(f"{prefix}{column.name}") for column in table.c]


def scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


def to_user(row: RowLike, prefix: str = "") -> User:
    """``prefix``: the row's user columns are labelled ``<prefix><name>``."""
    m = mapping(row)
    return User(
        m[f"{prefix}id"],
        m[f"{prefix}username"],
        m[f"{prefix}name"],
        m[f"{prefix}is_admin"],
        m[f"{prefix}state"],
        m[f"{prefix}bot"],
    )


def to_account(row: RowLike) -> Account:
    m = mapping(row)
    return Account(
        id=m["id"],
        username=m["username"],
        name=m["name"],
        email=m["email"],
        is_admin=m["is_admin"],
        state=m["state"],
        bot=m["bot"],
        password_hash=m["password_hash"],
        namespace_id=m["namespace_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def to_project(row: RowLike) -> Project:
    m = mapping(row)
    return Project(
        id=m["id"],
        namespace_id=m["namespace_id"],
        name=m["name"],
        path=m["path"],
        full_path=m["full_path"],
        visibility=Visibility(m["visibility"]),
        registry_access=RegistryAccess(m["package_registry_access_level"]),
        created_at=m["created_at"],
        description=m.get("description", ""),
        creator_id=m.get("creator_id"),
        updated_at=m.get("updated_at"),
    )


def to_namespace(row: RowLike) -> Namespace:
    m = mapping(row)
    return Namespace(
        id=m["id"],
        kind=m["kind"],
        name=m["name"],
        path=m["path"],
        full_path=m["full_path"],
        parent_id=m["parent_id"],
        visibility=Visibility(m["visibility"]),
        description=m["description"],
        generic_duplicates_allowed=bool(m["generic_duplicates_allowed"]),
        generic_duplicate_exception_regex=m["generic_duplicate_exception_regex"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def to_member(row: RowLike) -> Member:
    m = mapping(row)
    return Member(
        id=m["id"],
        username=m["username"],
        name=m["name"],
        state=m["state"],
        member_id=m["member_id"],
        access_level=m["access_level"],
        member_expires_at=m["member_expires_at"],
        member_created_at=m["member_created_at"],
    )


def _token_fields(m: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": m["id"],
        "user_id": m["user_id"],
        "name": m["name"],
        "scopes": m["scopes"],
        "expires_at": m["expires_at"],
        "revoked": m["revoked"],
        "last_used_at": m["last_used_at"],
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
    }


def to_personal_token(row: RowLike) -> PersonalAccessToken:
    return PersonalAccessToken(**_token_fields(mapping(row)))


def to_project_token(row: RowLike) -> ProjectAccessToken:
    m = mapping(row)
    return ProjectAccessToken(
        **_token_fields(m), access_level=m["access_level"], project_id=m["project_id"]
    )


def to_deploy_token(row: RowLike) -> DeployToken:
    m = mapping(row)
    return DeployToken(
        m["id"], m["name"], m["username"], scopes(m["scopes"]), m["project_id"], m["namespace_id"]
    )


def to_deploy_token_entry(row: RowLike) -> DeployTokenEntry:
    m = mapping(row)
    return DeployTokenEntry(
        id=m["id"],
        name=m["name"],
        username=m["username"],
        scopes=m["scopes"],
        expires_at=m["expires_at"],
        revoked=m["revoked"],
        project_id=m["project_id"],
        namespace_id=m["namespace_id"],
    )


def to_job_details(row: RowLike) -> JobDetails:
    m = mapping(row)
    return JobDetails(
        id=m["id"],
        name=m["name"],
        status=m["status"],
        project_id=m["project_id"],
        user_id=m["user_id"],
        pipeline_id=m["pipeline_id"],
        created_at=m["created_at"],
        finished_at=m["finished_at"],
        pipeline_iid=m["pipeline_iid"],
        ref=m["ref"],
        sha=m["sha"],
        pipeline_status=m["pipeline_status"],
        source=m["source"],
        pipeline_created_at=m["pipeline_created_at"],
        pipeline_updated_at=m["pipeline_updated_at"],
    )


def to_package(row: RowLike, prefix: str = "") -> Package:
    """``prefix``: the row's package columns are labelled ``<prefix><name>``."""
    m = mapping(row)
    return Package(
        id=m[f"{prefix}id"],
        project_id=m[f"{prefix}project_id"],
        name=m[f"{prefix}name"],
        version=m[f"{prefix}version"],
        package_type=PackageType(m[f"{prefix}package_type"]),
        status=PackageStatus(m[f"{prefix}status"]),
        created_at=m[f"{prefix}created_at"],
        updated_at=m[f"{prefix}updated_at"],
        last_downloaded_at=m[f"{prefix}last_downloaded_at"],
        download_count=m[f"{prefix}download_count"],
    )


def to_file(row: RowLike, prefix: str = "") -> PackageFile:
    """``prefix``: the row's file columns are labelled ``<prefix><name>``."""
    m = mapping(row)
    return PackageFile(
        id=m[f"{prefix}id"],
        package_id=m[f"{prefix}package_id"],
        file_name=m[f"{prefix}file_name"],
        size=m[f"{prefix}size"],
        file_md5=m[f"{prefix}file_md5"],
        file_sha1=m[f"{prefix}file_sha1"],
        file_sha256=m[f"{prefix}file_sha256"],
        status=FileStatus(m[f"{prefix}status"]),
        created_at=m[f"{prefix}created_at"],
        updated_at=m[f"{prefix}updated_at"],
        pipeline_id=m[f"{prefix}pipeline_id"],
        download_count=m[f"{prefix}download_count"],
        blob_key=m.get("storage_key"),
    )


def to_rule(row: RowLike) -> ProtectionRule:
    m = mapping(row)
    return ProtectionRule(
        id=m["id"],
        project_id=m["project_id"],
        package_name_pattern=m["package_name_pattern"],
        package_type=m["package_type"],
        minimum_access_level_for_push=m["minimum_access_level_for_push"],
        minimum_access_level_for_delete=m["minimum_access_level_for_delete"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )
