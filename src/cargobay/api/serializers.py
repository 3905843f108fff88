"""GitLab's JSON entities (spec §7), keys in GitLab's order."""

from __future__ import annotations

from typing import Any

from cargobay.api.responses import gitlab_time
from cargobay.domain.models import DETAILED, PackageFile, PackageStatus, PackageType


def package_file(
    file: PackageFile, pipelines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """API::Entities::PackageFile (F1). md5 and sha1 are filled in for generic files too
    (GitLab leaves them null; spec §0 deliberate choice)."""
    entity: dict[str, Any] = {
        "id": file.id,
        "package_id": file.package_id,
        "created_at": gitlab_time(file.created_at),
        "file_name": file.file_name,
        "size": file.size,
        "file_md5": file.file_md5,
        "file_sha1": file.file_sha1,
        "file_sha256": file.file_sha256,
    }
    if pipelines:
        entity["pipelines"] = pipelines
    return entity


def package_file_record(file: PackageFile, project_id: int) -> dict[str, Any]:
    """The raw package-file row GitLab returns for ``select=package_file`` (spec §7.4)."""
    return {
        "id": file.id,
        "package_id": file.package_id,
        "created_at": gitlab_time(file.created_at),
        "updated_at": gitlab_time(file.updated_at),
        "size": file.size,
        "file_store": 1,
        "file_md5": file.file_md5,
        "file_sha1": file.file_sha1,
        "file_name": file.file_name,
        "file": {"url": f"/{file.file_sha256[:2]}/{file.file_sha256[2:4]}/{file.file_sha256}"},
        "file_sha256": file.file_sha256,
        "verification_retry_at": None,
        "verified_at": None,
        "verification_failure": None,
        "verification_retry_count": None,
        "verification_checksum": None,
        "verification_state": 0,
        "verification_started_at": None,
        "status": file.status.name,
        "file_final_path": None,
        "project_id": project_id,
        "new_file_path": None,
    }


def pipeline(row: Any, base_url: str, project_path: str) -> dict[str, Any]:
    """Package::Pipeline (Ci::PipelineBasic plus its user)."""
    user = None
    if row["user_id_"] is not None:
        user = {
            "id": row["user_id_"],
            "username": row["username"],
            "name": row["user_name"],
            "state": row["user_state"],
            "locked": False,
            "avatar_url": None,
            "web_url": f"{base_url}/{row['username']}",
        }
    return {
        "id": row["id"],
        "iid": row["iid"],
        "project_id": row["project_id"],
        "sha": row["sha"],
        "ref": row["ref"],
        "status": row["status"],
        "source": row["source"],
        "created_at": gitlab_time(row["created_at"]),
        "updated_at": gitlab_time(row["updated_at"]),
        "web_url": f"{base_url}/{project_path}/-/pipelines/{row['id']}",
        "user": user,
    }


def package(
    row: Any,
    *,
    base_url: str,
    project_path: str,
    can_destroy: bool,
    last_pipeline: Any = None,
    in_group: bool = False,
    project_readable: bool = True,
) -> dict[str, Any]:
    """API::Entities::Package (spec §7.1), keys in GitLab's order."""
    status = PackageStatus(row.status)
    links: dict[str, str] = {}
    if status in DETAILED:
        links["web_path"] = f"/{project_path}/-/packages/{row.id}"
    if can_destroy:
        links["delete_api_path"] = f"{base_url}/api/v4/projects/{row.project_id}/packages/{row.id}"
    entity: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "package_type": PackageType(row.package_type).name,
        "status": status.name,
        "_links": links,
        "created_at": gitlab_time(row.created_at),
        "last_downloaded_at": gitlab_time(row.last_downloaded_at),
    }
    if in_group:
        entity["project_id"] = row.project_id
        if project_readable:
            entity["project_path"] = project_path
    entity["tags"] = []
    if last_pipeline is not None:
        entity["pipeline"] = pipeline(last_pipeline, base_url, project_path)
        entity["pipelines"] = []  # deprecated field: always rendered empty (spec §7.1)
    return entity


def package_version(
    row: Any, *, base_url: str, project_path: str, last_pipeline: Any
) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": row.id,
        "version": row.version,
        "created_at": gitlab_time(row.created_at),
        "tags": [],
    }
    if last_pipeline is not None:
        entity["pipeline"] = pipeline(last_pipeline, base_url, project_path)
    return entity
