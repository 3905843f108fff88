"""domain.roles: the effective role and what members see, as tables."""

from __future__ import annotations

import pytest

from cargobay.domain.roles import Memberships, namespace_paths, path_and_ancestors

# (project id, project path, namespace path, role), as storage reads them
HELD = Memberships.of(
    [
        (None, None, "a", 10),
        (None, None, "a/b", 30),
        (None, None, "a", 20),  # the higher of two rows on one namespace counts
        (7, "c/d/p", None, 40),
        (None, None, "ab", 50),
    ]
)


@pytest.mark.parametrize(
    ("project_id", "path", "level"),
    [
        (1, "a/p", 20),
        (2, "a/b/p", 30),
        (3, "a/b/c/p", 30),
        (7, "c/d/p", 40),
        (8, "c/d/q", 0),
        (9, "abc/p", 0),
        (10, "ab/p", 50),
        (11, "z/p", 0),
    ],
)
def test_project_level(project_id: int, path: str, level: int) -> None:
    assert HELD.project_level(project_id, path) == level


@pytest.mark.parametrize(
    ("path", "level"),
    [("a", 20), ("a/b", 30), ("a/b/c", 30), ("ab", 50), ("abc", 0), ("c", 0), ("c/d", 0)],
)
def test_group_level(path: str, level: int) -> None:
    assert HELD.group_level(path) == level


@pytest.mark.parametrize(
    ("path", "inside"), [("c", True), ("c/d", True), ("c/d/p", False), ("a", True), ("z", False)]
)
def test_inside(path: str, inside: bool) -> None:
    assert HELD.inside(path) is inside


def test_group_paths() -> None:
    assert HELD.group_paths() == {"a", "a/b", "ab", "c/d"}


@pytest.mark.parametrize(
    ("path", "ancestors", "above"),
    [("a", ["a"], []), ("a/b/c", ["a", "a/b", "a/b/c"], ["a", "a/b"])],
)
def test_paths(path: str, ancestors: list[str], above: list[str]) -> None:
    assert (path_and_ancestors(path), namespace_paths(path)) == (ancestors, above)
