"""Enumerations and frozen records shared by services, storage and the API."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime


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
# Every status but pending_destruction: the packages the partial unique index covers, and
# the ones the web interface gives a page and a delete button (hidden and failed ones
# included, which the Packages API answers 404, spec §10).
LIVE = tuple(s for s in PackageStatus if s is not PackageStatus.pending_destruction)


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
    # Read by the management API; the download path's one-statement lookup leaves them out.
    description: str = ""
    creator_id: int | None = None
    updated_at: datetime | None = None


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
    download_count: int = 0  # of its files and archives (services/download_counts.py)


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
    download_count: int = 0
    # Where the blob store keeps the bytes, when it cannot derive that from the sha256
    # (set by the queries that resolve a download).
    blob_key: str | None = None


def newest_per_name(files: Iterable[PackageFile]) -> list[PackageFile]:
    """The file each stored name serves (the newest of same-name uploads, spec §3 step
    7), in name order."""
    newest: dict[str, PackageFile] = {}
    for file in files:
        if file.file_name not in newest or file.id > newest[file.file_name].id:
            newest[file.file_name] = file
    return [newest[name] for name in sorted(newest)]


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
class TokenGrant:
    """What authenticating with a personal (or project) access token reads: the token's
    state and scopes, and its user."""

    token_id: int
    scopes: str  # space separated
    revoked: bool
    expires_at: date | None
    user: User


@dataclass(frozen=True, slots=True)
class Namespace:
    """A group (``kind`` "group") or a user's personal namespace (``kind`` "user")."""

    id: int
    kind: str
    name: str
    path: str
    full_path: str
    parent_id: int | None
    visibility: Visibility
    description: str
    generic_duplicates_allowed: bool
    generic_duplicate_exception_regex: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the management API and the web interface see them (``User`` is the part
    every request needs)."""

    id: int
    username: str
    name: str
    email: str | None
    is_admin: bool
    state: str
    bot: bool
    password_hash: str | None
    namespace_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def user(self) -> User:
        return User(self.id, self.username, self.name, self.is_admin, self.state, self.bot)


@dataclass(frozen=True, slots=True)
class Member:
    """A direct membership with its user's columns: ``id`` is the user's (GitLab's member
    entity is the user, merged with the membership's own ``member_*`` fields)."""

    id: int
    username: str
    name: str
    state: str
    member_id: int
    access_level: int
    member_expires_at: date | None
    member_created_at: datetime


@dataclass(frozen=True, slots=True)
class PersonalAccessToken:
    id: int
    user_id: int
    name: str
    scopes: str  # space separated, in the order granted
    expires_at: date | None
    revoked: bool
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectAccessToken(PersonalAccessToken):
    """A project bot's token, with the bot's role in the project."""

    access_level: int = 0
    project_id: int = 0


@dataclass(frozen=True, slots=True)
class DeployTokenEntry:
    """A deploy token as the management API lists it (``DeployToken``: as it authenticates)."""

    id: int
    name: str
    username: str
    scopes: str  # space separated, in the order granted
    expires_at: datetime | None
    revoked: bool
    project_id: int | None
    namespace_id: int | None


@dataclass(frozen=True, slots=True)
class Job:
    """A running CI job; its token acts as ``user`` within ``project_id``."""

    id: int
    project_id: int
    pipeline_id: int
    user_id: int | None


@dataclass(frozen=True, slots=True)
class ProtectionRule:
    """A package protection rule: who may push or delete packages whose name matches."""

    id: int
    project_id: int
    package_name_pattern: str
    package_type: int
    minimum_access_level_for_push: int | None
    minimum_access_level_for_delete: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JobDetails:
    """A CI job with its pipeline's columns, as the jobs API shows it."""

    id: int
    name: str
    status: str
    project_id: int
    user_id: int | None
    pipeline_id: int
    created_at: datetime
    finished_at: datetime | None
    pipeline_iid: int
    ref: str | None
    sha: str | None
    pipeline_status: str
    source: str
    pipeline_created_at: datetime
    pipeline_updated_at: datetime
