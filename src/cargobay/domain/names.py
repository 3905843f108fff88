"""Validation of package names, versions, file names and directory paths (spec §4).

Ruby's ``\\A``/``\\z`` become ``fullmatch``; ``\\w`` is ASCII-only in Ruby, hence re.ASCII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from cargobay.domain.versions import KEYWORDS
from cargobay.errors import bad_params

# §4.1 generic_package_name_regex (= maven_file_name_regex)
PACKAGE_NAME = re.compile(r"[A-Za-z0-9._+-]+")
# §4.2 current maven_version_regex: no ".." anywhere
PACKAGE_VERSION = re.compile(r"(?!.*\.\.)[\w+.-]+", re.ASCII)
# §4.3 newest behaviour: "~" and "@" allowed, but not first or last (exact regex unverified)
FILE_NAME = re.compile(r"(?![~@])[A-Za-z0-9._+~@-]+(?<![~@])")
# §4.5 Gitlab::PathTraversal: ".", "..", or ".." as a path component
TRAVERSAL = re.compile(r"\A(\.{1,2})\Z|\A\.\.[/\\]|[/\\]\.\.\Z|[/\\]\.\.[/\\]")

MAX_NAME_LENGTH = 255
MAX_PATH_LENGTH = 1024


def is_valid_file_path(value: str) -> bool:
    """GitLab's ``file_path`` validator, applied to the already URL-decoded value."""
    return not (
        TRAVERSAL.search(value) or "\n" in value or value.startswith(("/", "\\")) or "\0" in value
    )


def stored_file_name(path: str | None, file_name: str) -> str:
    """The name a file is stored, listed and looked up under (§4.4).

    With a directory path GitLab stores ``URI.encode_uri_component(path/file)``; without
    one the name is stored raw (``my+file.tar.gz`` stays as it is).
    """
    if not path:
        return file_name
    return quote(f"{path}/{file_name}", safe="!~*'()")


def decoded_path(stored_name: str) -> str:
    """The path a stored name stands for: ``dir%2Fsub%2Ff.txt`` is ``dir/sub/f.txt``. A
    name stored raw holds no ``%`` (FILE_NAME), so decoding never changes it."""
    return unquote(stored_name)


def base_name(stored_name: str) -> str:
    """The last part of the decoded path: what a download is saved as."""
    return decoded_path(stored_name).rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class FileCoordinates:
    """Where a generic file lives: package name, version and stored file name."""

    package_name: str
    package_version: str
    path: str | None
    file_name: str

    @property
    def stored_name(self) -> str:
        return stored_file_name(self.path, self.file_name)


def parse_coordinates(package_name: str, version: str, path_and_file: str) -> FileCoordinates:
    """Validate decoded URL parts; raise the Grape-shaped 400 naming every bad parameter.

    ``path_and_file`` is everything after the version, already percent-decoded, so
    ``a%2Fb%2Ff.txt`` (the stored form a file listing shows) and ``a/b/f.txt`` name the
    same file: the loop in the docs that downloads a whole package relies on it.
    """
    path, _, file_name = path_and_file.rpartition("/")
    errors = _version_errors(package_name, version)
    if path and (
        len(path_and_file) > MAX_PATH_LENGTH
        or not is_valid_file_path(path)
        or "" in path.split("/")
    ):
        errors.append("path should be a valid file path")
    if len(file_name) > MAX_NAME_LENGTH or not FILE_NAME.fullmatch(file_name):
        errors.append("file_name is invalid")
    elif not is_valid_file_path(file_name):
        errors.append("file_name should be a valid file path")
    if errors:
        raise bad_params(*errors)
    return FileCoordinates(package_name, version, path or None, file_name)


def parse_version(package_name: str, version: str, *, keywords: bool = False) -> tuple[str, str]:
    """The package name and version of a two-segment generic URL (Cargobay's version
    resource, docs/extensions.md), validated as an upload validates them; ``keywords``:
    ``~latest`` and ``~newest`` are versions too (GET only)."""
    errors = _version_errors(package_name, "0" if keywords and version in KEYWORDS else version)
    if errors:
        raise bad_params(*errors)
    return package_name, version


def _version_errors(package_name: str, version: str) -> list[str]:
    errors: list[str] = []
    if len(package_name) > MAX_NAME_LENGTH or not PACKAGE_NAME.fullmatch(package_name):
        errors.append("package_name is invalid")
    elif not is_valid_file_path(package_name):
        errors.append("package_name should be a valid file path")
    if len(version) > MAX_NAME_LENGTH or not PACKAGE_VERSION.fullmatch(version):
        errors.append("package_version is invalid")
    return errors


# GitLab's namespace/project path rule (Gitlab::PathRegex): letters, digits, "_", "-", ".",
# not starting with "-" and not ending in ".git" or ".atom".
NAMESPACE_PATH = re.compile(r"(?!-)[A-Za-z0-9_.-]+(?<!\.git)(?<!\.atom)")
USERNAME = NAMESPACE_PATH


def is_valid_path(value: str) -> bool:
    return len(value) <= MAX_NAME_LENGTH and NAMESPACE_PATH.fullmatch(value) is not None
