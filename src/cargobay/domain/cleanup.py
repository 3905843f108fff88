"""What a project's cleanup policy removes (spec §9 plus Cargobay's retention rules).
Pure: the same function answers the dry-run preview and drives the real run, so the
preview lists exactly what a run started at the same moment removes.

GitLab's rule, ``keep_n_duplicated_package_files``: among the files of one package that
share a file name, keep the N newest (by id) and remove the rest.

Retention rules, per package name (versions are packages):
- ``remove_older_than_days`` removes versions created more than N days ago;
- ``remove_not_downloaded_days`` removes versions not downloaded for N days (a version
  never downloaded counts from its creation);
- ``keep_n_latest_versions`` keeps the N newest versions of each name. Alone, it removes
  every older version; beside an age rule it only protects, as in GitLab's container
  cleanup policies: "remove what is older than 90 days, but always keep the 5 newest".
- ``keep_pattern`` (RE2, matched against the whole name or the whole version) protects
  matching packages from everything the policy does. So does a protection rule with a
  minimum access level for delete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cargobay.domain.duplicates import compile_exception_regex

KEEP_N_DUPLICATED = ("all", "1", "10", "20", "30", "40", "50")
MAX_KEEP_PATTERN_LENGTH = 255

DUPLICATE_FILE = "duplicate_file"
NOT_LATEST = "not_in_latest_versions"
OLDER_THAN = "older_than"
NOT_DOWNLOADED = "not_downloaded"


@dataclass(frozen=True, slots=True)
class Policy:
    keep_n_duplicated_package_files: str = "all"
    keep_n_latest_versions: int | None = None
    remove_older_than_days: int | None = None
    remove_not_downloaded_days: int | None = None
    keep_pattern: str = ""

    @property
    def keep_n_duplicated(self) -> int | None:
        value = self.keep_n_duplicated_package_files
        return None if value == "all" else int(value)

    @property
    def removes_packages(self) -> bool:
        return any(
            v is not None
            for v in (
                self.keep_n_latest_versions,
                self.remove_older_than_days,
                self.remove_not_downloaded_days,
            )
        )

    @property
    def active(self) -> bool:
        """Whether a run can remove anything (otherwise the policy is not scheduled)."""
        return self.keep_n_duplicated is not None or self.removes_packages


@dataclass(frozen=True, slots=True)
class PackageRow:
    id: int
    name: str
    version: str | None
    created_at: datetime
    last_downloaded_at: datetime | None
    delete_protected: bool = False


@dataclass(frozen=True, slots=True)
class FileRow:
    id: int
    package_id: int
    file_name: str


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a run removes: a whole package (``file_id`` None) or one file."""

    package_id: int
    name: str
    version: str | None
    reason: str
    file_id: int | None = None
    file_name: str | None = None


def kept_by_pattern(pattern: str, package: PackageRow) -> bool:
    if not pattern:
        return False
    regex = compile_exception_regex(pattern)
    return any(
        value is not None and regex.fullmatch(value) is not None
        for value in (package.name, package.version)
    )


def plan(
    policy: Policy, packages: Sequence[PackageRow], files: Sequence[FileRow], now: datetime
) -> list[Removal]:
    """Packages to remove, then files of the surviving packages to remove. ``packages``
    are the project's installable generic packages; ``files`` their live files (only
    those in groups larger than keep_n_duplicated need be passed)."""
    keep = policy.keep_pattern
    candidates = [p for p in packages if not p.delete_protected and not kept_by_pattern(keep, p)]
    removals = _packages_to_remove(policy, candidates, now)
    gone = {r.package_id for r in removals}
    keep_n = policy.keep_n_duplicated
    if keep_n is not None:
        by_id = {p.id: p for p in candidates if p.id not in gone}
        groups: dict[tuple[int, str], list[FileRow]] = defaultdict(list)
        for file in files:
            if file.package_id in by_id:
                groups[(file.package_id, file.file_name)].append(file)
        for (package_id, _name), group in sorted(groups.items()):
            package = by_id[package_id]
            for file in sorted(group, key=lambda f: f.id, reverse=True)[keep_n:]:
                removals.append(
                    Removal(
                        package.id,
                        package.name,
                        package.version,
                        DUPLICATE_FILE,
                        file_id=file.id,
                        file_name=file.file_name,
                    )
                )
    return sorted(removals, key=lambda r: (r.package_id, r.file_id or 0))


def _packages_to_remove(
    policy: Policy, candidates: Sequence[PackageRow], now: datetime
) -> list[Removal]:
    if not policy.removes_packages:
        return []
    latest: set[int] = set()
    if policy.keep_n_latest_versions is not None:
        by_name: dict[str, list[PackageRow]] = defaultdict(list)
        for package in candidates:
            by_name[package.name].append(package)
        for versions in by_name.values():
            newest = sorted(versions, key=lambda p: (p.created_at, p.id), reverse=True)
            latest.update(p.id for p in newest[: policy.keep_n_latest_versions])
    age_rules = policy.remove_older_than_days, policy.remove_not_downloaded_days
    removals = []
    for package in candidates:
        if package.id in latest:
            continue
        reason = _age_reason(policy, package, now)
        if reason is None and all(rule is None for rule in age_rules):
            reason = NOT_LATEST  # keep_n_latest_versions alone: every older version goes
        if reason is not None:
            removals.append(Removal(package.id, package.name, package.version, reason))
    return removals


def _age_reason(policy: Policy, package: PackageRow, now: datetime) -> str | None:
    if policy.remove_older_than_days is not None and package.created_at < now - timedelta(
        days=policy.remove_older_than_days
    ):
        return OLDER_THAN
    if policy.remove_not_downloaded_days is not None:
        last_used = package.last_downloaded_at or package.created_at
        if last_used < now - timedelta(days=policy.remove_not_downloaded_days):
            return NOT_DOWNLOADED
    return None
