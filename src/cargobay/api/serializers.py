"""GitLab's JSON entities (spec §7), keys in GitLab's order."""

from __future__ import annotations

from typing import Any

from cargobay.api.responses import gitlab_time
from cargobay.domain.models import PackageFile


def package_file(file: PackageFile) -> dict[str, Any]:
    """API::Entities::PackageFile (F1)."""
    return {
        "id": file.id,
        "package_id": file.package_id,
        "created_at": gitlab_time(file.created_at),
        "file_name": file.file_name,
        "size": file.size,
        "file_md5": file.file_md5,
        "file_sha1": file.file_sha1,
        "file_sha256": file.file_sha256,
    }


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
