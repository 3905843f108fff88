"""Enumerations and frozen records shared by services, storage and the API."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


class AccessLevel(enum.IntEnum):
    NO_ACCESS = 0
    GUEST = 10
    REPORTER = 20
    DEVELOPER = 30
    MAINTAINER = 40
    OWNER = 50


class PackageStatus(enum.IntEnum):
    """GitLab's Packages::Package status enum (spec §10), with its integer values."""

    default = 0
    hidden = 1
    processing = 2
    error = 3
    pending_destruction = 4
    deprecated = 5


DISPLAYABLE = (PackageStatus.default, PackageStatus.error, PackageStatus.deprecated)
INSTALLABLE = (PackageStatus.default, PackageStatus.hidden, PackageStatus.deprecated)
DETAILED = (PackageStatus.default, PackageStatus.deprecated)


class FileStatus(enum.IntEnum):
    default = 0
    pending_destruction = 1
    processing = 2
    error = 3


class PackageType(enum.IntEnum):
    """Enum integers matter: ``order_by=type`` sorts by them (spec §11)."""

    maven = 1
    npm = 2
    conan = 3
    nuget = 4
    pypi = 5
    composer = 6
    generic = 7
    golang = 8
    debian = 9
    rubygems = 10
    helm = 11
    terraform_module = 12
    rpm = 13
    ml_model = 14


class Visibility(enum.IntEnum):
    """GitLab's visibility levels; the integers order them."""

    private = 0
    internal = 10
    public = 20


class RegistryAccess(enum.StrEnum):
    """Project setting ``package_registry_access_level``."""

    disabled = "disabled"
    private = "private"
    enabled = "enabled"
    public = "public"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    name: str
    is_admin: bool
    state: str
    bot: bool = False

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    namespace_id: int
    name: str
    path: str
    full_path: str
    visibility: Visibility
    registry_access: RegistryAccess
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Package:
    id: int
    project_id: int
    name: str
    version: str | None
    package_type: PackageType
    status: PackageStatus
    created_at: datetime
    updated_at: datetime
    last_downloaded_at: datetime | None


@dataclass(frozen=True, slots=True)
class PackageFile:
    id: int
    package_id: int
    file_name: str
    size: int
    file_md5: str | None
    file_sha1: str | None
    file_sha256: str
    status: FileStatus
    created_at: datetime
    updated_at: datetime
    pipeline_id: int | None = None
    # Where the blob store keeps the bytes, when it cannot derive that from the sha256
    # (set by the queries that resolve a download).
    blob_key: str | None = None


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class DeployToken:
    id: int
    name: str
    username: str
    scopes: frozenset[str]
    project_id: int | None
    namespace_id: int | None


@dataclass(frozen=True, slots=True)
class Job:
    """A running CI job; its token acts as ``user`` within ``project_id``."""

    id: int
    project_id: int
    pipeline_id: int
    user_id: int | None
