"""The pure rules of domain/ as tables: names, duplicates, cleanup plans, permissions.
(The HTTP-level tests check the same rules through the API; these say them directly.)"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cargobay.domain.cleanup import (
    DUPLICATE_FILE,
    NOT_DOWNLOADED,
    NOT_LATEST,
    OLDER_THAN,
    FileRow,
    PackageRow,
    Policy,
    plan,
)
from cargobay.domain.duplicates import InvalidRegex, compile_exception_regex, duplicate_allowed
from cargobay.domain.models import (
    AccessLevel,
    DeployToken,
    Job,
    Project,
    RegistryAccess,
    User,
    Visibility,
)
from cargobay.domain.names import (
    base_name,
    decoded_path,
    is_valid_path,
    parse_coordinates,
    stored_file_name,
)
from cargobay.domain.permissions import project_abilities
from cargobay.domain.principal import ANONYMOUS, Principal
from cargobay.errors import CargobayError

# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "version", "path", "stored"),
    [
        ("tool", "1.0.0", "tool.tar.gz", "tool.tar.gz"),
        ("tool", "1.0.0", "my+file.tar.gz", "my+file.tar.gz"),  # raw without a path
        ("tool", "1.0.0", "dir/sub/f.txt", "dir%2Fsub%2Ff.txt"),
        ("my.pkg_1+x-y", "v1_2+b.3", "a~b@c", "a~b@c"),
    ],
)
def test_valid_coordinates(name: str, version: str, path: str, stored: str) -> None:
    assert parse_coordinates(name, version, path).stored_name == stored


@pytest.mark.parametrize(
    ("name", "version", "path", "errors"),
    [
        ("to ol", "1.0", "f", ["package_name is invalid"]),
        ("..", "1.0", "f", ["package_name should be a valid file path"]),
        ("tool", "1..0", "f", ["package_version is invalid"]),
        ("tool", "1.0", "../f", ["path should be a valid file path"]),
        ("tool", "1.0", "a//f", ["path should be a valid file path"]),
        ("tool", "1.0", "~f", ["file_name is invalid"]),
        ("tool", "1.0", "f@", ["file_name is invalid"]),
        ("tool", "1.0", "..", ["file_name should be a valid file path"]),
        ("a b", "1 0", "f f", ["package_name is invalid", "package_version is invalid"]),
    ],
)
def test_invalid_coordinates(name: str, version: str, path: str, errors: list[str]) -> None:
    with pytest.raises(CargobayError) as refused:
        parse_coordinates(name, version, path)
    message = refused.value.body["error"]
    assert all(e in message for e in errors), message


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("acme", True),
        ("a.b_c-d", True),
        ("-acme", False),
        ("acme.git", False),
        ("acme.atom", False),
        ("ac me", False),
        ("a" * 256, False),
    ],
)
def test_namespace_paths(path: str, valid: bool) -> None:
    assert is_valid_path(path) is valid


@pytest.mark.parametrize(
    "path,file_name",
    [(None, "tool.tar.gz"), (None, "my+file@1.tgz"), ("a/b", "c.bin"), ("my dir/ü", "it's.tgz")],
)
def test_a_stored_name_decodes_to_its_path_and_base_name(path: str | None, file_name: str) -> None:
    stored = stored_file_name(path, file_name)
    assert decoded_path(stored) == (f"{path}/{file_name}" if path else file_name)
    assert base_name(stored) == file_name


def test_stored_file_name_escapes_like_encode_uri_component() -> None:
    assert stored_file_name("a b", "c(1)!.txt") == "a%20b%2Fc(1)!.txt"


# ---------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    ("allowed", "regex", "name", "version", "expected"),
    [
        (True, "", "tool", "1.0", True),
        (False, "", "tool", "1.0", False),
        (True, "tool", "tool", "1.0", False),  # an exception inverts the setting
        (False, "tool", "tool", "1.0", True),
        (False, ".*-SNAPSHOT", "tool", "1.0-SNAPSHOT", True),  # or the version matches
        (False, "too", "tool", "1.0", False),  # the whole name, not a part
        (False, "a|tool", "tool", "1.0", True),  # a true full match of each alternative
    ],
)
def test_duplicate_allowed(
    allowed: bool, regex: str, name: str, version: str, expected: bool
) -> None:
    assert duplicate_allowed(allowed, regex, name, version) is expected


def test_an_invalid_exception_regex_is_refused() -> None:
    with pytest.raises(InvalidRegex):
        compile_exception_regex("(")


# ---------------------------------------------------------------- cleanup plans

NOW = datetime(2026, 12, 1, 12, 0)


def _package(id: int, name: str, days_old: int, downloaded: int | None = None) -> PackageRow:
    last = NOW - timedelta(days=downloaded) if downloaded is not None else None
    return PackageRow(id, name, f"{id}.0", NOW - timedelta(days=days_old), last)


PACKAGES = [_package(1, "a", 40), _package(2, "a", 20, downloaded=1), _package(3, "a", 5)]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Policy(), []),
        (Policy(keep_n_latest_versions=2), [(1, NOT_LATEST)]),
        (Policy(keep_n_latest_versions=3), []),
        (Policy(remove_older_than_days=30), [(1, OLDER_THAN)]),
        (Policy(remove_not_downloaded_days=10), [(1, NOT_DOWNLOADED)]),
        (
            Policy(keep_n_latest_versions=1, remove_older_than_days=10),
            [(1, OLDER_THAN), (2, OLDER_THAN)],
        ),
        (Policy(remove_older_than_days=1, keep_pattern="a"), []),  # the pattern keeps all
    ],
)
def test_package_removals(policy: Policy, expected: list[tuple[int, str]]) -> None:
    assert [(r.package_id, r.reason) for r in plan(policy, PACKAGES, [], NOW)] == expected


def test_duplicate_files_keep_the_newest() -> None:
    files = [FileRow(i, 3, "f.bin") for i in (10, 11, 12)] + [FileRow(13, 3, "g.bin")]
    removals = plan(Policy(keep_n_duplicated_package_files="1"), PACKAGES, files, NOW)
    assert [(r.file_id, r.reason) for r in removals] == [(10, DUPLICATE_FILE), (11, DUPLICATE_FILE)]


def test_a_delete_protected_package_stays() -> None:
    protected = PackageRow(1, "a", "1.0", NOW - timedelta(days=99), None, delete_protected=True)
    assert plan(Policy(remove_older_than_days=1), [protected], [], NOW) == []


# ---------------------------------------------------------------- permissions


def _project(visibility: Visibility, registry: RegistryAccess = RegistryAccess.enabled) -> Project:
    return Project(1, 1, "p", "p", "g/p", visibility, registry, NOW)


USER = Principal(user=User(7, "u", "U", False, "active"), scopes=frozenset({"api"}))
ADMIN = Principal(user=User(8, "root", "R", True, "active"), scopes=frozenset({"api"}))
OTHER_JOB = Principal(user=USER.user, job=Job(1, 99, 1, 7), scopes=frozenset({"api"}))
DEPLOY_READ = Principal(
    deploy_token=DeployToken(1, "d", "d", frozenset({"read_package_registry"}), 1, None)
)

# (principal, role, project visibility, registry access, deploy token covers,
#  (read_project, read_package, create_package, destroy_package))
PERMISSIONS = [
    (ANONYMOUS, 0, Visibility.public, RegistryAccess.enabled, False, (True, True, False, False)),
    (ANONYMOUS, 0, Visibility.private, RegistryAccess.enabled, False, (False, False, False, False)),
    (ANONYMOUS, 0, Visibility.private, RegistryAccess.public, False, (True, True, False, False)),
    (ANONYMOUS, 0, Visibility.public, RegistryAccess.disabled, False, (True, False, False, False)),
    (USER, 0, Visibility.internal, RegistryAccess.enabled, False, (True, True, False, False)),
    (USER, 0, Visibility.internal, RegistryAccess.private, False, (True, False, False, False)),
    (
        USER,
        AccessLevel.GUEST,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (True, False, False, False),
    ),
    (
        USER,
        AccessLevel.REPORTER,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (True, True, False, False),
    ),
    (
        USER,
        AccessLevel.DEVELOPER,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (True, True, True, False),
    ),
    (
        USER,
        AccessLevel.MAINTAINER,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (True, True, True, True),
    ),
    (
        USER,
        AccessLevel.MAINTAINER,
        Visibility.private,
        RegistryAccess.disabled,
        False,
        (True, False, False, False),
    ),
    (ADMIN, 0, Visibility.private, RegistryAccess.enabled, False, (True, True, True, True)),
    (
        OTHER_JOB,
        AccessLevel.MAINTAINER,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (False, False, False, False),
    ),
    (DEPLOY_READ, 0, Visibility.private, RegistryAccess.enabled, True, (True, True, False, False)),
    (
        DEPLOY_READ,
        0,
        Visibility.private,
        RegistryAccess.enabled,
        False,
        (False, False, False, False),
    ),
]


@pytest.mark.parametrize(
    ("principal", "role", "visibility", "registry", "covers", "expected"), PERMISSIONS
)
def test_project_abilities(
    principal: Principal,
    role: int,
    visibility: Visibility,
    registry: RegistryAccess,
    covers: bool,
    expected: tuple[bool, bool, bool, bool],
) -> None:
    can = project_abilities(
        _project(visibility, registry),
        principal,
        access_level=role,
        deploy_token_covers=covers,
        guests_can_pull=False,
    )
    assert (can.read_project, can.read_package, can.create_package, can.destroy_package) == expected


def test_guests_may_pull_when_the_setting_says_so() -> None:
    project = _project(Visibility.private)
    for guests_can_pull, expected in ((False, False), (True, True)):
        can = project_abilities(
            project,
            USER,
            access_level=AccessLevel.GUEST,
            deploy_token_covers=False,
            guests_can_pull=guests_can_pull,
        )
        assert can.read_package is expected
